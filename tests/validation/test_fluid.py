"""The ``fluid`` inference fidelity against ``request`` (the per-request kernels).

Both fidelities run the same scenario and seed. They draw the same Poisson count per window
(``fluid`` skips the draws ``request`` makes next, :func:`twin.model.fluid.skip_request_draws`),
so arrivals agree exactly and the comparison is paired. Compared, over the windows both
record (same service, site and window, after a warm-up for the percentiles): totals of
served and dropped requests, and the served-weighted mean of the per-window percentiles.

Set-ups (flat demand, one region at the site, so round trips are 0):

* ``single``: 2 replicas × 8 servers (c = 16), lognormal service times (median 20 ms,
  σ 0.5, at most 1 s: the ``embed`` service of ``europe``), 60 s windows, half an hour.
* ``llm``: two replicas of a 70B model on 8 H100s each (Sarathi or vLLM, 64 slots,
  512-token budget), prompts uniform on 200–2,000 and outputs on 20–400 tokens, 4 h of
  5 min windows.

Also: conservation per window and per region, determinism, and a rate no per-request model
could run (:func:`test_fluid_costs_the_same_at_ten_million_requests_per_second`).

Tolerances: served and dropped within 1 %, p50 within 5 %, p99 within 15 %. ``request``'s
own noise (relative s.d. over seeds 0–4 of these set-ups): single p50 and p99 at most 1.1 %;
llm E2E and TPOT at most 0.9 %, TTFT 0.5 % up to ρ = 0.7. ``llm`` TTFT is checked up to
ρ = 0.7 only: above, the slot queue of a replica relaxes in minutes (about ``1 / (R (1 −
√ρ)²)``, 10 min at 0.95), a 5-minute window sees its excursions, and ``fluid``'s stationary
law overstates the windows' TTFT tail (:func:`test_llm_ttft_at_high_load_is_conservative`).

Where fluid breaks: the onset of an overload, when the queue fills within a window
(:func:`test_an_llm_overload_transient_conserves_but_its_onset_departs`,
:func:`test_a_single_overload_with_a_timeout_drops_like_request`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from twin.config import validate_scenario
from twin.config.yaml_input import LARGE_LIMITS
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


@pytest.mark.parametrize("scheduler", ["sarathi", "vllm"])
@pytest.mark.parametrize("utilisation", UTILISATIONS)
def test_llm_agrees_with_request(utilisation: float, scheduler: str, tmp_path: Path) -> None:
    percentiles = ["latency_p50_ms", "latency_p99_ms", "tpot_p50_ms", "tpot_p99_ms"]
    if utilisation <= 0.7:
        percentiles += ["ttft_p50_ms", "ttft_p99_ms"]
    request, fluid = both(
        lambda fidelity: scenario(
            llm_service(utilisation, scheduler=scheduler),
            accelerators=8 * LLM_REPLICAS,
            horizon=4 * 3600.0,
            window=300.0,
            fidelity=fidelity,
        ),
        tmp_path,
    )
    check_agreement(request, fluid, tuple(percentiles), after_s=600.0)


def test_llm_ttft_at_high_load_is_conservative(tmp_path: Path) -> None:
    """At ρ = 0.9 and 0.95 the windows' TTFT tail is below fluid's stationary law (see the
    module doc: by a fifth to two thirds at p99 in this set-up), and the medians within 10 %; fluid
    errs on the side of longer waits, and E2E and TPOT still agree
    (:func:`test_llm_agrees_with_request`)."""
    for utilisation in (0.9, 0.95):
        request, fluid = both(
            lambda fidelity, u=utilisation: scenario(
                llm_service(u),
                accelerators=8 * LLM_REPLICAS,
                horizon=4 * 3600.0,
                window=300.0,
                fidelity=fidelity,
            ),
            tmp_path / str(utilisation),
        )
        request, fluid = overlap(request, fluid)
        for name, low, high in (("ttft_p50_ms", 0.93, 1.10), ("ttft_p99_ms", 1.0, 2.0)):
            ratio = weighted_percentile(fluid, name, 600.0) / weighted_percentile(
                request, name, 600.0
            )
            print(f"rho {utilisation} {name}: fluid / request = {ratio:.2f}")
            assert low <= ratio <= high


# ---------------------------------------------------------------- where fluid breaks

RAMP = [0.5] * 24
RAMP[1] = 1.0
"""Demand at 0.6 × capacity, up to 1.2 × at 01:30 and back by 02:30 (linear between hour
centres): overloaded from about 01:10 to 01:50."""


def transient_rows(make: Any, tmp_path: Path) -> tuple[pa.Table, pa.Table]:
    request, fluid = overlap(*both(make, tmp_path))
    np.testing.assert_array_equal(column(request, "arrivals"), column(fluid, "arrivals"))
    for table in (request, fluid):  # arrivals = served + dropped + in the system at the end
        arrived, served, dropped = (
            column(table, n).sum() for n in ("arrivals", "served", "dropped")
        )
        assert arrived == served + dropped + column(table, "in_system")[-1]
    return request, fluid


def window_errors(request: pa.Table, fluid: pa.Table, name: str, hours: tuple[float, float]):
    at = column(request, "time_s") / 3600
    keep = (at >= hours[0]) & (at <= hours[1])
    return column(fluid, name)[keep] / column(request, name)[keep] - 1


def test_an_llm_overload_transient_conserves_but_its_onset_departs(tmp_path: Path) -> None:
    """Two replicas with a waiting-queue limit of 256 each, demand ramped to 1.2 × their
    saturation rate and back. What holds: served within 1 % and dropped within 10 % over
    the run (the backlog fills the queues, then drains, in both), the peak of requests in
    the system (slots + full queues) within 5 %, the TTFT median of the windows before and
    after within 5 %. What breaks: while the queues fill (the window ending 01:11),
    ``request``'s TTFT median is 9 × fluid's, whose backlog starts only once the load
    passes capacity; and with the queues full, fluid's waits are the backlog's alone."""
    request, fluid = transient_rows(
        lambda fidelity: scenario(
            llm_service(1.2, max_queue=256),
            accelerators=8 * LLM_REPLICAS,
            horizon=4 * 3600.0,
            window=60.0,
            fidelity=fidelity,
            diurnal=RAMP,
        ),
        tmp_path,
    )
    served, dropped = (
        (column(request, name).sum(), column(fluid, name).sum()) for name in ("served", "dropped")
    )
    print(f"served {served}, dropped {dropped}")
    assert abs(relative(served[1], served[0])) < 0.01
    assert dropped[0] > 1000 and abs(relative(dropped[1], dropped[0])) < 0.10
    peak = column(request, "in_system").max(), column(fluid, "in_system").max()
    assert abs(relative(peak[1], peak[0])) < 0.05
    assert max(column(request, "in_system")[-1], column(fluid, "in_system")[-1]) < 100
    for hours in ((0.2, 0.8), (2.6, 4.0)):
        calm = weighted_percentile(request.filter(_within(request, hours)), "ttft_p50_ms", 0)
        calm_fluid = weighted_percentile(fluid.filter(_within(fluid, hours)), "ttft_p50_ms", 0)
        assert abs(relative(calm_fluid, calm)) < 0.05
    onset = window_errors(request, fluid, "ttft_p50_ms", (1.0, 1.3))
    print(f"onset TTFT p50 errors {np.round(onset, 2)}")
    assert onset.min() < -0.5


def test_a_single_overload_with_a_timeout_drops_like_request(tmp_path: Path) -> None:
    """c = 16 servers with a 1 s timeout through the same ramp: the timeout bounds the queue
    at ``1 s × capacity`` requests, and the excess is dropped. What holds: served and
    dropped within 1 % over the run, and the windows' p50 and p99 within 5 % and 15 %
    while the queue is full (waits at the timeout) and after. What breaks: the p99 of the
    windows where the queue fills (fluid's stationary law near ρ = 1 is reached within a
    window, ``request``'s queue needs longer): more than twice ``request``'s."""
    request, fluid = transient_rows(
        lambda fidelity: scenario(
            single_service(1.2, timeout_s=1.0),
            accelerators=8,
            horizon=4 * 3600.0,
            window=60.0,
            fidelity=fidelity,
            diurnal=RAMP,
        ),
        tmp_path,
    )
    for name in ("served", "dropped"):
        pair = column(request, name).sum(), column(fluid, name).sum()
        print(f"{name} {pair}")
        assert pair[0] > 0 and abs(relative(pair[1], pair[0])) < 0.01
    for hours in ((1.25, 1.75), (2.5, 4.0)):
        for name, tolerance in (("latency_p50_ms", 0.05), ("latency_p99_ms", 0.15)):
            errors = window_errors(request, fluid, name, hours)
            assert np.abs(errors).max() < tolerance, (hours, name, errors)
    onset = window_errors(request, fluid, "latency_p99_ms", (1.0, 1.25))
    print(f"onset p99 errors {np.round(onset, 2)}")
    assert onset.max() > 1.0


def _within(table: pa.Table, hours: tuple[float, float]) -> pa.Array:
    at = column(table, "time_s") / 3600
    return pa.array((at >= hours[0]) & (at <= hours[1]))


# ---------------------------------------------------------------- bookkeeping


def two_regions(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with a second region 600 km east of the site (round trip ≈ 7.6 ms) holding
    a third of the demand, and a telemetry interval of 15 min."""
    inference = data["workloads"]["inference"]
    inference["regions"] = [
        {"id": "near", "lat": 50.0, "lon": 10.0, "share": 2.0},
        {"id": "far", "lat": 50.0, "lon": 18.4, "share": 1.0},
    ]
    data["telemetry"] = {"interval": 900.0}
    return data


def test_fluid_conserves_per_window_and_per_region(tmp_path: Path) -> None:
    """Two regions at different round trips, both kinds. Per site, requests in the system
    are the running sum of arrivals − served − dropped; per interval the regions' tallies
    sum to the sites'; the same seed gives the same bytes; and the round-trip mixture moves
    the percentiles as in ``request`` (within the tolerances)."""

    def make(fidelity: str) -> dict[str, Any]:
        data = scenario(
            single_service(0.7, slo={"latency_s": 0.05}),
            accelerators=24,
            horizon=7200.0,
            window=60.0,
            fidelity=fidelity,
        )
        data["workloads"]["inference"]["services"].append(
            llm_service(0.6, replicas=2, slo={"ttft_s": 0.2, "tpot_s": 0.02})
        )
        return two_regions(data)

    simulate(build(make("fluid")), out=tmp_path / "again")
    both_ = request, fluid = both(make, tmp_path)
    assert (tmp_path / "again" / "inference.arrow").read_bytes() == (
        tmp_path / "fluid" / "inference.arrow"
    ).read_bytes()
    run = open_run(tmp_path / "fluid")
    regions = run.table("inference_regions")
    for service in ("embed", "chat"):
        rows = fluid.filter(pa.array(column(fluid, "service") == service))
        flow = column(rows, "arrivals") - column(rows, "served") - column(rows, "dropped")
        np.testing.assert_array_equal(np.cumsum(flow), column(rows, "in_system"))
        mine = regions.filter(pa.array(column(regions, "service") == service))
        for name in ("arrivals", "served", "dropped", "slo_misses"):
            assert column(mine, name).sum() == column(rows, name).sum()
        far = mine.filter(pa.array(column(mine, "region") == "far"))
        assert column(far, "arrivals").sum() == pytest.approx(
            column(rows, "arrivals").sum() / 3, rel=0.01
        )
    misses = column(fluid, "slo_misses").sum(), column(request, "slo_misses").sum()
    print(f"SLO misses fluid {misses[0]}, request {misses[1]}")
    assert misses[0] > 0 and abs(relative(*misses)) < 0.15
    for service, names in (
        ("embed", ("latency_p50_ms", "latency_p99_ms")),
        ("chat", ("ttft_p50_ms", "ttft_p99_ms", "latency_p50_ms", "latency_p99_ms")),
    ):
        pair = [table.filter(pa.array(column(table, "service") == service)) for table in both_]
        check_agreement(*pair, names, after_s=300.0)


def test_fluid_costs_the_same_at_ten_million_requests_per_second(tmp_path: Path) -> None:
    """An hour at 10⁷ requests/s on 440,000 servers (ρ ≈ 0.52): 3.5 × 10¹⁰ requests, which
    no per-request model runs in a test, in a minute's windows of fixed-size arithmetic
    each; conserved, and as busy as the offered load."""
    service = single_service(0.5)
    service.update(peak_rps=1e7, replicas={"a": 1}, servers_per_replica=440_000)
    data = scenario(service, accelerators=8, horizon=3600.0, window=60.0, fidelity="fluid")
    # the input limit guards request's per-window arrays; fluid has none (--large-input)
    simulate(validate_scenario(data, checks=(check_policies,), limits=LARGE_LIMITS), out=tmp_path)
    table = open_run(tmp_path).table("inference")
    arrived = column(table, "arrivals").sum()
    assert arrived == pytest.approx(table.num_rows * 60 * 1e7, rel=1e-4)
    left = column(table, "in_system")[-1]
    assert arrived == column(table, "served").sum() + column(table, "dropped").sum() + left
    assert column(table, "busy").mean() == pytest.approx(
        1e7 * 0.02 * np.exp(0.125) / 440_000, rel=0.01
    )
