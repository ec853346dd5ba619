"""Running a sweep's points on Dask: one task per point not yet in the catalogue.

:func:`run_point` is what a worker runs (a top-level function, so it pickles): it simulates
the point into its catalogue folder, unless the folder already holds it complete, and
measures its metrics. :func:`run_points` submits the points to a ``distributed.Client``
and collects their results as they come. A worker that dies (a crash, SIGKILL, the memory
limit) loses its task; the scheduler runs it again on another worker (up to its
``allowed-failures``), and the new run overwrites the half-written one: the run writer's
lock, which the kernel drops with the dead process, lets only one live run write a point.
A result is kept once per point whatever happened on the way.

Tasks run in worker threads: :func:`twin.simulation.simulate` then handles no signal (that is
the driver's job), and each worker process, started fresh by the nanny, loads the compiled
kernels from numba's cache like any other twin process.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.sweep.catalogue import Catalogue, run_is_done
from twin.sweep.points import Point
from twin.trace.layout import read_twin_manifest

KEY_PREFIX = "twin-point-"


@dataclass(frozen=True)
class PointTask:
    """What a worker needs to run one point (small, picklable)."""

    key: str
    scenario: Any
    run_dir: str
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class PointResult:
    """The outcome of one point."""

    key: str
    status: str
    """``complete``, ``incomplete`` (not run to its end) or ``failed``."""
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    wall_s: float | None = None
    host: str | None = None
    ran: bool = False
    """Whether this sweep simulated it (False: the catalogue already held it)."""


@dataclass
class Tally:
    """Where a sweep's points are, for a progress display."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    skipped: int = 0
    """Points the catalogue already held (counted in ``done``)."""


Progress = Callable[[Tally], None]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) while points ran: the results gathered until then."""

    def __init__(self, results: dict[str, PointResult], stop: KeyboardInterrupt) -> None:
        super().__init__(str(stop) or "interrupted")
        self.results = results
        self.stop = stop


def run_point(task: PointTask) -> PointResult:
    """Run one point (in a worker): simulate it unless its folder holds it, then measure."""
    from twin.analysis import measure
    from twin.simulation import config_hash, simulate

    started = time.perf_counter()
    run_dir = Path(task.run_dir)
    ran = not run_is_done(run_dir, config_hash(task.scenario), task.scenario.seed)
    try:
        if ran:
            simulate(task.scenario, run_dir, overwrite=True)
        values = measure(run_dir, task.metrics)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return PointResult(task.key, "failed", reason, {}, _elapsed(started), _host(), ran)
    wall_s = _elapsed(started) if ran else _recorded_wall_s(run_dir)
    return PointResult(task.key, "complete", None, values, wall_s, _host() if ran else None, ran)


def run_points(
    points: Sequence[Point],
    client: Any,
    catalogue: Catalogue,
    metrics: Sequence[str],
    progress: Progress | None = None,
) -> dict[str, PointResult]:
    """Run every point of ``points`` the catalogue does not hold yet on the Dask ``client``
    and measure all of them: point key → result (points sharing a key are run once). The
    client is not used if there is nothing to run (it may then be None: see :func:`pending`).

    Ctrl-C (any KeyboardInterrupt) cancels what has not finished and raises
    :class:`SweepInterrupted` with the results so far; finished points stay in the catalogue.
    """
    from distributed import as_completed

    unique = {p.key: p for p in points}
    results: dict[str, PointResult] = {}
    tally = Tally(total=len(unique))
    todo = []
    for key, point in unique.items():
        task = PointTask(key, point.scenario, str(catalogue.run_dir(point)), tuple(metrics))
        if catalogue.is_done(point):
            results[key] = run_point(task)  # measured here: nothing to run
            _count(tally, results[key])
            tally.skipped += 1
        else:
            todo.append(task)
    _report(progress, tally, client, len(todo))
    if not todo:
        return results
    futures = [
        client.submit(run_point, task, key=KEY_PREFIX + task.key, pure=False) for task in todo
    ]
    try:
        for finished, future in enumerate(as_completed(futures), start=1):
            result = _result(future)
            results[result.key] = result
            _count(tally, result)
            _report(progress, tally, client, len(todo) - finished)
    except KeyboardInterrupt as stop:
        client.cancel(futures)
        raise SweepInterrupted(settle(points, catalogue, metrics, results), stop) from None
    return results


def settle(
    points: Sequence[Point],
    catalogue: Catalogue,
    metrics: Sequence[str],
    results: dict[str, PointResult],
) -> dict[str, PointResult]:
    """``results`` with the points that finished while their result was on its way (a sweep
    stopped, a cluster closing): done all the same, measured here."""
    settled = dict(results)
    for point in points:
        if point.key not in settled and catalogue.is_done(point):
            run_dir = str(catalogue.run_dir(point))
            settled[point.key] = run_point(
                PointTask(point.key, point.scenario, run_dir, tuple(metrics))
            )
    return settled


def pending(points: Sequence[Point], catalogue: Catalogue) -> list[Point]:
    """The points the catalogue does not hold complete (each key once)."""
    unique = {p.key: p for p in points}
    return [p for p in unique.values() if not catalogue.is_done(p)]


def _result(future: Any) -> PointResult:
    """A finished future's result; a point whose task could not be run is failed."""
    key = str(future.key).removeprefix(KEY_PREFIX)
    try:
        return future.result()  # type: ignore[no-any-return]
    except Exception as error:  # KilledWorker (it died allowed-failures times), a lost task
        reason = f"{type(error).__name__}: {error}"
        return PointResult(key, "failed", reason, {}, None, None, True)


def _count(tally: Tally, result: PointResult) -> None:
    if result.status == "complete":
        tally.done += 1
    else:
        tally.failed += 1


def _report(progress: Progress | None, tally: Tally, client: Any, unfinished: int) -> None:
    """Tell ``progress``; points running are the pending ones the workers' threads hold."""
    if progress is None:
        return
    threads = sum(client.nthreads().values()) if unfinished and client is not None else 0
    tally.running = min(unfinished, threads)
    progress(tally)


def _elapsed(started: float) -> float:
    return round(time.perf_counter() - started, 6)


def _recorded_wall_s(run_dir: Path) -> float | None:
    """The wall time the run's manifest recorded (a point this sweep did not run)."""
    wall = (read_twin_manifest(run_dir) or {}).get("wall_time_s")
    return float(wall) if isinstance(wall, (int, float)) and math.isfinite(wall) else None


def _host() -> str:
    return socket.gethostname()
