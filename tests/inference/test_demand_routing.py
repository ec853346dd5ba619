"""Demand in local time, routing policies, and replicas holding factory accelerators."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.window_stats import categorical

from twin.config.errors import ConfigError
from twin.model.inference_routing import (
    SLO_AWARE_HEADROOM,
    SiteView,
    least_latency,
    nearest,
    slo_aware,
)
from twin.model.world import World
from twin.trace.reader import open_run

# ---------------------------------------------------------------- demand follows local time

PEAKY = [1.0] * 24
PEAKY[20] = 4.0  # local 20:00 is the peak hour; linear between hour centres


def test_an_all_zero_diurnal_profile_is_a_config_error(kit) -> None:
    """No hour with demand: the profile cannot be normalised to its peak."""
    data = kit.scenario(
        [kit.site("a")],
        [kit.region("r")],
        [kit.single(peak_rps=1.0, replicas={"a": 1})],
        diurnal=[0.0] * 24,
    )
    with pytest.raises(ConfigError) as caught:
        kit.build(data)
    assert [issue.path for issue in caught.value.issues] == ["workloads.inference.diurnal"]
    assert "all zero" in str(caught.value)
    data["workloads"]["inference"]["diurnal"] = [0.0] * 23 + [0.5]
    assert kit.build(data).workloads.inference.diurnal[23] == 0.5


def expected_rate(profile: list[float], local_h: np.ndarray) -> np.ndarray:
    """Relative demand at local hours: the profile's values sit at hour centres (h + 0.5) and
    are joined linearly, periodic over the day; normalised to a peak of 1."""
    centres = np.arange(-1, 25) + 0.5
    values = np.array([profile[h % 24] for h in range(-1, 25)])
    return np.interp(local_h % 24, centres, values) / max(profile)


def test_hourly_demand_follows_the_profile_in_local_time(kit, tmp_path: Path) -> None:
    """Two regions, each alone at its own site (nearest routing), UTC+0 and UTC+3: the
    counts per UTC hour at each site follow the profile shifted by the region's offset."""
    peak_rps, window = 20.0, 60.0
    data = kit.scenario(
        [kit.site("west", 8, lat=50.0, lon=0.0), kit.site("east", 8, lat=50.0, lon=30.0)],
        [
            kit.region("utc0", lat=50.0, lon=0.0, utc=0),
            kit.region("utc3", lat=50.0, lon=30.0, utc=3),
        ],
        [
            kit.single(
                peak_rps=peak_rps,
                replicas={"west": 1, "east": 1},
                servers=64,
                service_s={"dist": "constant", "value": 0.01},
            )
        ],
        horizon=86400.0,
        window=window,
        diurnal=PEAKY,
        routing="nearest",
    )
    _, table, _ = kit.run_trace(data, tmp_path / "run")
    for site, offset in (("west", 0), ("east", 3)):
        mine = kit.rows(table, site=site)
        end = kit.column(mine, "time_s")
        counts = kit.column(mine, "arrivals")
        middle_utc_h = (end - window / 2) / 3600
        # each region has half the demand (equal shares)
        expected = peak_rps / 2 * window * expected_rate(PEAKY, middle_utc_h + offset)
        hour = ((end - window / 2) // 3600).astype(int)
        observed_h = np.bincount(hour, weights=counts, minlength=24)
        expected_h = np.bincount(hour, weights=expected, minlength=24)
        chi2 = float((((observed_h - expected_h) ** 2) / expected_h).sum())
        assert chi2 < 60, (site, chi2)  # 24 d.o.f.: P(χ² > 60) ≈ 6e-5
        assert int(np.argmax(observed_h)) == (20 - offset) % 24
        assert observed_h.max() / np.median(observed_h) == pytest.approx(
            expected_h.max() / np.median(expected_h), rel=0.05
        )


def test_default_profile_peaks_in_the_evening_at_a_third_trough(kit) -> None:
    from twin.model.demand import default_diurnal

    profile = default_diurnal()
    assert len(profile) == 24
    assert int(np.argmax(profile)) == 20
    assert int(np.argmin(profile)) == 4
    assert min(profile) / max(profile) == pytest.approx(1 / 3)


# ---------------------------------------------------------------- routing, unit level


def views(*capacities: float, delays: tuple[float, ...] | None = None) -> list[SiteView]:
    delays = delays or (0.0,) * len(capacities)
    return [SiteView(i, c, d) for i, (c, d) in enumerate(zip(capacities, delays, strict=True))]


def service_with_slo(kit: Any, **slo: float):
    data = kit.scenario(
        [kit.site("a")], [kit.region("r")], [kit.single(peak_rps=1.0, replicas={"a": 1}, slo=slo)]
    )
    return kit.build(data).workloads.inference.services[0]


def test_router_units(kit) -> None:
    rtt = np.array([[0.001, 0.010], [0.020, 0.002]])
    demand = np.array([30.0, 5.0])
    service = service_with_slo(kit)
    np.testing.assert_allclose(nearest(demand, rtt, views(1, 1), service), [[30, 0], [0, 5]])
    # a site 50 ms behind sends region 0 to the other one
    moved = least_latency(demand, rtt, views(1, 1, delays=(0.05, 0.0)), service)
    np.testing.assert_allclose(moved, [[0, 30], [0, 5]])
    # slo_aware: region 0 fills site 0 to 90 % of 10/s, spills 21/s to site 1
    flows = slo_aware(demand, rtt, views(10.0, 100.0), service)
    np.testing.assert_allclose(flows, [[9, 21], [0, 5]])
    # ... unless site 1 is beyond the latency SLO: then the rest stays at the nearest
    tight = service_with_slo(kit, latency_s=0.005)
    np.testing.assert_allclose(slo_aware(demand, rtt, views(10.0, 100.0), tight), [[30, 0], [0, 5]])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0.0, 1000.0), min_size=1, max_size=5),
    st.lists(st.floats(0.0, 500.0), min_size=1, max_size=4),
    st.integers(0, 2**31),
)
def test_slo_aware_routes_all_demand_within_capacity(
    kit, demand: list[float], capacities: list[float], seed: int
) -> None:
    """Every request goes somewhere; no site gets more than its headroom unless demand
    exceeds what all sites can take (then the overflow goes to each region's nearest)."""
    rng = np.random.default_rng(seed)
    rtt = rng.uniform(0.0, 0.05, (len(demand), len(capacities)))
    demand_a = np.array(demand)
    flows = slo_aware(demand_a, rtt, views(*capacities), service_with_slo(kit))
    assert np.all(flows >= 0)
    np.testing.assert_allclose(flows.sum(axis=1), demand_a, rtol=1e-9, atol=1e-9)
    room = np.array(capacities) * SLO_AWARE_HEADROOM
    if demand_a.sum() <= room.sum():
        assert np.all(flows.sum(axis=0) <= room * (1 + 1e-9) + 1e-9)


# ---------------------------------------------------------------- routing, whole model


def arrival_rate(kit: Any, table: pa.Table, site: str) -> float:
    mine = kit.rows(table, site=site)
    return float(kit.column(mine, "arrivals").sum()) / float(kit.column(mine, "time_s").max())


def within_poisson(observed_rate: float, expected_rate: float, seconds: float) -> bool:
    sigma = math.sqrt(max(expected_rate, 1e-9) * seconds) / seconds
    return abs(observed_rate - expected_rate) < 4 * sigma + 1e-9


def test_nearest_sends_each_region_to_its_nearest_hosting_site(kit, tmp_path: Path) -> None:
    """Sites at 0°, 10° and 20° E; the service is hosted at the outer two. The region at 9° E
    is nearer to the middle site, which hosts nothing, so it goes to the western site."""
    data = kit.scenario(
        [
            kit.site("west", lat=50.0, lon=0.0),
            kit.site("middle", lat=50.0, lon=10.0),
            kit.site("east", lat=50.0, lon=20.0),
        ],
        [
            kit.region("r0", lat=50.0, lon=1.0, share=1.0),
            kit.region("r1", lat=50.0, lon=9.0, share=3.0),
            kit.region("r2", lat=50.0, lon=19.0, share=2.0),
        ],
        [
            kit.single(
                peak_rps=60.0,
                replicas={"west": 1, "east": 1},
                servers=64,
                service_s={"dist": "constant", "value": 0.01},
            )
        ],
        horizon=600.0,
        window=10.0,
        routing="nearest",
    )
    _, table, regions = kit.run_trace(data, tmp_path / "run")
    assert set(kit.column(table, "site")) == {"west", "east"}
    assert within_poisson(arrival_rate(kit, table, "west"), 40.0, 590.0)
    assert within_poisson(arrival_rate(kit, table, "east"), 20.0, 590.0)
    # round trips recorded per region are those to the nearest hosting site
    rtt_ms = dict(zip(kit.column(regions, "region"), kit.column(regions, "rtt_ms"), strict=True))
    assert rtt_ms["r1"] == pytest.approx(1000 * kit.rtt_s(50.0, 9.0, 50.0, 0.0), rel=1e-9)
    assert rtt_ms["r2"] == pytest.approx(1000 * kit.rtt_s(50.0, 19.0, 50.0, 20.0), rel=1e-9)
    # at low load latency = service + round trip: at east every request is r2's
    east = kit.rows(table, site="east")
    expected_ms = 10.0 + 1000 * kit.rtt_s(50.0, 19.0, 50.0, 20.0)
    np.testing.assert_allclose(kit.column(east, "latency_p50_ms"), expected_ms, rtol=1e-9)


def slo_aware_case(kit: Any, **extra: Any) -> dict:
    """A small site at the region (1 server × 0.1 s: 10 req/s) and a big one ~640 km away
    (40 servers), 30 req/s of demand."""
    return kit.scenario(
        [kit.site("small", 4, lat=50.0, lon=10.0), kit.site("big", 16, lat=50.0, lon=19.0)],
        [kit.region("r", lat=50.0, lon=10.0)],
        [
            kit.single(
                peak_rps=30.0,
                replicas={"small": 1, "big": 40},
                servers=1,
                service_s={"dist": "constant", "value": 0.1},
                **extra,
            )
        ],
        horizon=900.0,
        window=10.0,
        routing="slo_aware",
    )


def test_slo_aware_fills_the_near_site_and_spills(kit, tmp_path: Path) -> None:
    data = slo_aware_case(kit)
    _, table, _ = kit.run_trace(data, tmp_path / "run")
    fill = 10.0 * SLO_AWARE_HEADROOM
    assert 0.5 <= SLO_AWARE_HEADROOM <= 1.0
    assert within_poisson(arrival_rate(kit, table, "small"), fill, 890.0)
    assert within_poisson(arrival_rate(kit, table, "big"), 30.0 - fill, 890.0)
    # the small site stays stable: its waits do not grow
    small = kit.rows(table, site="small")
    assert float(np.nanmax(kit.column(small, "latency_p99_ms"))) < 5000


def test_slo_aware_does_not_spill_beyond_the_latency_budget(kit, tmp_path: Path) -> None:
    """With a 5 ms latency SLO the big site (~16 ms away) is out of budget: all demand stays
    at the near site, which overloads (and drops, by its timeout)."""
    rtt = kit.rtt_s(50.0, 10.0, 50.0, 19.0)
    assert rtt > 0.005
    data = slo_aware_case(kit, slo={"latency_s": 0.005}, timeout_s=1.0)
    _, table, _ = kit.run_trace(data, tmp_path / "run")
    assert within_poisson(arrival_rate(kit, table, "small"), 30.0, 890.0)
    assert int(kit.column(kit.rows(table, site="big"), "arrivals").sum()) == 0
    small = kit.rows(table, site="small")
    assert int(kit.column(small, "dropped").sum()) > 0.5 * int(kit.column(small, "arrivals").sum())


def least_latency_case(kit: Any, routing: str) -> dict:
    """The region sits at a site of 4 servers × 80 ms (50 req/s) and asks 150 req/s; a big
    site ~500 km away has 12 servers (150 req/s)."""
    return kit.scenario(
        [kit.site("near", 16), kit.site("far", 16, lat=50.0, lon=17.0)],
        [kit.region("r")],
        [
            kit.single(
                peak_rps=150.0,
                replicas={"near": 1, "far": 3},
                servers=4,
                service_s={"dist": "exponential", "mean": 0.08},
            )
        ],
        horizon=900.0,
        window=5.0,
        routing=routing,
    )


def test_least_latency_moves_traffic_away_from_an_overloaded_site(kit, tmp_path: Path) -> None:
    """Routing whole regions window by window, least_latency alternates, but the overloaded
    near site must get no more than it can serve, so its latency stays bounded — unlike
    nearest, which piles all demand on it."""
    _, by_latency, _ = kit.run_trace(least_latency_case(kit, "least_latency"), tmp_path / "ll")
    near_rate = arrival_rate(kit, by_latency, "near")
    assert 10.0 < near_rate <= 50.0  # capacity 4 / 0.08 s
    assert arrival_rate(kit, by_latency, "far") > 100.0
    near = kit.rows(by_latency, site="near")
    late = kit.column(near, "time_s") > 600
    assert float(np.nanmax(kit.column(near, "latency_p99_ms")[late])) < 30_000
    _, by_distance, _ = kit.run_trace(least_latency_case(kit, "nearest"), tmp_path / "nn")
    assert arrival_rate(kit, by_distance, "near") > 140.0
    assert int(kit.column(kit.rows(by_distance, site="far"), "arrivals").sum()) == 0


# ---------------------------------------------------------------- replicas hold accelerators


def test_replicas_hold_accelerators_until_released(kit) -> None:
    """Two 4-accelerator replicas take all 8 accelerators of a site: an 8-accelerator training
    job waits, and starts the moment the replicas are released."""
    data = kit.scenario(
        [kit.site("a", 8)],
        [kit.region("r")],
        [kit.single(peak_rps=1.0, replicas={"a": 2}, accelerators_per_replica=4)],
        horizon=3000.0,
        window=10.0,
    )
    world = World(kit.build(data))
    jobs = kit.feed_jobs(world, [(0.0, 8, 500.0)])
    factory = world.factories[0]
    site = world.inference.services[0].sites[0]
    seen: dict[str, Any] = {}

    def release_at(time_s: float) -> Any:
        yield world.env.timeout(time_s)
        seen["busy"] = factory.busy_accelerators
        seen["reserved"] = factory.reserved_accelerators
        seen["power_w"] = factory.power_w
        seen["state"] = jobs[0].state.value
        site.scale_to(0)

    world.env.process(release_at(1000.0))
    world.run(steps=1)
    world.finish()
    pool = factory.pools["H100"]
    assert seen == {
        "busy": 8,
        "reserved": 8,
        "power_w": pytest.approx(8 * pool.idle_facility_w + 8 * pool.busy_extra_w),
        "state": "queued",
    }
    (job,) = jobs
    assert job.start_s == pytest.approx(1000.0)
    assert job.end_s == pytest.approx(1500.0)
    assert site.count == 0 and factory.reserved_accelerators == 0


def test_replicas_are_placed_only_on_free_accelerators(kit) -> None:
    """Reservation is all or nothing per replica, and only from free accelerators."""
    data = kit.scenario(
        [kit.site("a", 8)],
        [kit.region("r")],
        [kit.single(peak_rps=1.0, replicas={"a": 3}, accelerators_per_replica=3)],
        horizon=100.0,
        window=10.0,
    )
    world = kit.run_world(data)
    factory = world.factories[0]
    site = world.inference.services[0].sites[0]
    assert site.count == 2  # 3 × 3 > 8
    assert factory.reserved_accelerators == 6
    assert factory.pools["H100"].free == 2
    site.scale_to(3)
    assert site.count == 2
    site.scale_to(1)
    assert factory.pools["H100"].free == 5 and factory.busy_accelerators == 3


def test_site_telemetry_counts_replicas_as_busy(kit, tmp_path: Path) -> None:
    """sites.arrow: busy accelerators, utilisation and power include the replicas."""
    data = kit.scenario(
        [kit.site("a", 10)],
        [kit.region("r")],
        [kit.single(peak_rps=5.0, replicas={"a": 3}, accelerators_per_replica=2)],
        horizon=1800.0,
        window=10.0,
        interval=600.0,
    )
    kit.run_trace(data, tmp_path / "run")
    sites = open_run(tmp_path / "run").table("sites")
    assert set(kit.column(sites, "busy_accelerators")) == {6}
    np.testing.assert_allclose(kit.column(sites, "utilisation"), 0.6)
    # 6 busy at 700 W, 4 idle at 100 W, PUE 1.2
    np.testing.assert_allclose(kit.column(sites, "power_mw"), (6 * 700 + 4 * 100) * 1.2 / 1e6)


def test_replicas_wait_for_a_site_to_open(kit) -> None:
    """A site online from mid-run gets its replicas when it opens; demand before that is
    counted as dropped."""
    data = kit.scenario(
        [kit.site("a", 8, online_from="2026-03-02T00:10:00")],
        [kit.region("r")],
        [kit.single(peak_rps=10.0, replicas={"a": 2})],
        horizon=1200.0,
        window=10.0,
    )
    world = kit.run_world(data)
    model = world.inference.services[0]
    assert model.sites[0].count == 2
    assert world.factories[0].reserved_accelerators == 2
    totals = model.totals
    # ~600 s × 10/s lost before the opening, none after
    assert totals["dropped"] == pytest.approx(6000, rel=0.1)
    assert totals["served"] == pytest.approx(5900, rel=0.1)


# ---------------------------------------------------------------- region draws


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.sampled_from([0.0, 0.1, 1.0, 3.0, 1e-9, 7.25]), min_size=1, max_size=40),
    n=st.sampled_from([0, 5, 5000, 20000]),
    seed=st.integers(0, 2**16),
)
def test_region_draws_equal_a_binary_search(weights: list[float], n: int, seed: int) -> None:
    """The compiled draw gives exactly numpy's binary search's regions, bucket edges of
    binary fractions included."""
    w = np.asarray(weights)
    if w.sum() == 0:
        w[0] = 1.0
    cumulative = np.cumsum(w) / w.sum()
    rng = np.random.default_rng(seed)
    uniform = rng.random(n)
    uniform[: n // 10] = rng.integers(0, 4096, n // 10) / 4096  # exact bucket edges
    want = np.minimum(np.searchsorted(cumulative, uniform, side="right"), len(w) - 1)
    got = categorical(cumulative, uniform)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)
