"""Trace replay speed: jobs simulated per wall second when a log is replayed
(``workloads.training.trace``) against the synthetic generator on the same machine with the
same load, side by side in one process (alternating, median of the repeats).

The synthetic twin of each trace has the trace's arrival rate and draws its sizes and run
times from the trace's own values (empirical distributions of a CSV written here), so both
runs schedule the same kind of work; the replay also pays for reading the trace. Traces:
Lublin-1 (10,000 jobs, 256 nodes, FCFS) and the Alibaba 2023 GPU pod list (8,152 pods, of
which 6,203 GPU pods replayed, on its 6,212 GPUs, EASY backfilling).

Usage::

    python benchmarks/bench_replay.py            # median of 3
    python benchmarks/bench_replay.py --quick    # one of each
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

CASES = {
    "lublin_256 (SWF)": ("builtin:lublin_256.swf.gz", "swf", 256, "fcfs", "200d"),
    "alibaba_gpu_2023": (
        "builtin:alibaba_gpu_2023_pods.csv.gz",
        "alibaba_gpu_2023",
        6212,
        "easy_backfill",
        "160d",
    ),
}


def scenario(size: int, scheduler: str, horizon: str, workload: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "replay_bench",
        "start": "2026-01-01",
        "horizon": horizon,
        "seed": 1,
        "accelerators": {"gpu": {"tdp_w": 400, "bf16_tflops": 312, "memory_gb": 80}},
        "sites": [
            {
                "id": "machine",
                "lat": 50.0,
                "lon": 10.0,
                "pools": [{"accelerator": "gpu", "count": size}],
                "power_mw": 100_000,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 50,
            }
        ],
        "tenants": {"all": {"share": 1}},
        "workloads": {"training": workload},
        "policies": {"scheduler": scheduler},
        "telemetry": {"interval": "1d"},
    }


def timed(data: dict[str, Any]) -> tuple[float, int]:
    """(wall seconds, jobs submitted) of loading and running a scenario in this process."""
    from twin.config import validate_scenario
    from twin.model.world import World, check_policies

    started = time.perf_counter()
    world = World(validate_scenario(data, checks=(check_policies,)), keep_jobs=False)
    world.run()
    return time.perf_counter() - started, world.submitted


def synthetic_twin(file: str, format_name: str, folder: Path) -> dict[str, Any]:
    """A synthetic workload with the trace's rate and its own sizes and run times."""
    from twin.config.data_files import trace_file
    from twin.importers import read_workload

    table = read_workload("jobs", format_name, trace_file(file)).table
    submits = table.column("submit_s").to_numpy()
    samples = folder / f"{format_name}.csv"
    sizes = table.column("accelerators").to_numpy()
    runs = table.column("duration_s").to_numpy()
    rows = "\n".join(f"{a},{r}" for a, r in zip(sizes, runs, strict=True))
    samples.write_text("accelerators,duration_s\n" + rows + "\n")
    span_days = (submits.max() - submits.min()) / 86400
    return {
        "arrivals_per_day": len(submits) / span_days,
        "accelerators": {"dist": "empirical", "file": str(samples), "column": "accelerators"},
        "duration_s": {"dist": "empirical", "file": str(samples), "column": "duration_s"},
        "stop_after": f"{span_days:.3f}d",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of each")
    repeats = 1 if parser.parse_args().quick else 3
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (file, format_name, size, scheduler, horizon) in CASES.items():
            replay = {"trace": {"file": file, "format": format_name, "site": "machine"}}
            synthetic = synthetic_twin(file, format_name, Path(tmp))
            runs: dict[str, list[tuple[float, int]]] = {"replay": [], "synthetic": []}
            for k in range(repeats):
                order = [("replay", replay), ("synthetic", synthetic)]
                for kind, workload in order if k % 2 == 0 else order[::-1]:
                    runs[kind].append(timed(scenario(size, scheduler, horizon, workload)))
            rates = {
                kind: statistics.median(jobs / seconds for seconds, jobs in values)
                for kind, values in runs.items()
            }
            jobs = {kind: values[0][1] for kind, values in runs.items()}
            print(f"{name}, {size} accelerators, {scheduler}, median of {repeats}:")
            for kind in ("replay", "synthetic"):
                seconds = statistics.median(s for s, _ in runs[kind])
                print(
                    f"  {kind:9s} {jobs[kind]:7,d} jobs  {seconds:6.2f} s  "
                    f"{rates[kind]:9,.0f} jobs/s"
                )
            print(f"  replay / synthetic speed: {rates['replay'] / rates['synthetic']:.2f}×")


if __name__ == "__main__":
    main()
