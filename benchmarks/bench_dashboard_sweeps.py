"""Benchmark of the Sweeps page's server side on synthetic sweeps of growing size.

Writes ``sweep.arrow`` files of 1,000 and 10,000 points (configurations × 20 seeds, two
parameters, four metrics; the point folders are absent, which the page does not read), then
times the functions behind the page's callbacks, called directly: the first read of a sweep
(read, check, containment of every point, then cached), a cached read (the file's identity
looked at again), choosing the sweep (pickers and the points table), the figure (first call
and cached) and the pairing of two configurations.

Usage::

    python benchmarks/bench_dashboard_sweeps.py            # 1,000 and 10,000 points
    python benchmarks/bench_dashboard_sweeps.py --quick    # 1,000 points
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from twin.dashboards.components import Context
from twin.dashboards.pages import sweeps
from twin.dashboards.store import RunStore
from twin.dashboards.sweeps import load_sweep

from twin.sweep.table import METRIC, PARAM, sweep_schema

SEEDS = 20
METRICS = ("co2_t", "jobs.completed", "jobs.wait_p95_s", "sites.utilisation")


def write_sweep(directory: Path, points: int) -> None:
    """A sweep of ``points`` points: a 10 × (points / 200) grid, 20 seeds each."""
    schema = sweep_schema(["a", "b"], list(METRICS))
    columns: dict[str, list[object]] = {name: [] for name in schema.names}
    for index in range(points // SEEDS):
        a, b = index % 10, index // 10
        for seed in range(1, SEEDS + 1):
            key = f"{index:08x}{seed:08x}"
            row = {
                "point": key,
                "config": f"{index:016x}",
                "label": f"a={a}, b={b * 8}",
                "seed": seed,
                "status": "complete",
                "reason": None,
                "run": f"points/{key}",
                "wall_s": 1.0,
                "host": "bench",
                PARAM + "a": str(a),
                PARAM + "b": str(b * 8),
            }
            row |= {METRIC + m: a + b + 0.1 * seed * (i + 1) for i, m in enumerate(METRICS)}
            for name in schema.names:
                columns[name].append(row[name])
    directory.mkdir(parents=True)
    with (
        pa.OSFile(str(directory / "sweep.arrow"), "wb") as sink,
        ipc.new_file(sink, schema) as writer,
    ):
        writer.write_table(pa.table(columns, schema=schema))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(size: int) -> tuple[list[float], int]:
    """Seconds of each step on a sweep of ``size`` points, and the points table's JSON bytes."""
    with tempfile.TemporaryDirectory() as folder:
        write_sweep(Path(folder) / "s", size)
        store = RunStore(folder)
        context = Context(store, href=lambda path: path)
        first = timed(lambda: load_sweep(store, "s"))
        cached = timed(lambda: load_sweep(store, "s"))
        started = time.perf_counter()
        frame = sweeps.sweep_frame(context, "s", None, None, None, None, None)
        choose = time.perf_counter() - started
        figure = timed(lambda: sweeps.figure_frame(store, "s", "co2_t", "b", "a"))
        again = timed(lambda: sweeps.figure_frame(store, "s", "co2_t", "b", "a"))
        a, b = list(load_sweep(store, "s").configurations)[:2]
        pair = timed(lambda: sweeps.pair_frame(context, "s", a, b))
    return [first, cached, choose, figure, again, pair], len(json.dumps(frame[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 points only")
    sizes = (1000,) if parser.parse_args().quick else (1000, 10_000)
    steps = ("1st read", "cached", "choose", "figure", "cached", "pair")
    print(f"{'points':>8} " + " ".join(f"{step:>10}" for step in steps) + "   table JSON")
    for size in sizes:
        seconds, table_bytes = measure(size)
        cells = " ".join(f"{t * 1e3:8.1f}ms" for t in seconds)
        print(f"{size:>8,} {cells}   {table_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
