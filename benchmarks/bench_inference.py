"""Whole-model inference benchmark: `europe --whatif inference_peak`, inference only.

Runs the continental-peak inference what-if (a 70B chat service at 5,000 req/s and an
embedding service at 20,000 req/s at the evening peak, autoscaled at every factory) for one
simulated day (``--quick``: one hour), training and bulk transfers off, writing a full run
directory into a temporary folder, and prints:

* wall time per simulated hour as it goes, then in total (for a horizon under a day, the
  time a day would take at the measured rate, from the day's expected requests);
* wall time, requests simulated (the manifest's totals), requests per wall second;
* windows processed (service × site windows, and window steps of the clock);
* the size of ``inference.arrow`` and ``inference_regions.arrow`` (rows and bytes: the trace
  holds per-window aggregates, so it stays small however many requests pass);
* where the wall time goes: inside the continuous-batching replicas (``ReplicaBank.step``,
  and of that the compiled bank kernel), inside the multi-server FCFS
  (``fcfs_multiserver_limited``, and of that the compiled ``_fcfs_limited_kernel``), and
  the rest (demand, routing, sampling, percentiles, recording, SimPy).

The timers are installed by monkeypatching, in this script only. Numba kernels are loaded
and compiled before the timed run. ``--profile N`` also runs cProfile over the simulation
and prints the N functions with the most own time (cProfile slows the run by ~1.5×).

Run: ``python benchmarks/bench_inference.py [--quick] [--horizon 6h] [--profile 25]
[--set start=2026-12-29T19:00:00]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from twin.kernels import batching_bank, fcfs
from twin.kernels import queueing as q

import twin.model.demand as demand
import twin.model.service_site as service_site
from twin.config import load_config
from twin.simulation import simulate
from twin.trace.reader import open_run


class Timer:
    """Accumulated wall time and calls of one wrapped function."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            begin = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - begin
                self.calls += 1

        return timed


def warm_kernels() -> None:
    """Load (or compile) every queueing kernel the model calls, outside the timed run."""
    free_at = np.zeros(2)
    q.fcfs_multiserver_limited(
        np.array([0.0, 0.1]),
        np.array([0.2, 0.2]),
        free_at,
        max_queue=4,
        max_wait=1.0,
        queue_state=q.make_queue_state(4),
    )
    replica = q.BatchingReplica("sarathi", 0.01, 1e-4, 1e-4, 1e-8, 8, 10_000, 64)
    replica.step([0.0, 0.5], [100, 200], [10, 20], until_s=1.0)
    replica = q.BatchingReplica("vllm", 0.01, 1e-4, 1e-4, 1e-8, 8, 10_000, 0)
    replica.step([0.0, 0.5], [100, 200], [10, 20], until_s=1.0)
    service_site.sketch(np.array([0.1, 2.0]))


class Progress:
    """Prints wall time and requests per simulated hour (``simulate``'s progress hook)."""

    def __init__(self, window_timer: Timer, begin: float) -> None:
        self.window_timer = window_timer
        self.requests = 0
        self.next_hour = 1
        self.last = (begin, 0)

    def count(self, result: Any) -> Any:
        self.requests += result.arrivals
        return result

    def __call__(self, now_s: float) -> None:
        while now_s >= self.next_hour * 3600 - 1e-6:
            wall = time.perf_counter()
            spent, done = wall - self.last[0], self.requests - self.last[1]
            print(
                f"  hour {self.next_hour:3d}: {spent:7.1f} s wall, {done:>12,} requests, "
                f"{done / max(spent, 1e-9):>11,.0f} req/s",
                flush=True,
            )
            self.last = (wall, self.requests)
            self.next_hour += 1


def day_requests(scenario: Any) -> float:
    """Requests in one day of the scenario's demand: peak × mean of the (normalised)
    diurnal profile × 86,400 s (regions' offsets only shift the profile)."""
    spec = scenario.workloads.inference
    profile = np.asarray(spec.diurnal or demand.default_diurnal())
    return 86400 * sum(s.peak_rps for s in spec.services) * profile.mean() / profile.max()


def install_timers(patch: list[tuple[Any, str, Any]]) -> dict[str, Timer]:
    """Wrap the kernel entry points; ``patch`` collects (owner, name, original) to undo."""
    names = ("step", "batching", "fcfs", "fcfs_kernel", "window", "sketch")
    timers = {name: Timer() for name in names}
    targets = (
        (batching_bank.ReplicaBank, "step", "step"),
        (batching_bank, "_bank_kernel", "batching"),
        (batching_bank, "_bank_kernel_parallel", "batching"),
        (service_site, "fcfs_multiserver_limited", "fcfs"),
        (fcfs, "_fcfs_limited_kernel", "fcfs_kernel"),
        (service_site.ServiceSite, "window", "window"),
        (service_site, "sketch", "sketch"),
    )
    for owner, attribute, name in targets:
        original = getattr(owner, attribute)
        patch.append((owner, attribute, original))
        setattr(owner, attribute, timers[name].wrap(original))
    return timers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one simulated hour, not a day")
    parser.add_argument("--horizon", help="simulated span (e.g. 6h); overrides --quick")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="cProfile; print the top N"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config override, e.g. start=2026-12-29T19:00:00 for the evening peak",
    )
    args = parser.parse_args()
    horizon = args.horizon or ("1h" if args.quick else "1d")
    scenario = load_config(
        "europe",
        whatifs=["inference_peak"],
        overrides=[
            f"horizon={horizon}",
            "workloads.training.enabled=false",
            "workloads.transfers.enabled=false",
            *args.set,
        ],
    )
    spec = scenario.workloads.inference
    assert spec is not None
    print(
        f"europe --whatif inference_peak, from {scenario.start:%Y-%m-%d %H:%M} UTC, "
        f"horizon {scenario.horizon / 3600:g} h, "
        f"window {spec.window:g} s, routing {spec.routing}, {len(spec.regions)} regions, "
        f"{len(scenario.sites)} sites, services "
        + ", ".join(f"{s.id} ({s.kind}, peak {s.peak_rps:g} req/s)" for s in spec.services)
    )
    warm_kernels()

    patch: list[tuple[Any, str, Any]] = []
    timers = install_timers(patch)
    profiler = cProfile.Profile() if args.profile else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run"
            begin = time.perf_counter()
            progress = Progress(timers["window"], begin)
            window = service_site.ServiceSite.window
            service_site.ServiceSite.window = lambda *a, **k: progress.count(window(*a, **k))
            if profiler is not None:
                profiler.enable()
            try:
                result = simulate(scenario, out=out, progress=progress)
            finally:
                service_site.ServiceSite.window = window
            if profiler is not None:
                profiler.disable()
            wall = time.perf_counter() - begin
            run = open_run(out)
            totals = run.manifest["inference"]
            tables = {
                name: (run.table(name).num_rows, (out / f"{name}.arrow").stat().st_size)
                for name in ("inference", "inference_regions")
            }
            steps = len(np.unique(run.table("inference").column("time_s").to_numpy()))
            replicas = {
                model.service.id: sum(site.count for site in model.sites)
                for model in result.world.inference.services
            }
    finally:
        for owner, attribute, original in reversed(patch):
            setattr(owner, attribute, original)

    requests = sum(t["arrivals"] for t in totals.values())
    print(f"\nwall time                {wall:10.2f} s")
    if scenario.horizon < 86400:
        day = day_requests(scenario)
        print(
            f"  one day holds ~{day:,.0f} requests: extrapolated at this run's rate "
            f"{day / (requests / wall) / 60:.1f} min"
        )
    for name, t in totals.items():
        print(
            f"  {name:8s} arrivals {t['arrivals']:>13,}  served {t['served']:>13,}  "
            f"dropped {t['dropped']:>11,}  replicas at the end {replicas[name]}"
        )
    print(f"requests simulated       {requests:>13,}")
    print(f"requests per wall second {requests / wall:>13,.0f}")
    print(
        f"windows processed        {timers['window'].calls:>13,} service × site windows "
        f"({steps:,} window steps)"
    )
    for name, (rows, size) in tables.items():
        print(f"{name + '.arrow':24s} {rows:>13,} rows  {size / 1e6:8.2f} MB")
    print(f"  bytes per request      {sum(s for _, s in tables.values()) / requests:13.4f}")

    inside = timers["step"].seconds + timers["fcfs"].seconds
    print("\nwall time breakdown")
    rows = (
        ("ReplicaBank.step (llm)", timers["step"]),
        ("  of which the compiled bank kernel", timers["batching"]),
        ("fcfs_multiserver_limited (single)", timers["fcfs"]),
        ("  of which _fcfs_limited_kernel", timers["fcfs_kernel"]),
    )
    for label, timer in rows:
        print(
            f"  {label:36s} {timer.seconds:8.2f} s  {100 * timer.seconds / wall:5.1f} %  "
            f"{timer.calls:>10,} calls  {1e6 * timer.seconds / max(timer.calls, 1):8.1f} µs/call"
        )
    print(
        f"  {'rest (model, SimPy, trace)':36s} {wall - inside:8.2f} s  "
        f"{100 * (wall - inside) / wall:5.1f} %"
    )
    sketch = timers["sketch"]
    print(
        f"  {'  of which latency sketches':36s} {sketch.seconds:8.2f} s  "
        f"{100 * sketch.seconds / wall:5.1f} %  {sketch.calls:>10,} calls  "
        f"{1e6 * sketch.seconds / max(sketch.calls, 1):8.1f} µs/call"
    )
    window = timers["window"]
    print(
        f"  {'(ServiceSite.window, incl. kernels)':36s} {window.seconds:8.2f} s  "
        f"{100 * window.seconds / wall:5.1f} %  {window.calls:>10,} calls  "
        f"{1e6 * window.seconds / max(window.calls, 1):8.1f} µs/call"
    )
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.profile)
        print("\ncProfile, by own time (timers above include cProfile overhead)")
        print(text.getvalue())


if __name__ == "__main__":
    main()
