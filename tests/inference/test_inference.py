"""Inference model: conservation of requests, window-size independence, determinism.

Conservation: every request that arrived was served, dropped, or is still in the system at
the end — by the manifest's totals, by summing ``inference.arrow`` (the last window's
``in_system`` of every site is what remains), and by summing ``inference_regions.arrow``.
The scenarios make sure each way of dropping actually happens (queue limit, timeout, a
prompt that can never fit the KV cache), since a check over zero drops proves little.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin.kernels.window_stats import percentiles_ms

# ---------------------------------------------------------------- conservation


def last_in_system(kit: Any, table: pa.Table, service: str) -> int:
    """Σ over sites of ``in_system`` in the site's last recorded window."""
    total = 0
    mine = kit.rows(table, service=service)
    for site in set(kit.column(mine, "site")):
        at_site = kit.rows(mine, site=site)
        times = kit.column(at_site, "time_s")
        total += int(kit.column(at_site, "in_system")[np.argmax(times)])
    return total


def check_conservation(kit: Any, manifest: dict, table: pa.Table, regions: pa.Table) -> None:
    """The three books agree, and each balances: arrivals = served + dropped + in system."""
    for service, totals in manifest["inference"].items():
        mine = kit.rows(table, service=service)
        sums = {k: int(kit.column(mine, k).sum()) for k in ("arrivals", "served", "dropped")}
        left = last_in_system(kit, table, service)
        assert totals["in_system"] == left, service  # the totals say what is in flight
        assert totals["arrivals"] == totals["served"] + totals["dropped"] + left, service
        assert sums == {k: totals[k] for k in sums}, service
        by_region = kit.rows(regions, service=service)
        for key in ("arrivals", "served", "dropped"):
            assert int(kit.column(by_region, key).sum()) == totals[key], (service, key)
        # per region, at every interval: what arrived so far, less what was served or
        # dropped, is in the system; at the end that is the region's share of in_system
        left_by_region = 0
        for region in set(kit.column(by_region, "region")):
            mine_r = kit.rows(by_region, region=region)
            order = np.argsort(kit.column(mine_r, "time_s"), kind="stable")
            flow = (
                kit.column(mine_r, "arrivals")
                - kit.column(mine_r, "served")
                - kit.column(mine_r, "dropped")
            )[order]
            in_system = kit.column(mine_r, "in_system")[order]
            assert np.array_equal(np.cumsum(flow), in_system), (service, region)
            left_by_region += int(in_system[-1])
        assert left_by_region == totals["in_system"], service
        # a dropped request is an SLO miss; a served one may be
        misses = kit.column(mine, "slo_misses")
        assert np.all(misses >= kit.column(mine, "dropped"))
        assert np.all(misses <= kit.column(mine, "dropped") + kit.column(mine, "served"))


def overloaded_single(kit: Any, **limits: Any) -> dict:
    """Two sites of 2 servers (mean 50 ms, 40 req/s each) under 100 req/s: drops must happen."""
    return kit.single(
        "embed",
        peak_rps=100.0,
        replicas={"a": 1, "b": 1},
        servers=2,
        service_s={"dist": "exponential", "mean": 0.05},
        **limits,
    )


SMALL_KV = {
    "model": "calibrated",
    "c0_s": 0.01,
    "prefill_s_per_token": 2e-5,
    "decode_s_per_request": 1e-4,
    "decode_s_per_context_token": 1e-8,
    "kv_capacity_tokens": 6000,
}
"""A replica whose KV cache holds 6,000 tokens: longer requests can never be admitted."""


def llm_with_drops(kit: Any, **extra: Any) -> dict:
    return kit.llm(
        "chat",
        peak_rps=12.0,
        replicas={"a": 1, "b": 1},
        prompt={"dist": "uniform", "low": 100, "high": 6000},
        output={"dist": "uniform", "low": 10, "high": 300},
        iteration=SMALL_KV,
        max_batch=16,
        token_budget=256,
        **extra,
    )


def two_sites(kit: Any) -> list[dict]:
    return [kit.site("a", 16), kit.site("b", 16, lat=48.0, lon=2.0)]


def two_regions(kit: Any) -> list[dict]:
    return [kit.region("near_a", share=2.0), kit.region("near_b", lat=48.0, lon=2.0)]


@pytest.mark.parametrize(
    "limits",
    [
        {"max_queue": 5},
        {"timeout_s": 0.1},
        {"max_queue": 20, "timeout_s": 0.2},
    ],
    ids=["queue-limit", "timeout", "both"],
)
def test_single_conserves_requests(kit, tmp_path: Path, limits: dict) -> None:
    data = kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [overloaded_single(kit, **limits)],
        horizon=600.0,
        window=5.0,
        routing="slo_aware",
        interval=120.0,
    )
    manifest, table, regions = kit.run_trace(data, tmp_path / "run")
    totals = manifest["inference"]["embed"]
    assert totals["dropped"] > 0.05 * totals["arrivals"]
    assert totals["served"] > 0.5 * totals["arrivals"]
    check_conservation(kit, manifest, table, regions)


def test_llm_conserves_requests(kit, tmp_path: Path) -> None:
    """Drops by the queue limit and by prompts that can never fit the KV cache; requests
    still decoding at the end are in the system."""
    data = kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [llm_with_drops(kit, max_queue=8)],
        horizon=600.0,
        window=5.0,
        routing="slo_aware",
        interval=120.0,
    )
    manifest, table, regions = kit.run_trace(data, tmp_path / "run")
    totals = manifest["inference"]["chat"]
    # uniform prompt 100..6000 + output 10..300 > 6000 tokens for a few % of the requests
    assert totals["dropped"] > 0.01 * totals["arrivals"]
    assert totals["served"] > 0.1 * totals["arrivals"]
    assert last_in_system(kit, table, "chat") > 0
    check_conservation(kit, manifest, table, regions)


def test_both_kinds_in_one_run_conserve(kit, tmp_path: Path) -> None:
    data = kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [overloaded_single(kit, max_queue=10, timeout_s=0.3), llm_with_drops(kit)],
        horizon=300.0,
        window=3.0,
        routing="least_latency",
        interval=100.0,
    )
    manifest, table, regions = kit.run_trace(data, tmp_path / "run")
    assert set(manifest["inference"]) == {"embed", "chat"}
    check_conservation(kit, manifest, table, regions)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["single", "llm"]),
    peak_rps=st.floats(1.0, 120.0),
    max_queue=st.one_of(st.none(), st.integers(0, 30)),
    timeout_s=st.one_of(st.none(), st.floats(0.01, 2.0)),
    window=st.sampled_from([1.0, 2.5, 7.0, 20.0]),
    routing=st.sampled_from(["nearest", "least_latency", "slo_aware"]),
    seed=st.integers(0, 2**16),
)
def test_conservation_holds_for_any_parameters(
    kit, tmp_path_factory, kind, peak_rps, max_queue, timeout_s, window, routing, seed
) -> None:
    """Manifest, per-window table and per-region table balance for random services."""
    if kind == "single":
        service = overloaded_single(kit, max_queue=max_queue, timeout_s=timeout_s)
    else:  # an llm waiting queue of 0 is a config error: every request waits a little
        service = llm_with_drops(kit, max_queue=None if max_queue is None else max(1, max_queue))
    service["peak_rps"] = peak_rps if kind == "single" else peak_rps / 4
    data = kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [service],
        horizon=120.0,
        window=window,
        routing=routing,
        interval=50.0,
        seed=seed,
    )
    manifest, table, regions = kit.run_trace(data, tmp_path_factory.mktemp("run") / "r")
    check_conservation(kit, manifest, table, regions)


def test_world_totals_match_the_kernel_state(kit) -> None:
    """Without a trace: totals balance against the state the sites still carry."""
    data = kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [overloaded_single(kit, max_queue=10), llm_with_drops(kit, max_queue=8)],
        horizon=300.0,
        window=5.0,
    )
    world = kit.run_world(data)
    assert world.inference is not None
    single, chat = world.inference.services
    pending = sum(len(site.pending.done_s) for site in single.sites)
    assert single.totals["arrivals"] == single.totals["served"] + single.totals["dropped"] + (
        pending
    )
    running = sum(site.in_system() for site in chat.sites)
    assert running == sum(
        site.bank.n_waiting(r) + site.bank.n_running(r)
        for site in chat.sites
        for r in site.replicas
    )  # no replica drains here
    assert chat.totals["arrivals"] == chat.totals["served"] + chat.totals["dropped"] + running


# ---------------------------------------------------------------- windows and determinism


HORIZON_S = 2 * 3600.0


def evening(kit: Any, window: float, seed: int = 3) -> dict:
    """Two hours around the evening peak of the default diurnal profile, both kinds."""
    return kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [
            kit.single(
                "embed",
                peak_rps=40.0,
                replicas={"a": 2, "b": 2},
                servers=4,
                service_s={"dist": "lognormal", "median": 0.02, "sigma": 0.5},
            ),
            kit.llm("chat", peak_rps=1.0, replicas={"a": 1, "b": 1}),
        ],
        horizon=HORIZON_S,
        window=window,
        diurnal=None,
        seed=seed,
        start="2026-03-02T19:00:00",
        interval=1800.0,
    )


@pytest.fixture(scope="module")
def evening_runs(kit, tmp_path_factory) -> dict[str, tuple[dict, pa.Table, pa.Table]]:
    root = tmp_path_factory.mktemp("evening")
    return {
        "w5": kit.run_trace(evening(kit, 5.0), root / "w5"),
        "w10": kit.run_trace(evening(kit, 10.0), root / "w10"),
        "w10-again": kit.run_trace(evening(kit, 10.0), root / "w10-again"),
        "w10-seed4": kit.run_trace(evening(kit, 10.0, seed=4), root / "w10-seed4"),
    }


@pytest.mark.parametrize("service", ["embed", "chat"])
def test_window_size_does_not_change_totals(kit, evening_runs, service: str) -> None:
    """5 s and 10 s windows: demand over the same hours agrees within Poisson noise, and so
    do the shares served and the latencies (same queue, other random numbers)."""
    results = {}
    for name in ("w5", "w10"):
        manifest, table, _ = evening_runs[name]
        mine = kit.rows(table, service=service)
        # compare over the hours both runs recorded
        mine = mine.filter(pa.array(kit.column(mine, "time_s") <= HORIZON_S - 10.0))
        arrivals = int(kit.column(mine, "arrivals").sum())
        served = int(kit.column(mine, "served").sum())
        p50 = np.nanmedian(kit.column(mine, "latency_p50_ms").astype(float))
        results[name] = (arrivals, served, p50)
        assert manifest["inference"][service]["arrivals"] >= arrivals
    (a5, s5, l5), (a10, s10, l10) = results["w5"], results["w10"]
    assert abs(a5 - a10) < 4 * math.sqrt(a5 + a10)
    assert s5 / a5 == pytest.approx(s10 / a10, abs=0.01)
    assert l5 == pytest.approx(l10, rel=0.05)


def test_same_seed_same_tables(evening_runs) -> None:
    first, again, other = evening_runs["w10"], evening_runs["w10-again"], evening_runs["w10-seed4"]
    assert first[0]["inference"] == again[0]["inference"]
    assert first[1].equals(again[1])
    assert first[2].equals(again[2])
    assert not first[1].equals(other[1])
    assert first[0]["inference"] != other[0]["inference"]


def test_one_row_per_service_site_window(kit, evening_runs) -> None:
    """Tables stay small: one row per service × hosting site × window, none for idle pairs."""
    _, table, regions = evening_runs["w10"]
    windows = int(HORIZON_S / 10)
    assert windows - 1 <= table.num_rows / 4 <= windows
    keys = list(
        zip(
            kit.column(table, "time_s"),
            kit.column(table, "service"),
            kit.column(table, "site"),
            strict=True,
        )
    )
    assert len(set(keys)) == len(keys)
    # per region: one row per service, region and telemetry interval (30 min)
    assert regions.num_rows == 2 * 2 * 4


# ---------------------------------------------------------------- percentiles


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(-1e3, 1e3), st.sampled_from([math.nan, math.inf, -math.inf, 0.5, 0.5])),
        max_size=60,
    ),
    quantiles=st.sampled_from([(50, 99), (50, 95, 99), (0, 100), (1, 37.5)]),
)
def test_window_percentiles_are_numpys_linear_ones_over_finite_values(
    values: list[float], quantiles: tuple[float, ...]
) -> None:
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    got = percentiles_ms((array,), (np.asarray(quantiles, dtype=float),))
    if finite.size == 0:
        assert got == [None] * len(quantiles)
    else:
        want = np.percentile(finite, quantiles) * 1000
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
