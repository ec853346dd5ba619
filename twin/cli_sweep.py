"""``twin sweep``: run a sweep file's points on Dask, or summarise a sweep directory.

Thin like the rest of the CLI: the work is in :mod:`twin.sweep`. Libraries are imported
inside the command, so ``twin --help`` loads none of them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from twin.cli import LARGE_INPUT, _limits, console, errors, user_errors


@click.command()
@click.argument("sweep_file", required=False, type=click.Path(path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), help="the sweep directory")
@click.option(
    "--summary",
    "summary_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="print the summary of the sweep in DIR (runs nothing)",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    help="local worker processes (default: one per core)",
)
@click.option("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler instead")
@click.option(
    "--cluster",
    type=click.Choice(["local", "slurm"]),
    default="local",
    show_default=True,
    help="where the workers run",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="SLURM: batch jobs to ask for",
)
@click.option(
    "--cores",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="SLURM: cores (single-threaded workers) per job",
)
@click.option("--memory", default="4GB", show_default=True, help="SLURM: memory per job")
@click.option("--queue", help="SLURM: partition")
@click.option("--account", help="SLURM: account to charge")
@click.option("--walltime", help="SLURM: time limit per job, e.g. 01:00:00")
@click.option(
    "--catalogue",
    type=click.Path(path_type=Path),
    help="keep the points here (shared between sweeps) instead of DIR/points",
)
@click.option("--quiet", "-q", is_flag=True, help="no progress bar and no summary")
@LARGE_INPUT
@user_errors
def sweep(
    sweep_file: Path | None,
    out: Path | None,
    summary_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    cluster: str,
    catalogue: Path | None,
    quiet: bool,
    large_input: bool,
    **slurm: Any,
) -> None:
    """Run every point (configuration × seed) of SWEEP_FILE (a YAML file or a built-in
    sweep's name, see configs/sweeps) into --out DIR, on Dask.

    Each point is an ordinary run directory named by its content address (resolved config,
    seed, twin version): re-running skips finished points and reruns incomplete ones. The
    results are in DIR/sweep.arrow; `twin sweep --summary DIR` prints each configuration's
    metrics as mean ± 95% CI over seeds. Exit code 1 if a point failed, 130 on Ctrl-C.
    """
    from twin.config import TwinUserError

    if summary_dir is not None:
        if sweep_file is not None or out is not None:
            raise click.UsageError("--summary DIR takes no sweep file and no --out")
        _print_summary(summary_dir)
        return
    if sweep_file is None or out is None:
        raise click.UsageError("expected a sweep file and --out DIR (or --summary DIR)")
    if scheduler is not None and cluster != "local":
        raise TwinUserError("--scheduler and --cluster slurm exclude each other")
    failed = _run(
        sweep_file, out, workers, scheduler, cluster, catalogue, quiet, large_input, slurm
    )
    if not quiet:
        _print_summary(out)
    sys.exit(1 if failed else 0)


def _run(
    sweep_file: Path,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    cluster: str,
    shared: Path | None,
    quiet: bool,
    large_input: bool,
    slurm: dict[str, Any],
) -> int:
    """Run the sweep; the number of failed points."""
    from twin.interrupts import RunInterrupted, stop_signals
    from twin.model.world import check_policies
    from twin.sweep.catalogue import Catalogue
    from twin.sweep.cluster import SlurmOptions, open_client
    from twin.sweep.execute import SweepInterrupted, pending, run_points, settle
    from twin.sweep.points import expand
    from twin.sweep.results import check_sweep_dir, write_results
    from twin.sweep.spec import read_sweep

    check_sweep_dir(out)
    limits = _limits(large_input)
    plan = expand(read_sweep(sweep_file, limits), [check_policies], limits)
    catalogue = Catalogue.of_sweep(out, shared)
    options = SlurmOptions(**slurm) if cluster == "slurm" else None
    with stop_signals(exiting=True):
        try:
            if not pending(plan.points, catalogue):  # nothing to run: no cluster to start
                results = run_points(plan.points, None, catalogue, plan.spec.metrics)
            else:
                with open_client(workers, scheduler, options) as client, _ProgressBar(quiet) as bar:
                    results = run_points(plan.points, client, catalogue, plan.spec.metrics, bar)
        except SweepInterrupted as stop:
            done = settle(plan.points, catalogue, plan.spec.metrics, stop.results)
            write_results(out, plan, catalogue, done)  # the cluster is closed: nothing moves
            name = stop.stop.signal_name if isinstance(stop.stop, RunInterrupted) else "SIGINT"
            complete = sum(1 for r in done.values() if r.status == "complete")
            errors.print(
                f"interrupted by {name}: {complete} of {len(plan.points)} points "
                f"done; `twin sweep` again runs the others",
                highlight=False,
            )
            sys.exit(stop.stop.exit_code if isinstance(stop.stop, RunInterrupted) else 130)
    table = write_results(out, plan, catalogue, results)
    ran = sum(1 for r in results.values() if r.ran and r.status == "complete")
    failed = [r for r in results.values() if r.status != "complete"]
    errors.print(
        f"{len(results)} points: {ran} run, {len(results) - ran - len(failed)} already done, "
        f"{len(failed)} failed; results in [bold]{escape(str(table))}[/]",
        highlight=False,
        soft_wrap=True,
    )
    for result in failed[:10]:
        errors.print(f"  failed {result.key}: {escape(str(result.reason))}", highlight=False)
    return len(failed)


class _ProgressBar:
    """A progress bar over points on stderr (done / running / failed, ETA); none if quiet."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if self.quiet:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[bold]sweep[/]"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("done, {task.fields[running]} running, {task.fields[failed]} failed,"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=errors,
            transient=True,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task("points", total=None, running=0, failed=0)
        return self.update

    def update(self, tally: Any) -> None:
        self.bar.update(
            self.task,
            total=tally.total,
            completed=tally.done + tally.failed,
            running=tally.running,
            failed=tally.failed,
        )

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print_summary(sweep_dir: Path) -> None:
    """Each configuration's metrics: mean ± 95% Student-t half width over its seeds."""
    from rich.table import Table

    from twin.analysis.metrics import parse_metric
    from twin.sweep.results import read_results
    from twin.sweep.summary import metric_names, summarize_sweep

    table = read_results(sweep_dir)
    better = {"higher": "higher ↑", "lower": "lower ↓", None: ""}
    console.print(f"[bold]sweep {escape(str(sweep_dir))}[/]: mean ± 95% CI over seeds")
    for row in summarize_sweep(table):
        title = escape(row.label)
        if row.complete < row.points:
            title += f" [red]({row.points - row.complete} of {row.points} points not complete)[/]"
        shown = Table(title=title, title_justify="left", title_style="bold")
        shown.add_column("metric", overflow="fold")
        for name in ("mean ± 95% CI", "n", "unit", "better"):
            shown.add_column(name, no_wrap=True)
        for name in metric_names(table):
            interval, ref = row.metrics[name], parse_metric(name)
            estimate = str(interval) if interval.n else "—"
            shown.add_row(escape(name), estimate, str(interval.n), ref.unit, better[ref.better])
        console.print(shown)
    console.print(
        "n: seeds with a value; ± is the half width of the 95% Student-t interval of the mean "
        "over seeds (the points of one seed share their random streams across configurations)",
        style="dim",
        highlight=False,
    )
