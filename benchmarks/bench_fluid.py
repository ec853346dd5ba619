"""``fluid`` against ``request``: the agreement table, and the speed-up on ``europe``.

1. **Agreement**: the set-ups of ``tests/validation/test_fluid.py`` (one site, one region
   at it, flat Poisson demand; ``single``: c = 16 servers with lognormal service times,
   30 min of 60 s windows; ``llm``: two replicas of a 70B model on 8 H100s, Sarathi,
   4 h of 5 min windows) at utilisations 0.3 … 0.95, run under both fidelities with the
   same seed. Per kind and utilisation: served and dropped over the run, and the
   served-weighted mean of the windows' p50 and p99 (``single``: latency; ``llm``: TTFT,
   TPOT and end-to-end), request / fluid and fluid's relative error, and the wall time of
   each run (model only, no trace written).
2. **Speed** (skipped with ``--no-europe``): ``twin run europe --horizon H --set
   workloads.inference.fidelity=F`` for F = request, fluid (default H = 28d; ``--quick``:
   2d), as the CLI runs it (training, transfers and the trace included): wall time of
   each, and the ratio; then the same with training off, to see inference's own share.

Run: ``python benchmarks/bench_fluid.py [--quick] [--horizon 28d] [--no-europe]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from twin.config import validate_scenario
from twin.model.iteration import iteration_model
from twin.model.recorder import Recorder
from twin.model.world import World, check_policies
from twin.trace.schema import INFERENCE

UTILISATIONS = (0.3, 0.5, 0.7, 0.9, 0.95)
LLM_METRICS = ("ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms")
LLM_METRICS += ("latency_p50_ms", "latency_p99_ms")
H100 = {"tdp_w": 700.0, "idle_w": 100.0, "bf16_tflops": 989.0, "memory_gb": 80.0, "hbm_tbps": 3.35}


class Rows(Recorder):
    """Keeps the inference rows in memory (no trace written)."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def inference_sample(self, row: tuple) -> None:
        self.rows.append(row)


def scenario(service: dict[str, Any], accelerators: int, horizon: float, window: float) -> dict:
    return {
        "name": "fluid",
        "start": "2026-03-02T00:00:00",
        "horizon": horizon,
        "seed": 0,
        "accelerators": {"H100": H100},
        "sites": [
            {
                "id": "a",
                "lat": 50.0,
                "lon": 10.0,
                "pools": [{"accelerator": "H100", "count": accelerators}],
                "power_mw": 100.0,
                "carbon_gco2_per_kwh": 100.0,
                "price_eur_per_mwh": 50.0,
            }
        ],
        "tenants": {"academia": {"share": 1.0}},
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": horizon},
        "workloads": {
            "inference": {
                "window": window,
                "routing": "nearest",
                "diurnal": [1.0] * 24,
                "regions": [{"id": "r", "lat": 50.0, "lon": 10.0, "share": 1.0}],
                "services": [service],
            }
        },
    }


def single_case(utilisation: float) -> dict:
    mean_s = 0.02 * np.exp(0.125)
    service = {
        "id": "embed",
        "kind": "single",
        "peak_rps": utilisation * 16 / mean_s,
        "replicas": {"a": 2},
        "service_s": {"dist": "lognormal", "median": 0.02, "sigma": 0.5, "max": 1.0},
        "servers_per_replica": 8,
    }
    return scenario(service, 8, 1800.0, 60.0)


def llm_case(utilisation: float) -> dict:
    service = {
        "id": "chat",
        "kind": "llm",
        "peak_rps": 1.0,
        "replicas": {"a": 2},
        "model": {"parameters_b": 70, "kv_bytes_per_token": 327680},
        "accelerators_per_replica": 8,
        "prompt_tokens": {"dist": "uniform", "low": 200, "high": 2000},
        "output_tokens": {"dist": "uniform", "low": 20, "high": 400},
    }
    probe = validate_scenario(scenario(service, 16, 60.0, 60.0))
    spec = probe.workloads.inference.services[0]
    model = iteration_model(spec, probe.accelerators["H100"])
    saturation = model.throughput_rps(spec.max_batch, 1100, 210, spec.token_budget, "sarathi")
    service["peak_rps"] = utilisation * 2 * saturation
    return scenario(service, 16, 4 * 3600.0, 300.0)


def run(data: dict, fidelity: str) -> tuple[dict[str, np.ndarray], float]:
    """The inference columns of a run under ``fidelity``, and its wall time [s]."""
    data["workloads"]["inference"]["fidelity"] = fidelity
    rows = Rows()
    world = World(validate_scenario(data, checks=(check_policies,)), recorder=rows)
    began = time.perf_counter()
    world.run(steps=1)
    world.finish()
    wall = time.perf_counter() - began
    names = INFERENCE.names
    table = {
        name: np.array([np.nan if r[i] is None else r[i] for r in rows.rows], dtype=float)
        for i, name in enumerate(names)
        if name not in ("service", "site")
    }
    return table, wall


def summary(table: dict[str, np.ndarray], metrics: tuple[str, ...], after_s: float) -> dict:
    served = table["served"]
    out = {"served": served.sum(), "dropped": table["dropped"].sum()}
    for name in metrics:
        values = table[name]
        keep = (table["time_s"] > after_s) & np.isfinite(values) & (served > 0)
        out[name] = float((values[keep] * served[keep]).sum() / served[keep].sum())
    return out


def agreement() -> None:
    print("Agreement (request / fluid, fluid's relative error); wall time request / fluid")
    cases = (
        ("single", single_case, ("latency_p50_ms", "latency_p99_ms"), 120.0),
        (
            "llm",
            llm_case,
            LLM_METRICS,
            600.0,
        ),
    )
    for kind, make, metrics, after_s in cases:
        names = ["served", "dropped", *metrics]
        head = " | ".join(f"{name.removesuffix('_ms'):>27}" for name in names)
        print(f"\n{kind:>6} ρ    | {head} | wall (s)")
        for utilisation in UTILISATIONS:
            request, wall_request = run(make(utilisation), "request")
            fluid, wall_fluid = run(make(utilisation), "fluid")
            r, f = summary(request, metrics, after_s), summary(fluid, metrics, after_s)
            cells = []
            for name in names:
                error = f[name] / r[name] - 1 if r[name] else 0.0
                cells.append(f"{r[name]:>9.1f} / {f[name]:>9.1f} {error:+6.1%}")
            print(
                f"{kind:>6} {utilisation:<4} | "
                + " | ".join(cells)
                + f" | {wall_request:.2f} / {wall_fluid:.2f}"
            )


def europe(horizon: str, training: bool) -> None:
    extra = [] if training else ["--set", "workloads.training.enabled=false"]
    walls = {}
    with tempfile.TemporaryDirectory() as folder:
        for fidelity in ("request", "fluid"):
            command = ["twin", "run", "europe", "--horizon", horizon, *extra]
            command += ["--set", f"workloads.inference.fidelity={fidelity}"]
            command += ["--out", str(Path(folder) / fidelity)]
            began = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            walls[fidelity] = time.perf_counter() - began
            print(f"  {' '.join(command[:-2])}: {walls[fidelity]:.1f} s", flush=True)
    print(f"  speed-up {walls['request'] / walls['fluid']:.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="europe over 2 days, not 28")
    parser.add_argument("--horizon", help="europe's simulated span (default 28d)")
    parser.add_argument("--no-europe", action="store_true", help="the agreement table only")
    args = parser.parse_args()
    agreement()
    if args.no_europe:
        return
    horizon = args.horizon or ("2d" if args.quick else "28d")
    print(f"\nSpeed on europe, {horizon} (CLI, trace written)")
    europe(horizon, training=True)
    print("  with training off:")
    europe(horizon, training=False)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
