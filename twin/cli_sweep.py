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

from twin.cli_cluster import PointsProgress, cluster_options, slurm_options
from twin.cli_common import LARGE_INPUT, _limits, console, errors, user_errors


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
@cluster_options
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
    if summary_dir is not None:
        if sweep_file is not None or out is not None:
            raise click.UsageError("--summary DIR takes no sweep file and no --out")
        _print_summary(summary_dir)
        return
    if sweep_file is None or out is None:
        raise click.UsageError("expected a sweep file and --out DIR (or --summary DIR)")
    options = slurm_options(cluster, scheduler, slurm)
    failed = _run(sweep_file, out, workers, scheduler, options, catalogue, quiet, large_input)
    if not quiet:
        _print_summary(out)
    sys.exit(1 if failed else 0)


def _run(
    sweep_file: Path,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    options: Any,
    shared: Path | None,
    quiet: bool,
    large_input: bool,
) -> int:
    """Run the sweep; the number of failed points."""
    from twin.interrupts import RunInterrupted, stop_signals
    from twin.model.world import check_policies
    from twin.sweep.catalogue import Catalogue
    from twin.sweep.cluster import open_client
    from twin.sweep.execute import SweepInterrupted, pending, run_points, settle
    from twin.sweep.points import expand
    from twin.sweep.results import check_sweep_dir, write_results
    from twin.sweep.spec import read_sweep

    check_sweep_dir(out)
    limits = _limits(large_input)
    plan = expand(read_sweep(sweep_file, limits), [check_policies], limits)
    catalogue = Catalogue.of_sweep(out, shared)
    with stop_signals(exiting=True):
        try:
            if not pending(plan.points, catalogue):  # nothing to run: no cluster to start
                results = run_points(plan.points, None, catalogue, plan.spec.metrics)
            else:
                with (
                    open_client(workers, scheduler, options) as client,
                    PointsProgress(quiet) as bar,
                ):
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
