"""What replaying an inference trace costs in wall time: the Azure LLM conversation trace
(looped) against a synthetic service of the same mean rate with the trace's prompt and
output lengths as empirical distributions, side by side (fresh processes, alternating so
that the machine's drift hits both alike). Both serve the same number of requests per
simulated hour on the same replicas; the aim is a ratio near 1 (the replay replaces the
Poisson and length draws by slicing arrays).

Usage::

    python benchmarks/bench_request_trace.py            # 6 h, median of 3 pairs
    python benchmarks/bench_request_trace.py --quick    # 1 h, one pair
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

import yaml

AZURE = "builtin:azure_llm_conversation_tokens.csv.gz"
TRACE_RPS = 19366 / 3501.72
"""Requests/s of the Azure trace over its span (19,366 requests in 3,501.7 s)."""


def scenario(traced: bool, horizon: str) -> dict:
    service = {
        "id": "chat",
        "kind": "llm",
        "replicas": {"a": 3},
        "model": {"parameters_b": 70, "kv_bytes_per_token": 327680},
        "accelerators_per_replica": 8,
    }
    if traced:
        service["trace"] = {"file": AZURE, "loop": True}
    else:
        service["peak_rps"] = TRACE_RPS
        for key, column in (
            ("prompt_tokens", "num_prefill_tokens"),
            ("output_tokens", "num_decode_tokens"),
        ):
            service[key] = {"dist": "empirical", "file": AZURE, "column": column}
    return {
        "name": "traced" if traced else "synthetic",
        "start": "2026-03-02T00:00:00",
        "horizon": horizon,
        "seed": 1,
        "accelerators": {
            "H100": {
                "tdp_w": 700,
                "idle_w": 100,
                "bf16_tflops": 989,
                "memory_gb": 80,
                "hbm_tbps": 3.35,
            }
        },
        "sites": [
            {
                "id": "a",
                "lat": 50.0,
                "lon": 10.0,
                "pools": [{"accelerator": "H100", "count": 32}],
                "power_mw": 10,
                "pue": 1.2,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 50,
            }
        ],
        "tenants": {"academia": {"share": 1.0}},
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": "10m"},
        "workloads": {
            "inference": {
                "window": 10,
                "routing": "nearest",
                "diurnal": [1.0] * 24,
                "regions": [{"id": "r", "lat": 50.0, "lon": 10.0, "share": 1.0}],
                "services": [service],
            }
        },
    }


def timed_run(config: Path, out: Path) -> float:
    """Wall time [s] of ``twin run CONFIG`` in a fresh process."""
    command = [sys.executable, "-m", "twin", "run", str(config), "-q", "--out", str(out)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"twin run {config.name} failed: {result.stdout}{result.stderr}")
    return time.perf_counter() - started


def arrivals(out: Path) -> int:
    from twin.trace.reader import open_run

    return int(open_run(out).table("inference").column("arrivals").to_numpy().sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 h, one pair")
    options = parser.parse_args()
    horizon, pairs = ("1h", 1) if options.quick else ("6h", 3)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f} at start")
    subprocess.run([sys.executable, "-m", "twin", "compile"], capture_output=True, check=False)
    with tempfile.TemporaryDirectory() as tmp:
        configs = {}
        for traced in (False, True):
            configs[traced] = Path(tmp) / f"{'traced' if traced else 'synthetic'}.yaml"
            configs[traced].write_text(yaml.safe_dump(scenario(traced, horizon)))
        times: dict[bool, list[float]] = {False: [], True: []}
        for k in range(pairs):
            order = [False, True] if k % 2 == 0 else [True, False]
            for traced in order:
                out = Path(tmp) / f"{'traced' if traced else 'synthetic'}{k}"
                times[traced].append(timed_run(configs[traced], out))
        counts = {
            traced: arrivals(Path(tmp) / f"{'traced' if traced else 'synthetic'}0")
            for traced in times
        }
    synthetic, traced = statistics.median(times[False]), statistics.median(times[True])
    print(f"llm service at {TRACE_RPS:.2f} req/s, {horizon}, median of {pairs}:")
    print(
        f"  synthetic (Poisson, empirical lengths)  {synthetic:6.1f} s   {counts[False]:,} requests"
    )
    print(f"  Azure trace replay (looped)             {traced:6.1f} s   {counts[True]:,} requests")
    print(f"  ratio                                   {traced / synthetic:6.2f}×")


if __name__ == "__main__":
    main()
