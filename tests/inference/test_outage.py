"""Inference under a site outage: the requests in flight at the site that goes down are
dropped and counted, routing avoids it, the autoscaler provisions replicas elsewhere, and the
site serves again when it returns. Request counts are conserved throughout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.model.world import World

OUTAGE = (3600.0, 3 * 3600.0)


def _outage_scenario(kit, kind: str) -> dict:
    """Two sites, one region beside ``a``: demand goes to ``a`` while it is up."""
    autoscale = {"min_replicas": 0, "max_replicas": 4, "target_utilisation": 0.5, "interval": 60}
    if kind == "single":
        service = kit.single(
            peak_rps=20.0,
            replicas={},
            service_s={"dist": "constant", "value": 2.0},
            servers=16,
            autoscale=autoscale,
        )
    else:
        service = kit.llm(
            peak_rps=2.0,
            replicas={},
            autoscale=autoscale,
            slo={"ttft_s": 30.0},
        )
    data = kit.scenario(
        [kit.site("a", 32, lat=50.0, lon=10.0), kit.site("b", 32, lat=48.0, lon=2.0)],
        [kit.region("near_a", lat=50.0, lon=10.0)],
        [service],
        horizon=4 * 3600.0,
        window=10.0,
        interval=600.0,
    )
    start, end = OUTAGE
    data["faults"] = {
        "sites": {"scheduled": [{"site": "a", "start": start, "duration": end - start}]}
    }
    return data


@pytest.mark.parametrize("kind", ["single", "llm"])
def test_outage_drops_requests_in_flight_and_the_service_recovers_elsewhere(
    kit, kind: str, tmp_path: Path
) -> None:
    data = _outage_scenario(kit, kind)
    start, end = OUTAGE
    # what is in flight at a the instant it goes down, seen from the model itself
    world = World(kit.build(data))
    world.run(until_s=start - 1e-6, steps=1)
    (site_a,) = [s for s in world.inference.services[0].sites if s.factory.id == "a"]
    world.run(until_s=start, steps=1)
    in_flight = site_a.in_system()
    assert in_flight > 0
    world.run(until_s=start + 1e-6, steps=1)
    assert site_a.count == 0 and site_a.in_system() == 0
    assert site_a.factory.reserved_accelerators == 0

    _, table, regions = kit.run_trace(data, tmp_path / kind)
    times = kit.column(table, "time_s")
    sites = kit.column(table, "site")
    # the window after the outage began reports the requests in flight as dropped
    first = (sites == "a") & (times >= start) & (times <= start + 10.0)
    assert int(kit.column(table, "dropped")[first].sum()) == in_flight
    # while a is down nothing reaches it; b serves once the autoscaler has given it replicas
    down = (sites == "a") & (times > start + 10.0) & (times < end)
    assert kit.column(table, "arrivals")[down].sum() == 0
    assert kit.column(table, "replicas")[down].sum() == 0  # no row, or rows of nothing
    settled = (sites == "b") & (times > start + 600.0) & (times <= end)
    assert kit.column(table, "served")[settled].sum() > 0
    assert kit.column(table, "replicas")[settled].min() > 0
    # after the outage a takes its demand back
    back = (sites == "a") & (times > end + 600.0)
    assert kit.column(table, "served")[back].sum() > 0
    # conservation: every arrival was served, dropped, or is still in the system
    arrivals = kit.column(table, "arrivals").sum()
    resolved = kit.column(table, "served").sum() + kit.column(table, "dropped").sum()
    last = times == times.max()
    assert arrivals == resolved + kit.column(table, "in_system")[last].sum()
    # and per region: the dropped in-flight requests are charged to the region they came from
    assert kit.column(regions, "dropped").sum() == kit.column(table, "dropped").sum()
    assert kit.column(regions, "arrivals").sum() == arrivals
    # before the outage nothing was dropped at a for lack of capacity: the drops are the outage's
    before = (sites == "a") & (times < start)
    assert kit.column(table, "dropped")[before].sum() == 0
    assert np.all(kit.column(table, "dropped")[(times > end + 600.0)] == 0)


def test_outage_of_the_only_hosting_site_counts_every_request_it_could_not_take(
    kit, tmp_path: Path
) -> None:
    """Static replicas at ``a`` only: during the outage every arrival is dropped (nowhere
    to go), and the count still conserves."""
    data = _outage_scenario(kit, "single")
    service = data["workloads"]["inference"]["services"][0]
    service["replicas"] = {"a": 2}
    del service["autoscale"]
    _, table, regions = kit.run_trace(data, tmp_path / "static")
    start, end = OUTAGE
    times, sites = kit.column(table, "time_s"), kit.column(table, "site")
    assert set(sites) == {"a"}
    down = (times > start + 10.0) & (times <= end)
    assert kit.column(table, "arrivals")[down].sum() == 0  # nothing routed to a site that is down
    # the demand that found no site is counted per region, arrived and dropped
    unroutable = kit.column(regions, "arrivals").sum() - kit.column(table, "arrivals").sum()
    expected = 20.0 * (end - start - 10.0)  # Poisson demand over the outage's whole windows
    assert abs(unroutable - expected) < 5 * expected**0.5
    assert kit.column(regions, "dropped").sum() - kit.column(table, "dropped").sum() == unroutable
    last = times == times.max()
    arrivals = kit.column(regions, "arrivals").sum()
    resolved = kit.column(regions, "served").sum() + kit.column(regions, "dropped").sum()
    assert arrivals == resolved + kit.column(table, "in_system")[last].sum()
    assert kit.column(table, "served")[times > end + 60.0].sum() > 0
