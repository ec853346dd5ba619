"""Progress of a ``twin run``: a bar with percentage, elapsed time and ETA in a terminal, and
plain lines at every tenth of the horizon otherwise (a log, CI, a batch system's output)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from twin.config.units import format_duration

STEPS = 10
"""Plain progress lines per run (one at every tenth of the horizon)."""


@contextmanager
def run_progress(
    name: str, horizon_s: float, console: Console
) -> Iterator[Callable[[float], None]]:
    """A callback taking the simulated time reached, shown on ``console`` while in use."""
    if console.is_terminal:
        with _bar(name, horizon_s, console) as advance:
            yield advance
    else:
        yield PlainProgress(name, horizon_s, console.file.write).advance


@contextmanager
def _bar(name: str, horizon_s: float, console: Console) -> Iterator[Callable[[float], None]]:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn(f"[bold]{escape(name)}[/]"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[sim]} / " + format_duration(horizon_s)),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("run", total=horizon_s, sim="0s")

        def advance(now: float) -> None:
            progress.update(task, completed=now, sim=format_duration(now) if now else "0s")

        yield advance


class PlainProgress:
    """Writes ``name: 40% (2d 19h of 7d simulated), 1m 12s elapsed, about 1m 48s left``
    each time the run passes another tenth of its horizon."""

    def __init__(self, name: str, horizon_s: float, write: Callable[[str], object]) -> None:
        self.name = name
        self.horizon_s = horizon_s
        self.write = write
        self.started = time.perf_counter()
        self.shown = 0

    def advance(self, now: float) -> None:
        step = int(STEPS * now / self.horizon_s + 1e-9) if self.horizon_s > 0 else STEPS
        if step <= self.shown:
            return
        self.shown = step
        elapsed = time.perf_counter() - self.started
        share = min(1.0, now / self.horizon_s) if self.horizon_s > 0 else 1.0
        line = (
            f"{self.name}: {100 * share:.0f}% ({format_duration(now)} of "
            f"{format_duration(self.horizon_s)} simulated), {_clock(elapsed)} elapsed"
        )
        if 0 < share < 1:
            line += f", about {_clock(elapsed * (1 - share) / share)} left"
        self.write(line + "\n")


def _clock(seconds: float) -> str:
    """Wall time as ``4.2s``, ``3m 05s`` or ``1h 02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
