"""What the commands that run points on Dask (``twin sweep``, ``twin size``) share: the
options saying where the workers run and where the points are kept, and the progress bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from twin.cli_common import errors

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option(
        "--workers",
        "-w",
        type=click.IntRange(min=1),
        help="local worker processes (default: one per core)",
    ),
    click.option("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler instead"),
    click.option(
        "--cluster",
        type=click.Choice(["local", "slurm"]),
        default="local",
        show_default=True,
        help="where the workers run",
    ),
    click.option(
        "--jobs",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="SLURM: batch jobs to ask for",
    ),
    click.option(
        "--cores",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="SLURM: cores (single-threaded workers) per job",
    ),
    click.option("--memory", default="4GB", show_default=True, help="SLURM: memory per job"),
    click.option("--queue", help="SLURM: partition"),
    click.option("--account", help="SLURM: account to charge"),
    click.option("--walltime", help="SLURM: time limit per job, e.g. 01:00:00"),
    click.option(
        "--catalogue",
        type=click.Path(path_type=Path),
        help="keep the points here (shared between sweeps) instead of DIR/points",
    ),
]
SLURM_FIELDS = ("jobs", "cores", "memory", "queue", "account", "walltime")


def cluster_options(command: F) -> F:
    """Add the executor options to ``command`` (SLURM ones arrive in ``**slurm``)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def slurm_options(cluster: str, scheduler: str | None, slurm: dict[str, Any]) -> Any:
    """The SLURM options if ``--cluster slurm``; a user error if it meets ``--scheduler``."""
    from twin.config import TwinUserError
    from twin.sweep.cluster import SlurmOptions

    if scheduler is not None and cluster != "local":
        raise TwinUserError("--scheduler and --cluster slurm exclude each other")
    return SlurmOptions(**{k: slurm[k] for k in SLURM_FIELDS}) if cluster == "slurm" else None


class PointsProgress:
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
