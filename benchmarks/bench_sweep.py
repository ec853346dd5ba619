"""``twin sweep`` on Dask: points per minute on 1 and 2 local workers, the speed-up, and what
Dask adds to each point against a bare ``twin run``.

The sweep: ``tiny`` at ``--horizon`` (default 20d), placement × scheduler (4 configurations)
× 4 seeds = 16 points. Per worker count: a fresh catalogue, a local cluster started and
warmed (each worker runs one point outside the 16 first, so imports are not timed), then
the 16 points timed from submission to the last result. Per point:

- ``bare twin run``: ``twin run tiny -q`` as a process (interpreter start-up included): what a
  shell loop over points would cost;
- ``in worker``: the points' own wall time in the workers (simulate + measure), mean;
- ``Dask per point``: the 1-worker sweep's time / 16 (median over repeats); a sweep's time
  less its points' own, / 16, is Dask's overhead per point (scheduling, pickling the
  scenario, sending the result back; median over repeats).

The machine is shared: the load average is printed before and after; read the ratios. On a
loaded machine the speed-up understates what Dask does (the points themselves slow down);
the share of the 2-worker sweep's wall time both workers spent running points does not.

Run: ``python benchmarks/bench_sweep.py [--horizon 20d] [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from twin.sweep.catalogue import Catalogue
from twin.sweep.cluster import open_client
from twin.sweep.execute import run_points
from twin.sweep.points import expand
from twin.sweep.spec import read_sweep

SWEEP = """\
scenario: tiny
horizon: {horizon}
grid:
  policies.placement: [least_loaded, lowest_carbon]
  policies.scheduler: [fcfs, easy_backfill]
seeds: {seeds}
metrics: [co2_t, jobs.wait_p95_s]
"""


def plan(folder: Path, horizon: str, seeds: list[int]):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sweep-{seeds[0]}.yaml"
    path.write_text(SWEEP.format(horizon=horizon, seeds=seeds))
    return expand(read_sweep(path))


def timed_sweep(workers: int, horizon: str, folder: Path) -> tuple[float, list[float]]:
    """Wall time of the 16 points on ``workers`` workers, and the points' own wall times."""
    sweep, warm = plan(folder, horizon, [1, 2, 3, 4]), plan(folder, horizon, [99, 98])
    catalogue = Catalogue(folder / f"points-{workers}")
    with open_client(workers) as client:
        run_points(warm.points[: 2 * workers], client, catalogue, warm.spec.metrics)
        started = time.perf_counter()
        results = run_points(sweep.points, client, catalogue, sweep.spec.metrics)
        elapsed = time.perf_counter() - started
    assert len(results) == 16 and all(r.status == "complete" and r.ran for r in results.values())
    return elapsed, [r.wall_s for r in results.values() if r.wall_s is not None]


def bare_run_s(horizon: str, folder: Path, repeats: int) -> float:
    """Median wall time of ``twin run tiny -q`` as a process."""
    times = []
    for index in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "twin",
                "run",
                "tiny",
                "-q",
                "--horizon",
                horizon,
                "--out",
                str(folder / f"bare-{index}"),
            ],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", default="20d", help="simulated time per point")
    parser.add_argument("--repeats", type=int, default=3, help="timed sweeps per worker count")
    parser.add_argument("--quick", action="store_true", help="5d points, one sweep each")
    args = parser.parse_args()
    if args.quick:
        args.horizon, args.repeats = "5d", 1
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"{os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        walls: dict[int, float] = {}
        inside: list[float] = []
        overheads: list[float] = []
        busy: list[float] = []
        for workers in (1, 2):
            runs = []
            for repeat in range(args.repeats):
                elapsed, point_walls = timed_sweep(
                    workers, args.horizon, folder / f"{workers}-{repeat}"
                )
                runs.append(elapsed)
                if workers == 1:  # one point at a time: the sweep's time is theirs plus Dask's
                    inside.append(statistics.fmean(point_walls))
                    overheads.append((elapsed - sum(point_walls)) / 16)
                else:  # how much of the sweep both workers were running points
                    busy.append(sum(point_walls) / (elapsed * workers))
            walls[workers] = statistics.median(runs)
            print(
                f"{workers} worker{'s' if workers > 1 else ' '}: 16 points in "
                f"{walls[workers]:6.2f} s (median of {args.repeats}) = "
                f"{16 * 60 / walls[workers]:6.1f} points/min"
            )
        print(f"speed-up 2 vs 1 workers: {walls[1] / walls[2]:.2f}x")
        print(
            f"2 workers busy {100 * statistics.median(busy):.0f}% of the sweep's wall time "
            "(points' own time / (wall × 2): what the speed-up would be, ×2, on idle cores)"
        )
        bare = bare_run_s(args.horizon, folder, args.repeats)
        in_worker = statistics.median(inside)
        per_point = walls[1] / 16
        print(
            f"per point: bare `twin run` {bare:.3f} s, in worker {in_worker:.3f} s, "
            f"Dask (1 worker) {per_point:.3f} s"
        )
        print(
            f"Dask overhead per point: {statistics.median(overheads) * 1000:+.0f} ms; "
            f"Dask per point / bare twin run: {per_point / bare:.2f}"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
