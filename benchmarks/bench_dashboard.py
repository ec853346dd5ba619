"""Benchmark of the dashboard's replay callback: its cost must not grow with the trace.

Simulates the ``tiny`` scenario twice, one run 10× longer than the other, and times the
function behind the replay map callback (``twin.dashboards.pages.replay.map_frame``: find the
telemetry stamp at t by binary search, build the map figure) called directly, median of
repeats over times spread across each run. Next to it: the data lookup alone
(``RunData.snapshot``), and, for contrast, the naive lookup that filters the whole sites table
for the stamp, which does grow with the trace. Ratios near 1 mean "cost depends on what is
shown, not on the trace's length". The first call of a run (reading and indexing its
tables once, then cached) is printed apart.

Usage::

    python benchmarks/bench_dashboard.py            # tiny 1d vs 10d, telemetry every minute
    python benchmarks/bench_dashboard.py --quick    # tiny 6h vs 60h (a few seconds)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
from twin.dashboards import maps
from twin.dashboards.columns import SITE
from twin.dashboards.geo import Geo
from twin.dashboards.pages.replay import map_frame
from twin.dashboards.store import RunStore

from twin.config import load_config
from twin.simulation import simulate


def median_times(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall time of each of ``fns``, in seconds; calls interleaved so that a busy
    machine slows them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - t0)
    return [statistics.median(spent) for spent in times]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:8.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:8.2f} ms"
    return f"{seconds:8.2f} s "


def prepare(store: RunStore, name: str) -> dict[str, object]:
    """A run's first call (reading and indexing its tables, then cached) and the callables
    to time: the replay callback, its stamp lookup, and the naive lookup."""
    t0 = time.perf_counter()
    map_frame(store, name, 0.0)
    first = time.perf_counter() - t0
    data = store.get(name)
    timeline = data.timeline
    times = iter(np.random.default_rng(0).uniform(timeline.first_s, timeline.last_s, 10**6))
    table = data.run.table(SITE.table)

    def naive() -> object:
        stamp = float(data.snapshot(next(times)).stamp_s or 0.0)
        return table.filter(pc.equal(table.column(SITE.time), stamp)).to_pylist()

    return {
        "rows": float(table.num_rows),
        "first": first,
        "callback": lambda: map_frame(store, name, next(times), "site:north"),
        "lookup": lambda: data.snapshot(next(times)),
        "naive": naive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6h vs 60h, fewer repeats")
    parser.add_argument("--interval", default="1m", help="telemetry interval (default 1m)")
    args = parser.parse_args()
    short, long_, repeats = ("6h", "60h", 15) if args.quick else ("1d", "10d", 41)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, horizon in (("short", short), ("long", long_)):
            t0 = time.perf_counter()
            overrides = [f"horizon={horizon}", f"telemetry.interval={args.interval}"]
            simulate(load_config("tiny", overrides=overrides), out=root / name)
            print(f"simulated tiny {horizon:>4} in {time.perf_counter() - t0:6.2f} s")
        maps.map_figure(Geo(), None)  # plotly's one-time set-up, outside the timings
        store = RunStore(root)
        a, b = prepare(store, "short"), prepare(store, "long")
        for key, factor in (("callback", 1), ("lookup", 20), ("naive", 20)):
            a[key], b[key] = median_times([a[key], b[key]], repeats * factor)
    print()
    print(
        f"replay of tiny, {short} vs {long_}, telemetry every {args.interval} "
        "(median of repeats, callback called directly)"
    )
    print(f"{'':34}{short:>12}{long_:>12}{'ratio':>9}")
    print(
        f"{'sites.arrow rows':34}{a['rows']:12,.0f}{b['rows']:12,.0f}{b['rows'] / a['rows']:9.2f}"
    )
    for key, label in (
        ("callback", "replay callback (map_frame)"),
        ("lookup", "  of which stamp lookup (bisect)"),
        ("naive", "naive lookup (filter whole table)"),
        ("first", "first call (read + index, cached)"),
    ):
        print(f"{label:34}{fmt_time(a[key]):>12}{fmt_time(b[key]):>12}{b[key] / a[key]:9.2f}")


if __name__ == "__main__":
    main()
