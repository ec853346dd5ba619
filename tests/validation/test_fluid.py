"""The ``fluid`` inference fidelity against ``request`` (the per-request kernels).

Both fidelities run the same scenario and seed. They draw the same Poisson count per window
(``fluid`` skips the draws ``request`` makes next, :func:`twin.model.fluid.skip_request_draws`),
so arrivals agree exactly and the comparison is paired. Compared, over the windows both
record (same service, site and window, after a warm-up for the percentiles): totals of
served and dropped requests, and the served-weighted mean of the per-window percentiles.

Set-ups (flat demand, one region at the site, so round trips are 0):

* ``single``: 2 replicas × 8 servers (c = 16), lognormal service times (median 20 ms,
  σ 0.5, at most 1 s: the ``embed`` service of ``europe``), 60 s windows, half an hour.
* ``llm``: replicas of a 70B model on 8 H100s (Sarathi, 64 slots, 512-token budget),
  prompts uniform on 200–2,000 and outputs on 20–400 tokens, 5 min windows.

Tolerances: served and dropped within 1 %, p50 within 5 %, p99 within 15 %. ``request``'s
own noise, measured over seeds 1–4 with these set-ups: single p99 ±2 % at ρ = 0.95, less
below; llm E2E and TPOT p99 ±3 %. ``llm`` TTFT is checked up to ρ = 0.7: above, the
replica's slot queue relaxes in minutes (about ``1 / (R (1 − √ρ)²)``: 10 min at 0.95), so a
window's TTFT percentiles swing with the queue's excursions and ``request``'s run-to-run
spread of the TTFT p99 reaches ±30 % over hours; ``fluid`` reports the stationary law, and
:func:`test_llm_ttft_at_high_load_is_the_stationary_law` says what holds there.

Where fluid breaks: overload transients (:func:`test_an_overload_transient_conserves_but_its_latencies_depart`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from twin.config import validate_scenario
from twin.model.iteration import iteration_model
from twin.model.world import check_policies
from twin.simulation import simulate
from twin.trace.reader import open_run

UTILISATIONS = (0.3, 0.5, 0.7, 0.9, 0.95)
H100 = {"tdp_w": 700.0, "idle_w": 100.0, "bf16_tflops": 989.0, "memory_gb": 80.0, "hbm_tbps": 3.35}
LOGNORMAL = {"dist": "lognormal", "median": 0.02, "sigma": 0.5, "max": 1.0}
SERVERS, SINGLE_REPLICAS = 8, 2
LLM_REPLICAS = 2
PROMPT = {"dist": "uniform", "low": 200, "high": 2000}
OUTPUT = {"dist": "uniform", "low": 20, "high": 400}

# ---------------------------------------------------------------- scenarios


def scenario(
    service: dict[str, Any],
    *,
    accelerators: int,
    horizon: float,
    window: float,
    fidelity: str,
    seed: int = 0,
    diurnal: list[float] | None = None,
) -> dict[str, Any]:
    """One site, one region at its coordinates, one service; demand flat unless ``diurnal``."""
    return {
        "name": "fluid",
        "start": "2026-03-02T00:00:00",
        "horizon": horizon,
        "seed": seed,
        "accelerators": {"H100": H100},
        "sites": [
            {
                "id": "a",
                "lat": 50.0,
                "lon": 10.0,
                "pools": [{"accelerator": "H100", "count": accelerators}],
                "power_mw": 100.0,
                "pue": 1.2,
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
                "fidelity": fidelity,
                "diurnal": diurnal or [1.0] * 24,
                "regions": [{"id": "r", "lat": 50.0, "lon": 10.0, "share": 1.0}],
                "services": [service],
            }
        },
    }


def single_service(utilisation: float, **extra: Any) -> dict[str, Any]:
    """The ``single`` set-up at ``utilisation`` of its c = 16 servers."""
    mean_s = 0.02 * np.exp(0.5**2 / 2)  # the lognormal's (its 1 s cap is 10^-9 away)
    return {
        "id": "embed",
        "kind": "single",
        "peak_rps": utilisation * SERVERS * SINGLE_REPLICAS / mean_s,
        "replicas": {"a": SINGLE_REPLICAS},
        "service_s": LOGNORMAL,
        "servers_per_replica": SERVERS,
        **extra,
    }


def llm_service(utilisation: float, replicas: int = LLM_REPLICAS, **extra: Any) -> dict[str, Any]:
    """The ``llm`` set-up at ``utilisation`` of the replicas' saturation rate."""
    service = {
        "id": "chat",
        "kind": "llm",
        "peak_rps": 1.0,
        "replicas": {"a": replicas},
        "model": {"parameters_b": 70, "kv_bytes_per_token": 327680},
        "accelerators_per_replica": 8,
        "prompt_tokens": PROMPT,
        "output_tokens": OUTPUT,
        **extra,
    }
    probe = build(scenario(service, accelerators=8, horizon=60, window=60, fidelity="request"))
    spec = probe.workloads.inference.services[0]
    model = iteration_model(spec, probe.accelerators["H100"])
    saturation = model.throughput_rps(
        spec.max_batch, 1100, 210, spec.token_budget, scheduler=spec.scheduler
    )
    return {**service, "peak_rps": utilisation * replicas * saturation}


def build(data: dict[str, Any]):
    return validate_scenario(data, checks=(check_policies,))


def run_table(data: dict[str, Any], out: Path) -> pa.Table:
    simulate(build(data), out=out)
    return open_run(out).table("inference")


def both(make: Any, tmp_path: Path) -> tuple[pa.Table, pa.Table]:
    """``make(fidelity)`` run under each fidelity: (request table, fluid table)."""
    return (
        run_table(make("request"), tmp_path / "request"),
        run_table(make("fluid"), tmp_path / "fluid"),
    )


# ---------------------------------------------------------------- comparing tables


def column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def overlap(request: pa.Table, fluid: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The rows of both tables for the (service, site, window) they share, in one order."""

    def keys(table: pa.Table) -> list[tuple]:
        return list(
            zip(
                column(table, "service"),
                column(table, "site"),
                column(table, "time_s"),
                strict=True,
            )
        )

    shared = sorted(set(keys(request)) & set(keys(fluid)))
    assert len(shared) > 0.9 * max(request.num_rows, fluid.num_rows)

    def pick(table: pa.Table) -> pa.Table:
        where = {key: i for i, key in enumerate(keys(table))}
        return table.take(pa.array([where[key] for key in shared]))

    return pick(request), pick(fluid)


def weighted_percentile(table: pa.Table, name: str, after_s: float) -> float:
    """Served-weighted mean over the windows ending after ``after_s`` of column ``name``."""
    values = column(table, name).astype(float)
    weights = column(table, "served").astype(float)
    keep = (column(table, "time_s") > after_s) & np.isfinite(values) & (weights > 0)
    return float((values[keep] * weights[keep]).sum() / weights[keep].sum())


def relative(fluid: float, request: float) -> float:
    return fluid / request - 1 if request else (0.0 if fluid == request else np.inf)


def check_agreement(
    request: pa.Table, fluid: pa.Table, percentiles: tuple[str, ...], after_s: float
) -> dict[str, tuple[float, float]]:
    """Assert the tolerances on the shared windows; the compared values, for messages."""
    request, fluid = overlap(request, fluid)
    np.testing.assert_array_equal(column(request, "arrivals"), column(fluid, "arrivals"))
    seen = {}
    for name in ("served", "dropped"):
        seen[name] = (float(column(request, name).sum()), float(column(fluid, name).sum()))
    for name in percentiles:
        seen[name] = (
            weighted_percentile(request, name, after_s),
            weighted_percentile(fluid, name, after_s),
        )
    errors = {name: relative(f, r) for name, (r, f) in seen.items()}
    print({name: f"{r:.1f} / {f:.1f} ({errors[name]:+.1%})" for name, (r, f) in seen.items()})
    for name, error in errors.items():
        tolerance = 0.01 if name in ("served", "dropped") else 0.05 if "p50" in name else 0.15
        assert abs(error) <= tolerance, (name, seen[name], error)
    return seen


# ---------------------------------------------------------------- agreement


@pytest.mark.parametrize("utilisation", UTILISATIONS)
def test_single_agrees_with_request(utilisation: float, tmp_path: Path) -> None:
    request, fluid = both(
        lambda fidelity: scenario(
            single_service(utilisation),
            accelerators=8,
            horizon=1800.0,
            window=60.0,
            fidelity=fidelity,
        ),
        tmp_path,
    )
    check_agreement(request, fluid, ("latency_p50_ms", "latency_p99_ms"), after_s=120.0)


@pytest.mark.parametrize("utilisation", UTILISATIONS)
def test_llm_agrees_with_request(utilisation: float, tmp_path: Path) -> None:
    percentiles = ["latency_p50_ms", "latency_p99_ms", "tpot_p50_ms", "tpot_p99_ms"]
    if utilisation <= 0.7:
        percentiles += ["ttft_p50_ms", "ttft_p99_ms"]
    request, fluid = both(
        lambda fidelity: scenario(
            llm_service(utilisation),
            accelerators=8 * LLM_REPLICAS,
            horizon=4 * 3600.0,
            window=300.0,
            fidelity=fidelity,
        ),
        tmp_path,
    )
    check_agreement(request, fluid, tuple(percentiles), after_s=600.0)
