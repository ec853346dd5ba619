"""Benchmark of the max-min fair bandwidth-sharing kernel ``twin.kernels.maxmin``.

Times the compiled solver (median and best of several repeats, JIT warmed up outside the
timed region; the speed-up uses the median) against the plain-Python reference on random
networks: 1k, 10k and 100k flows over 100-500 links, each flow crossing 2-8 distinct random
links.

Usage::

    python benchmarks/bench_maxmin.py            # full run (< ~2 min on 2 cores)
    python benchmarks/bench_maxmin.py --quick    # smoke run (a few seconds)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from twin.kernels.maxmin import _maxmin_kernel, maxmin_rates, maxmin_rates_reference

# --------------------------------------------------------------------------------------
# Workload
# --------------------------------------------------------------------------------------

REFERENCE_BUDGET_S = 60.0  # run the reference on a case only if projected below this


def random_network(
    n_flows: int, n_links: int, cap_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random CSR routes of 2-8 distinct links, capacities 10-400 Gbps, some capped flows."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 9, n_flows)
    route_ptr = np.zeros(n_flows + 1, dtype=np.int64)
    route_ptr[1:] = np.cumsum(lengths)
    route_links = np.empty(route_ptr[-1], dtype=np.int64)
    chunk = 4096
    for start in range(0, n_flows, chunk):  # 8 distinct links per flow, keep the first k
        stop = min(start + chunk, n_flows)
        picks = np.argpartition(rng.random((stop - start, n_links)), 8, axis=1)[:, :8]
        for i, f in enumerate(range(start, stop)):
            route_links[route_ptr[f] : route_ptr[f + 1]] = picks[i, : lengths[f]]
    capacity = rng.choice([10.0, 25.0, 100.0, 200.0, 400.0], n_links)
    rate_cap = np.where(rng.random(n_flows) < cap_fraction, rng.uniform(0.1, 10.0, n_flows), np.inf)
    return route_ptr, route_links, capacity, rate_cap


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


def wall_times(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall times of ``repeats`` calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``fn``, in seconds."""
    return statistics.median(wall_times(fn, repeats))


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "skipped"
    if seconds < 1e-3:
        return f"{seconds * 1e6:7.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:7.2f} ms"
    return f"{seconds:7.2f} s "


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--cap-fraction",
        type=float,
        default=0.1,
        help="fraction of flows with an endpoint rate cap (default 0.1)",
    )
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    if args.quick:
        cases = [(1_000, 100), (10_000, 250)]
        repeats, ref_repeats = 3, 1
    else:
        cases = [(1_000, 100), (10_000, 250), (100_000, 500)]
        repeats, ref_repeats = 7, 3

    # Warm the JIT (or load it from the on-disk cache) outside any timed region.
    t0 = time.perf_counter()
    maxmin_rates(*random_network(50, 10, args.cap_fraction, args.seed))
    print(f"JIT warm-up: {time.perf_counter() - t0:.2f} s")
    print(
        f"cap fraction: {args.cap_fraction}, numba repeats: {repeats}, reference repeats: "
        f"{ref_repeats} (1 for 100k flows)\n"
    )

    header = (
        f"{'flows':>8} {'links':>6} {'rounds':>7} {'numba':>11} {'numba min':>11} "
        f"{'reference':>11} {'numba/ref':>10} {'speedup':>9} {'max rel diff':>13}"
    )
    print(header)
    print("-" * len(header))
    notes = []
    ref_rate = None  # reference seconds per (occurrence + link·round), for projections
    for n_flows, n_links in cases:
        net = random_network(n_flows, n_links, args.cap_fraction, args.seed + n_flows)
        route_ptr, route_links, capacity, rate_cap = net
        rates = maxmin_rates(*net)
        numba_times = wall_times(lambda net=net: maxmin_rates(*net), repeats)
        t_numba, t_best = statistics.median(numba_times), min(numba_times)
        rounds = _maxmin_kernel(route_ptr, route_links, capacity, rate_cap, np.empty(n_flows))
        work = route_links.shape[0] + n_links * rounds

        projected = None if ref_rate is None else ref_rate * work
        t_ref, diff = None, None
        if projected is None or projected < REFERENCE_BUDGET_S:
            reps = ref_repeats if n_flows <= 10_000 else 1
            t_ref = median_time(lambda net=net: maxmin_rates_reference(*net), reps)
            ref_rate = t_ref / work
            ref = maxmin_rates_reference(*net)
            diff = float(np.max(np.abs(rates - ref) / np.maximum(np.abs(ref), 1e-300)))
        else:
            notes.append(
                f"reference skipped for {n_flows} flows: projected {projected:.0f} s "
                f"> {REFERENCE_BUDGET_S:.0f} s budget"
            )

        ratio = f"{t_numba / t_ref:10.4f}" if t_ref else f"{'-':>10}"
        speedup = f"{t_ref / t_numba:8.0f}x" if t_ref else f"{'-':>9}"
        diff_s = f"{diff:13.1e}" if diff is not None else f"{'-':>13}"
        print(
            f"{n_flows:>8} {n_links:>6} {rounds:>7} {fmt_time(t_numba):>11} "
            f"{fmt_time(t_best):>11} {fmt_time(t_ref):>11} {ratio} {speedup} {diff_s}"
        )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
