"""Whole-run benchmark of the flow-level network: 10,000 bulk transfers over the europe backbone.

Loads the built-in ``europe`` scenario, turns inference and training off (or training down,
``--training``), adds a Poisson stream of bulk transfers (lognormal sizes, median 50 GB)
sized so that about ``--transfers`` of them start within ``--hours``, and runs it without a
trace. The solver is wrapped with a timer, so the report splits the wall time between the
solver (``network_solve`` as the network calls it: the max-min kernel, each channel's
total and the next drain in one compiled call) and the rest of the model (SimPy, the
network's bookkeeping, the workloads), and gives the solver's median time at the run's
typical number of concurrent flows.

Usage::

    python benchmarks/bench_network.py              # 10,000 transfers in 2 h of europe
    python benchmarks/bench_network.py --quick      # 1,000 transfers in 12 min (1 s)
    python benchmarks/bench_network.py --hours 0.5  # the same 10,000 in 30 min: overload
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter, defaultdict
from typing import Any

import numpy as np
from twin.kernels import maxmin

from twin.config import load_raw, validate_scenario
from twin.model import network as network_module
from twin.model.recorder import Recorder
from twin.model.world import World

# --------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------


def scenario_data(transfers: int, hours: float, training: bool, seed: int) -> dict[str, Any]:
    """``europe`` with bulk transfers: about ``transfers`` start within ``hours``."""
    data = load_raw("europe")
    data["horizon"] = hours * 3600.0
    data["telemetry"]["interval"] = min(900.0, hours * 3600.0 / 4)
    data["seed"] = seed
    if training:  # a tenth of the default demand, with dataset staging and checkpoints
        spec = data["workloads"]["training"]
        spec["arrivals_per_day"] = spec["arrivals_per_day"] / 10
        spec["checkpoint_gb"] = {"dist": "lognormal", "median": 100, "sigma": 1.0}
        spec["checkpoint_interval"] = "2h"
    else:
        data["workloads"]["training"]["enabled"] = False
    if "inference" in data["workloads"]:  # not a network workload
        data["workloads"]["inference"]["enabled"] = False
    data["workloads"]["transfers"] = {
        "arrivals_per_day": transfers * 24.0 / hours,
        "size_gb": {"dist": "lognormal", "median": 50, "sigma": 1.0, "max": 20000},
    }
    return data


class TransferCounter(Recorder):
    """Counts transfers (delivered or in flight at the end) and the bytes they moved."""

    def __init__(self) -> None:
        self.delivered = 0
        self.in_flight = 0
        self.by_kind: Counter[str] = Counter()

    def transfer_ended(self, transfer: Any) -> None:
        if transfer.end_s is not None:
            self.delivered += 1
        else:
            self.in_flight += 1
        self.by_kind[transfer.kind] += 1


# --------------------------------------------------------------------------------------
# Timing the solver
# --------------------------------------------------------------------------------------


class SolverTimer:
    """Wraps ``network_solve`` as the network calls it (the compiled solve and its call)."""

    def __init__(self) -> None:
        self.solve_s: list[float] = []
        self.flows: list[int] = []
        self._solver = network_module.network_solve

    def __enter__(self) -> SolverTimer:
        def timed_solver(n_flows, *arrays):
            t0 = time.perf_counter()
            soonest = self._solver(n_flows, *arrays)
            self.solve_s.append(time.perf_counter() - t0)
            self.flows.append(n_flows)
            return soonest

        network_module.network_solve = timed_solver
        return self

    def __exit__(self, *exc: object) -> None:
        network_module.network_solve = self._solver


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


def fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the run (same load)")
    parser.add_argument("--transfers", type=int, default=10_000, help="expected transfers")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours")
    parser.add_argument(
        "--training", action="store_true", help="keep a tenth of the training demand"
    )
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    if args.quick:
        args.transfers, args.hours = args.transfers // 10, args.hours / 10

    # Warm the JIT (or load it from the on-disk cache) outside the timed run.
    t0 = time.perf_counter()
    maxmin.network_advance(1, 1.0, np.ones(1), np.ones(1), np.ones(1), np.ones(1))
    maxmin.network_solve(
        1,
        np.array([0, 1], dtype=np.int64),
        np.zeros(1, dtype=np.int64),
        np.ones(1),
        np.ones(1),
        np.ones(1),
        np.empty(1),
        np.empty(1),
        np.empty(1),
    )
    warm_s = time.perf_counter() - t0

    scenario = validate_scenario(
        scenario_data(args.transfers, args.hours, args.training, args.seed)
    )
    counter = TransferCounter()
    world = World(scenario, counter, keep_jobs=False)
    assert world.network is not None
    network = world.network
    print(
        f"europe: {len(scenario.sites)} sites, {len(scenario.pops)} PoPs, "
        f"{len(network.topology.channels)} channels; {args.hours:g} h simulated, "
        f"training {'at 1/10' if args.training else 'off'}; JIT warm-up {warm_s:.2f} s\n"
    )

    with SolverTimer() as timer:
        t0 = time.perf_counter()
        world.run()
        world.finish()
        wall_s = time.perf_counter() - t0

    solves = len(timer.solve_s)
    assert solves == network.solves
    solver_s = sum(timer.solve_s)
    flows = np.array(timer.flows)
    transfers = counter.delivered + counter.in_flight
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(counter.by_kind.items()))
    print(f"wall time                 {wall_s:.2f} s")
    print(f"transfers                 {transfers} ({kinds}; {counter.in_flight} in flight at end)")
    print(
        f"bytes                     {network.bytes_requested / 1e15:.3f} PB requested, "
        f"{network.bytes_delivered / 1e15:.3f} PB delivered"
    )
    print(f"rate solves               {solves} ({solves / max(transfers, 1):.2f} per transfer)")
    print(f"solves per second         {solves / wall_s:,.0f}")
    print(
        f"flows per solve           mean {flows.mean():.1f}, median {np.median(flows):.0f}, "
        f"max {flows.max()}"
    )
    print(f"time in the solver        {solver_s:.2f} s ({100 * solver_s / wall_s:.1f} %)")
    rest_s = wall_s - solver_s
    print(f"time in the rest          {rest_s:.2f} s ({100 * rest_s / wall_s:.1f} %)")

    by_flows: dict[int, list[float]] = defaultdict(list)
    for n, seconds in zip(timer.flows, timer.solve_s, strict=True):
        by_flows[n].append(seconds)
    typical = int(np.median(flows))
    print(
        f"median solve time         {fmt_s(statistics.median(timer.solve_s))} overall; "
        f"{fmt_s(statistics.median(by_flows[typical]))} at {typical} flows "
        f"(the median count, {len(by_flows[typical])} solves)"
    )
    busiest = int(np.percentile(flows, 99))
    near = [s for n, s in zip(timer.flows, timer.solve_s, strict=True) if n >= busiest]
    print(f"                          {fmt_s(statistics.median(near))} at >= {busiest} flows (p99)")


if __name__ == "__main__":
    main()
