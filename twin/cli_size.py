"""``twin size``: the least value of one parameter at which every target holds, found by a
search whose points run on Dask like a sweep's. Thin: the work is in :mod:`twin.sweep`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from twin.cli_cluster import PointsProgress, cluster_options, slurm_options
from twin.cli_common import LARGE_INPUT, _limits, console, errors, user_errors


@click.command()
@click.argument("size_file")
@click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="its directory")
@cluster_options
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@LARGE_INPUT
@user_errors
def size(
    size_file: str,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    cluster: str,
    catalogue: Path | None,
    quiet: bool,
    large_input: bool,
    **slurm: Any,
) -> None:
    """Find the least value of SIZE_FILE's parameter in its range at which every target
    holds with the chosen confidence over seeds (exponential bracketing, then bisection).
    SIZE_FILE is a file or the name of a shipped one (configs/sizing).

    Every value tried is a configuration of a sweep in --out DIR (DIR/sweep.arrow, points in
    DIR/points, re-used by a second search); the answer and its evidence are in
    DIR/size.json. Exit code 0 with an answer, 1 if no value in the range meets the targets,
    130 on Ctrl-C.
    """
    from twin.interrupts import RunInterrupted, stop_signals
    from twin.model.world import check_policies
    from twin.sweep.catalogue import Catalogue
    from twin.sweep.cluster import open_client
    from twin.sweep.execute import SweepInterrupted
    from twin.sweep.results import check_sweep_dir
    from twin.sweep.size_run import SizeRun
    from twin.sweep.size_spec import read_size

    options = slurm_options(cluster, scheduler, slurm)
    check_sweep_dir(out)
    limits = _limits(large_input)
    spec = read_size(size_file, limits)
    search = SizeRun(spec, Catalogue.of_sweep(out, catalogue), None, [check_policies], limits)
    search.plan([spec.value(spec.low), spec.value(spec.high)])  # both ends valid, before Dask
    with stop_signals(exiting=True):
        try:
            with open_client(workers, scheduler, options) as client, PointsProgress(quiet) as bar:
                search.client, search.progress = client, bar
                answer = search.run(out)
        except SweepInterrupted as stop:
            name = stop.stop.signal_name if isinstance(stop.stop, RunInterrupted) else "SIGINT"
            errors.print(
                f"interrupted by {name}: the points done are kept; `twin size` again re-uses them",
                highlight=False,
            )
            sys.exit(stop.stop.exit_code if isinstance(stop.stop, RunInterrupted) else 130)
    print_answer(spec, answer, out)
    sys.exit(0 if answer.answer is not None else 1)


def print_answer(spec: Any, answer: Any, out: Path) -> None:
    """The answer, the bracket, the warnings and the evidence table."""
    from rich.table import Table

    level = f"{100 * spec.confidence:g}%"
    metrics = list(spec.sweep.metrics)
    table = Table(
        "value",
        "seeds",
        *[f"{escape(m)}\nmean [{level} bound]" for m in metrics],
        "targets",
        title=f"{escape(spec.parameter)}: evidence (one-sided {level} bounds over seeds)",
    )
    for evidence in answer.evidence:
        cells = []
        for name in metrics:
            interval = evidence.intervals.get(name)
            if interval is None or not interval.n:
                cells.append("—")
                continue
            op = next((t.op for t in spec.targets if t.metric == name), None)
            bound = interval.low if op == ">=" else interval.high
            cells.append(
                f"{interval.mean:.4g}" + (f" [{bound:.4g}]" if op and interval.n > 1 else "")
            )
        mark = "[green]hold[/]" if evidence.feasible else "[red]fail[/]"
        if evidence.value == answer.answer:
            mark += " ← answer"
        table.add_row(str(evidence.value), f"{evidence.complete}/{evidence.points}", *cells, mark)
    console.print(table)
    for note in answer.warnings:
        errors.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)
    targets = " and ".join(str(t) for t in spec.targets)
    if answer.answer is None:
        console.print(f"no {escape(spec.parameter)} in the range meets {escape(targets)}")
    else:
        below, found = answer.bracket
        bracket = f" (it fails at {below})" if below is not None else " (the least in the range)"
        console.print(
            f"[bold]{escape(spec.parameter)} = {found}[/] is the least value at which "
            f"{escape(targets)}{bracket}"
        )
    console.print(f"results in {escape(str(out))}/size.json and sweep.arrow", style="dim")
