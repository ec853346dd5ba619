"""Whole-model speed and memory, measured side by side in one run.

1. Simulated SimPy events per second of the model (the `europe` scenario, no trace written)
   next to raw SimPy's events per second on this machine (processes doing nothing but
   timeouts), and their ratio: what the model's own work costs per event.
2. Wall time and peak memory of full `twin` runs (trace written) for a 1-day and an 8-day
   horizon, each in a fresh interpreter: the ratio of peak memories should be near 1, since
   traces stream to disk and ended jobs are forgotten.

Run: ``python benchmarks/bench_model.py`` (``--quick`` for a smaller version).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import simpy

from twin.config import load_config
from twin.model.world import World


def raw_simpy_events_per_s(processes: int, events: int) -> float:
    """Events per second of bare SimPy: processes that only wait on exponential timeouts."""
    env = simpy.Environment()
    rng = np.random.default_rng(0)
    delays = rng.exponential(1.0, events).tolist()
    per_process = events // processes

    def sleeper(env: simpy.Environment, offset: int):
        for k in range(per_process):
            yield env.timeout(delays[offset + k])

    for p in range(processes):
        env.process(sleeper(env, p * per_process))
    begin = time.perf_counter()
    env.run()
    return processes * per_process / (time.perf_counter() - begin)


def model_events_per_s(horizon: str) -> tuple[float, int, float]:
    """(events per second, events, wall seconds) of the europe model without a trace."""
    scenario = load_config("europe", overrides=[f"horizon={horizon}"])
    world = World(scenario, keep_jobs=False)
    counted = [0]
    step = world.env.step

    def counting_step() -> None:
        counted[0] += 1
        step()

    world.env.step = counting_step  # type: ignore[method-assign]
    begin = time.perf_counter()
    world.run(steps=1)
    wall = time.perf_counter() - begin
    return counted[0] / wall, counted[0], wall


CHILD = """
import json, resource, sys, time
from twin.config import load_config
from twin.simulation import simulate
scenario = load_config("europe", overrides=["horizon=" + sys.argv[1]])
begin = time.perf_counter()
result = simulate(scenario, sys.argv[2])
wall = time.perf_counter() - begin
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_mb": peak_mb, "jobs": result.world.submitted}))
"""


def full_run(horizon: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        output = subprocess.run(
            [sys.executable, "-c", CHILD, horizon, f"{directory}/run"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller horizons, fewer repeats")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    horizon = "6h" if args.quick else "1d"
    long_horizon = "2d" if args.quick else "8d"

    raw = [
        raw_simpy_events_per_s(100, 200_000 if args.quick else 1_000_000) for _ in range(repeats)
    ]
    model = [model_events_per_s(horizon) for _ in range(repeats)]
    raw_rate = statistics.median(raw)
    model_rate = statistics.median(rate for rate, _, _ in model)
    print(f"events per second (median of {repeats}; europe, {horizon}, no trace)")
    print(f"  raw SimPy (timeouts only)   {raw_rate:12,.0f}")
    print(f"  twin model                  {model_rate:12,.0f}   ({model[0][1]:,} events)")
    print(f"  model / raw SimPy           {model_rate / raw_rate:12.3f}")
    print()
    short = full_run(horizon)
    long = full_run(long_horizon)
    print("full runs with trace, each in a fresh interpreter")
    print(f"  {'horizon':>8} {'jobs':>10} {'wall s':>8} {'peak MB':>9}")
    for label, result in ((horizon, short), (long_horizon, long)):
        print(
            f"  {label:>8} {result['jobs']:>10,} {result['wall_s']:>8.1f} {result['peak_mb']:>9.0f}"
        )
    print(f"  wall-time ratio   {long['wall_s'] / short['wall_s']:.2f}")
    print(f"  peak-memory ratio {long['peak_mb'] / short['peak_mb']:.2f}  (flat memory: near 1)")


if __name__ == "__main__":
    main()
