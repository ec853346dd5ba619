"""How fast twin runs, in units of R measured in the same run (the speed issue's yardstick).

R is the wall time of raw SimPy processing 10^6 timeouts over 1,000 processes (each
``yield env.timeout(Exp(1))``): these machines differ in speed from day to day, so every
figure is also printed as a multiple of R. Printed:

* R itself (median of 3);
* ``twin run`` as a user runs it (a fresh process each, its wall time and peak RSS):
  ``tiny``; ``europe`` for 1 d, 7 d and 28 d (``--full``: 7 d and 365 d under the ``fluid``
  inference fidelity, and their peak-RSS ratio); the continental-peak
  inference what-if for its evening-peak hour and (``--full``) a whole day; the ratio of
  the 28-day to the 7-day wall time (4 means linear in the horizon);
* the speed-up of the event-skipping batching kernel over stepping every iteration, on
  the europe chat workload (the compiled kernel's own time in a one-day run, both ways);
* where the wall time of a one-day europe run goes, by layer (cProfile own time grouped
  by module: training, network, inference kernels, inference Python, trace writing, SimPy,
  the rest), as shares;
* start-up, each the median of 3 fresh processes: ``python -c pass``, ``twin --version``,
  ``twin validate tiny``, ``twin run tiny`` with a cold kernel cache (a fresh
  ``NUMBA_CACHE_DIR``) and a warm one; without ``--quick`` also what compiling costs, once
  each: a first ``twin run europe --horizon 1h`` on a cold cache, ``twin compile`` on a
  cold cache, and (median of 3) the same run on the warm cache.

Usage::

    python benchmarks/bench_speed.py            # everything but the year and the peak day
    python benchmarks/bench_speed.py --quick    # tiny, europe 1 d, one R, kernel and shares
    python benchmarks/bench_speed.py --full     # also europe 365 d and the peak day
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import simpy

FLUID = ["--set", "workloads.inference.fidelity=fluid"]
PEAK_HOUR = ["--whatif", "inference_peak", "--set", "start=2026-12-29T19:00:00"]


def raw_simpy_s() -> float:
    """Wall time of 10^6 timeouts over 1,000 SimPy processes (the unit R)."""
    draws = np.random.default_rng(0).exponential(1.0, 10**6)
    env = simpy.Environment()

    def process(k: int):
        for j in range(k * 1000, (k + 1) * 1000):
            yield env.timeout(draws[j])

    for k in range(1000):
        env.process(process(k))
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started


def timed_run(args: list[str], out: Path) -> tuple[float, float]:
    """Wall time [s] and peak RSS [MB] of ``twin run ARGS`` in a fresh process."""
    command = [sys.executable, "-m", "twin", "run", *args, "-q", "--out", str(out)]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"twin run {' '.join(args)} failed: {process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


LAYERS = (
    ("inference kernels", ("kernels/batching", "kernels/fcfs", "kernels/_checks")),
    ("network kernels", ("kernels/maxmin",)),
    ("inference Python", ("twin/model/inference", "twin/model/iteration")),
    ("network Python", ("twin/model/network", "twin/model/topology", "twin/model/data")),
    ("network Python", ("twin/model/transfers", "networkx")),
    ("training", ("twin/model/workload", "twin/model/broker", "twin/model/factory")),
    ("training", ("twin/model/schedulers", "twin/model/job", "twin/model/distributions")),
    ("trace writing", ("twin/trace", "twin/model/recorder", "pyarrow")),
    ("telemetry", ("twin/model/telemetry",)),
    ("SimPy", ("simpy/",)),
    ("numpy", ("numpy/",)),
)


def startup_s(command: list[str], cache: Path | None = None, times: int = 3) -> float:
    """Median wall time [s] of ``command`` in ``times`` fresh processes; ``cache``: a parent
    folder for a fresh NUMBA_CACHE_DIR each time (a cold kernel cache)."""
    walls = []
    for _ in range(times):
        env = dict(os.environ)
        if cache is not None:
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir=cache)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, capture_output=True)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def startup(r: float, quick: bool) -> None:
    """Print the start-up figures, in seconds and in R."""
    twin = [sys.executable, "-m", "twin"]
    print("start-up (median of 3 fresh processes):")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = [*twin, "run", "tiny", "-q", "--overwrite", "--out", str(root / "run")]
        figures = [
            ("python -c pass", startup_s([sys.executable, "-c", "pass"])),
            ("twin --version", startup_s([*twin, "--version"])),
            ("twin validate tiny", startup_s([*twin, "validate", "tiny"])),
            ("twin run tiny, cold cache", startup_s(run, cache=root)),
            ("twin run tiny, warm cache", startup_s(run)),
        ]
        if not quick:
            hour = [*twin, "run", "europe", "--horizon", "1h", "-q", "--overwrite"]
            hour += ["--out", str(root / "hour")]
            figures += [
                ("europe 1h, cold cache (1)", startup_s(hour, cache=root, times=1)),
                ("twin compile, cold (1)", startup_s([*twin, "compile"], cache=root, times=1)),
            ]
            startup_s([*twin, "compile"], times=1)  # the package's own cache is warm
            figures.append(("europe 1h, warm cache", startup_s(hour)))
    for name, wall in figures:
        print(f"  {name:28s} {wall:6.2f} s = {wall / r:5.2f} R")


def layer_of(filename: str) -> str:
    for layer, markers in LAYERS:
        if any(marker in filename for marker in markers):
            return layer
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (numpy calls etc.)"
    return "other (imports, config, CLI)"


def layer_shares(horizon: str) -> dict[str, float]:
    """Own time by layer of an in-process europe run (cProfile), as shares of the total."""
    from twin.config import load_config
    from twin.simulation import simulate

    scenario = load_config("europe", overrides=[f"horizon={horizon}"])
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        profile.enable()
        simulate(scenario, Path(tmp) / "run")
        profile.disable()
    stats = pstats.Stats(profile)
    by_layer: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_layer[layer_of(filename)] += own
    total = sum(by_layer.values())
    return {layer: seconds / total for layer, seconds in by_layer.items()}


def kernel_speedup(horizon: str) -> tuple[float, float, float]:
    """The compiled batching kernels' own time in a europe run with event skipping and
    stepping every iteration, and the share of iterations jumped."""
    from twin.kernels import batching_bank
    from twin.kernels.queueing import STAT_ITERATIONS, STAT_JUMPED

    import twin.model.service_site as service_site
    from twin.config import load_config
    from twin.simulation import simulate

    scenario = load_config(
        "europe",
        overrides=[
            f"horizon={horizon}",
            "workloads.training.enabled=false",
            "workloads.transfers.enabled=false",
        ],
    )
    kernels = {
        name: getattr(batching_bank, name) for name in ("_bank_kernel", "_bank_kernel_parallel")
    }
    make_bank = service_site._bank
    seconds = {}
    jumped = 0.0
    with tempfile.TemporaryDirectory() as tmp:  # load the compiled kernels first
        simulate(load_config("europe", overrides=["horizon=1h"]), Path(tmp) / "warm")
    for skipping in (True, False):
        spent = [0.0]
        banks: list = []

        def timed(kernel, spent=spent):
            def call(*args):
                started = time.perf_counter()
                try:
                    return kernel(*args)
                finally:
                    spent[0] += time.perf_counter() - started

            return call

        def bank(service, model, prefilled, skipping=skipping, banks=banks):
            made = make_bank(service, model, prefilled)
            made.params = made.params._replace(event_skipping=skipping)
            banks.append(made)
            return made

        for name, kernel in kernels.items():
            setattr(batching_bank, name, timed(kernel))
        service_site._bank = bank
        try:
            with tempfile.TemporaryDirectory() as tmp:
                simulate(scenario, Path(tmp) / "run")
        finally:
            for name, kernel in kernels.items():
                setattr(batching_bank, name, kernel)
            service_site._bank = make_bank
        seconds[skipping] = spent[0]
        if skipping:
            stats = np.add.reduce([b.stats[: b.size].sum(axis=0) for b in banks])
            jumped = float(stats[STAT_JUMPED] / max(stats[STAT_ITERATIONS], 1.0))
    return seconds[True], seconds[False], jumped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny, europe 1 d, kernel, shares")
    parser.add_argument("--full", action="store_true", help="also europe 365 d and the peak day")
    options = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start")
    repeats = 1 if options.quick else 3
    r = statistics.median(raw_simpy_s() for _ in range(repeats))
    print(f"R (raw SimPy, 10^6 timeouts over 1,000 processes, median of {repeats}): {r:.2f} s")
    runs: list[tuple[str, list[str], int]] = [
        ("tiny", ["tiny"], 3),
        ("europe 1d", ["europe", "--horizon", "1d"], 1),
    ]
    if not options.quick:
        runs += [
            ("europe 7d", ["europe", "--horizon", "7d"], 1),
            ("europe 28d", ["europe", "--horizon", "28d"], 1),
            ("peak hour", ["europe", *PEAK_HOUR, "--horizon", "1h"], 1),
        ]
    if options.full:  # a year per request would take about an hour: the year is fluid
        runs += [
            ("7d fluid", ["europe", "--horizon", "7d", *FLUID], 1),
            ("365d fluid", ["europe", "--horizon", "365d", *FLUID], 1),
            ("peak day", ["europe", "--whatif", "inference_peak", "--horizon", "1d"], 1),
        ]
    walls: dict[str, float] = {}
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "twin", "compile"], check=True, capture_output=True)
        for name, args, times in runs:
            results = [timed_run(args, Path(tmp) / f"{name}-{k}") for k in range(times)]
            wall = statistics.median(w for w, _ in results)
            rss = max(m for _, m in results)
            walls[name], peaks[name] = wall, rss
            note = f" (median of {times})" if times > 1 else ""
            print(f"  twin run {name:12s} {wall:8.1f} s = {wall / r:7.1f} R{note}, {rss:6.0f} MB")
    if "europe 28d" in walls:
        print(f"  28 d / 7 d wall: {walls['europe 28d'] / walls['europe 7d']:.2f} (4 = linear)")
    if "365d fluid" in walls:
        print(f"  365 d / 7 d (fluid) peak RSS: {peaks['365d fluid'] / peaks['7d fluid']:.2f}")
    skip_s, step_s, jumped = kernel_speedup("1d")
    print(
        f"batching kernel on the europe chat workload (1 d): stepping {step_s:.2f} s, "
        f"event skipping {skip_s:.2f} s: {step_s / skip_s:.1f}x; {100 * jumped:.0f}% of "
        "iterations jumped"
    )
    shares = layer_shares("1d")
    print("where a one-day europe run spends its time (cProfile own time):")
    for layer, share in sorted(shares.items(), key=lambda item: -item[1]):
        print(f"  {layer:28s} {100 * share:5.1f}%")
    startup(r, options.quick)
    print(f"load {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
