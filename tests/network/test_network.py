"""Tests of the flow-level network: topology, routes, fair sharing, conservation, telemetry.

Hand-computed cases drive :class:`twin.model.network.Network` directly on a SimPy
environment; whole-run cases go through :func:`twin.simulation.simulate` and read the run
directory back (``transfers``, ``links`` and ``jobs`` tables).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from network_kit import ACCELERATORS, GB, make_network, site
from twin.kernels import maxmin

from twin.config import validate_scenario
from twin.model import network as network_module
from twin.model.geo import great_circle_km
from twin.model.job import Job
from twin.model.network import Network, Transfer
from twin.model.topology import Topology
from twin.model.world import World
from twin.simulation import simulate
from twin.trace.reader import open_run

GBPS = 1e9


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def link(a: str, b: str, gbps: float, **extra: Any) -> dict:
    return {"a": a, "b": b, "capacity_gbps": gbps, **extra}


def scenario_data(
    sites: list[dict], links: list[dict], pops: list[dict] | None = None, **extra: Any
) -> dict:
    data: dict[str, Any] = {
        "name": "network",
        "start": "2026-03-02",
        "seed": 7,
        "accelerators": ACCELERATORS,
        "sites": sites,
        "pops": pops or [],
        "links": links,
        "tenants": {"academia": {"share": 1.0}},
    }
    data.update(extra)
    return data


def chain(capacities: list[float], latencies_ms: list[float], **extra: Any) -> dict:
    """Sites n0 - n1 - ... - nk joined by links of the given capacities and latencies."""
    names = [f"n{i}" for i in range(len(capacities) + 1)]
    links = [
        link(a, b, gbps, latency_ms=ms)
        for a, b, gbps, ms in zip(names[:-1], names[1:], capacities, latencies_ms, strict=True)
    ]
    return scenario_data([site(name) for name in names], links, **extra)


def send_at(
    env: simpy.Environment, network: Network, at_s: float, source: str, dest: str, nbytes: float
) -> list[Transfer]:
    """Start a transfer at ``at_s``; the returned list gets the Transfer once delivered."""
    box: list[Transfer] = []

    def process() -> Iterator[simpy.Event]:
        if at_s > 0:
            yield env.timeout(at_s)
        transfer = yield network.send(source, dest, nbytes, "bulk")
        box.append(transfer)

    env.process(process())
    return box


def count_solver_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the network's max-min solver; the list holds the flow count of every call."""
    calls: list[int] = []
    solver = network_module.network_solve

    def counting(n_flows, *arrays):
        calls.append(n_flows)
        return solver(n_flows, *arrays)

    monkeypatch.setattr(network_module, "network_solve", counting)
    return calls


# --------------------------------------------------------------------------------------
# A lone transfer: latency + bytes × 8 / bottleneck
# --------------------------------------------------------------------------------------


def test_lone_transfer_on_three_node_chain():
    env, network = make_network(chain([10.0, 4.0], [5.0, 7.0]))
    done = network.send("n0", "n2", 3 * GB, "bulk")
    env.run()
    transfer = done.value
    assert transfer.route.nodes == ("n0", "n1", "n2")
    assert transfer.route.latency_s == pytest.approx(0.012, rel=1e-12)
    # 24 Gbit at the 4 Gbps bottleneck: 6 s of sending, then 12 ms until the last bit lands.
    assert transfer.drained_s == pytest.approx(6.0, rel=1e-12)
    assert transfer.end_s == pytest.approx(6.012, rel=1e-12)
    assert network.bytes_delivered == network.bytes_requested == 3 * GB
    assert not network.active and not network.delivering


def test_lone_transfer_reverse_direction_uses_the_same_capacities():
    env, network = make_network(chain([10.0, 4.0], [5.0, 7.0]))
    done = network.send("n2", "n0", 1 * GB, "bulk")
    env.run()
    assert done.value.route.nodes == ("n2", "n1", "n0")
    assert done.value.end_s == pytest.approx(0.012 + 8 / 4, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    capacities=st.lists(st.floats(0.1, 1000.0), min_size=1, max_size=5),
    latency_seed=st.integers(0, 2**32 - 1),
    gigabytes=st.floats(1e-3, 1e4),
)
def test_property_lone_transfer_time(capacities, latency_seed, gigabytes):
    latencies = np.random.default_rng(latency_seed).uniform(0.0, 50.0, len(capacities)).tolist()
    env, network = make_network(chain(capacities, latencies))
    done = network.send("n0", f"n{len(capacities)}", gigabytes * GB, "bulk")
    env.run()
    expected = sum(latencies) / 1000 + gigabytes * GB * 8 / (min(capacities) * GBPS)
    assert done.value.end_s == pytest.approx(expected, rel=1e-9)
    assert network.solves == 1


@pytest.mark.parametrize("fibre_us_per_km", [None, 5.0])
def test_latency_from_km(fibre_us_per_km):
    network_spec = {} if fibre_us_per_km is None else {"fibre_us_per_km": fibre_us_per_km}
    data = scenario_data(
        [site("a"), site("b"), site("c")],
        [link("a", "b", 10.0, km=1000.0), link("b", "c", 40.0, km=250.0)],
        network=network_spec,
    )
    env, network = make_network(data)
    us_per_km = fibre_us_per_km or 4.9  # the schema's default
    latency = 1250.0 * us_per_km * 1e-6
    done = network.send("a", "c", 2 * GB, "bulk")
    env.run()
    assert done.value.route.latency_s == pytest.approx(latency, rel=1e-12)
    assert done.value.end_s == pytest.approx(latency + 16 / 10, rel=1e-12)


def test_latency_from_great_circle_when_no_km():
    data = scenario_data(
        [site("a", lat=60.17, lon=24.94), site("b", lat=48.86, lon=2.35)],
        [link("a", "b", 100.0)],
        network={"route_inflation": 1.5, "fibre_us_per_km": 5.0},
    )
    km = great_circle_km(60.17, 24.94, 48.86, 2.35) * 1.5
    env, network = make_network(data)
    done = network.send("b", "a", 1 * GB, "bulk")
    env.run()
    assert done.value.route.latency_s == pytest.approx(km * 5.0e-6, rel=1e-12)
    assert done.value.end_s == pytest.approx(km * 5.0e-6 + 0.08, rel=1e-12)


# --------------------------------------------------------------------------------------
# Sharing
# --------------------------------------------------------------------------------------


def test_two_equal_transfers_finish_together_at_twice_the_time():
    env, network = make_network(chain([8.0], [2.0]))
    first = network.send("n0", "n1", 1 * GB, "bulk")
    second = network.send("n0", "n1", 1 * GB, "bulk")
    env.run()
    alone = 8 / 8  # 1 s for 8 Gbit at 8 Gbps
    for done in (first, second):
        assert done.value.drained_s == pytest.approx(2 * alone, rel=1e-12)
        assert done.value.end_s == pytest.approx(0.002 + 2 * alone, rel=1e-12)
    assert first.value.end_s == second.value.end_s


def test_transfer_joining_a_half_done_transfer():
    # Link of 8 Gbps, 3 ms. A (1 GB) starts at 0 and is half sent at 0.5 s, when B (1 GB)
    # starts. Both get 4 Gbps: A's last 4 Gbit take 1 s (drained at 1.5 s); B has sent
    # 4 Gbit by then and sends its last 4 Gbit alone at 8 Gbps in 0.5 s (drained at 2.0 s).
    env, network = make_network(chain([8.0], [3.0]))
    a = send_at(env, network, 0.0, "n0", "n1", 1 * GB)
    b = send_at(env, network, 0.5, "n0", "n1", 1 * GB)
    env.run()
    assert a[0].drained_s == pytest.approx(1.5, rel=1e-12)
    assert a[0].end_s == pytest.approx(1.503, rel=1e-12)
    assert b[0].drained_s == pytest.approx(2.0, rel=1e-12)
    assert b[0].end_s == pytest.approx(2.003, rel=1e-12)
    assert network.solves == 3  # A starts, B starts, A drains (B's drain leaves no flow)


def test_flows_on_different_bottlenecks():
    # Parking lot n0 - n1 - n2 (10 and 4 Gbps): A n0->n2, B n0->n1, C n1->n2.
    # Max-min: A = C = 2 Gbps (n1-n2 is A's bottleneck), B = 10 - 2 = 8 Gbps.
    env, network = make_network(chain([10.0, 4.0], [0.0, 0.0]))
    a = network.send("n0", "n2", 1 * GB, "bulk")
    b = network.send("n0", "n1", 1 * GB, "bulk")
    c = network.send("n1", "n2", 1 * GB, "bulk")
    # Channels: 0 = n0->n1 carries A + B, 2 = n1->n2 carries A + C; reverse ones are idle.
    np.testing.assert_allclose(network.channel_rate_bps, [10 * GBPS, 0, 4 * GBPS, 0], rtol=1e-12)
    env.run()
    # B drains at 1 s; then A and C split 4 Gbps with 6 Gbit left each: 3 s more.
    assert b.value.end_s == pytest.approx(1.0, rel=1e-12)
    assert a.value.end_s == pytest.approx(4.0, rel=1e-12)
    assert c.value.end_s == pytest.approx(4.0, rel=1e-12)


def test_per_flow_cap_limits_a_lone_flow():
    env, network = make_network(chain([10.0], [1.0], network={"flow_cap_gbps": 2.0}))
    done = network.send("n0", "n1", 1 * GB, "bulk")
    assert network.channel_rate_bps[0] == pytest.approx(2 * GBPS, rel=1e-12)
    env.run()
    assert done.value.end_s == pytest.approx(0.001 + 8 / 2, rel=1e-12)


def test_per_flow_cap_does_not_bind_below_the_fair_share():
    # Six flows capped at 2 Gbps on a 10 Gbps link: the fair share 10/6 < 2 wins.
    env, network = make_network(chain([10.0], [0.0], network={"flow_cap_gbps": 2.0}))
    events = [network.send("n0", "n1", 1 * GB, "bulk") for _ in range(6)]
    assert network.channel_rate_bps[0] == pytest.approx(10 * GBPS, rel=1e-12)
    env.run()
    for done in events:
        assert done.value.end_s == pytest.approx(6 * 8 / 10, rel=1e-12)


def test_per_flow_cap_with_few_flows_leaves_capacity_unused():
    # Three flows capped at 2 Gbps on a 10 Gbps link: each at its cap, 4 Gbps left idle.
    env, network = make_network(chain([10.0], [0.0], network={"flow_cap_gbps": 2.0}))
    events = [network.send("n0", "n1", 1 * GB, "bulk") for _ in range(3)]
    assert network.channel_rate_bps.sum() == pytest.approx(6 * GBPS, rel=1e-12)
    env.run()
    for done in events:
        assert done.value.end_s == pytest.approx(4.0, rel=1e-12)


def test_site_access_cap_limits_and_is_shared():
    # a (access 3 Gbps) is joined to b and c by 10 Gbps links: one flow gets 3 Gbps, two
    # flows leaving a towards different sites share the access uplink at 1.5 Gbps each.
    data = scenario_data(
        [site("a", access_gbps=3.0), site("b"), site("c")],
        [link("a", "b", 10.0, latency_ms=0.0), link("a", "c", 10.0, latency_ms=0.0)],
    )
    env, network = make_network(data)
    assert network.topology.access == {"a": (4, 5)}  # after two links of two directions
    lone = network.send("a", "b", 3 * GB, "bulk")
    env.run()
    assert lone.value.end_s == pytest.approx(8.0, rel=1e-12)
    start = env.now
    to_b = network.send("a", "b", 3 * GB, "bulk")
    to_c = network.send("a", "c", 3 * GB, "bulk")
    # Channels: 0 = a->b, 2 = a->c, 4 = a's access uplink.
    assert network.channel_rate_bps[[0, 2, 4]] == pytest.approx([1.5e9, 1.5e9, 3e9], rel=1e-12)
    env.run()
    assert to_b.value.end_s - start == pytest.approx(16.0, rel=1e-12)
    assert to_c.value.end_s - start == pytest.approx(16.0, rel=1e-12)


def test_site_access_cap_on_the_receiving_side():
    # Flows into b cross b's access downlink (2 Gbps); flows out of b its uplink.
    data = scenario_data(
        [site("a"), site("b", access_gbps=2.0)], [link("a", "b", 10.0, latency_ms=4.0)]
    )
    env, network = make_network(data)
    into_b = network.send("a", "b", 1 * GB, "bulk")
    out_of_b = network.send("b", "a", 1 * GB, "bulk")
    env.run()
    assert into_b.value.route.latency_s == pytest.approx(0.004)  # access adds no latency
    assert into_b.value.end_s == pytest.approx(0.004 + 4.0, rel=1e-12)
    assert out_of_b.value.end_s == pytest.approx(0.004 + 4.0, rel=1e-12)


# --------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------


def test_routes_are_shortest_by_latency_not_hops():
    # Triangle: the direct a-c link (9 ms, 100 Gbps) is slower than a-b-c (2 + 3 ms).
    data = scenario_data(
        [site("a"), site("b"), site("c")],
        [
            link("a", "c", 100.0, latency_ms=9.0),
            link("a", "b", 10.0, latency_ms=2.0),
            link("b", "c", 5.0, latency_ms=3.0),
        ],
    )
    env, network = make_network(data)
    route = network.topology.route("a", "c")
    assert route.nodes == ("a", "b", "c")
    assert route.label == "a>b>c"
    assert route.latency_s == pytest.approx(0.005)
    done = network.send("a", "c", 1 * GB, "bulk")
    env.run()
    assert done.value.end_s == pytest.approx(0.005 + 8 / 5, rel=1e-12)
    # When the direct link is the faster one it is used.
    data["links"][0]["latency_ms"] = 4.0
    assert Topology(validate_scenario(data)).route("a", "c").nodes == ("a", "c")


def test_directed_links():
    # a->b is a directed 10 Gbps link, b->a a separate directed 2 Gbps link.
    data = scenario_data(
        [site("a"), site("b"), site("c")],
        [
            link("a", "b", 10.0, latency_ms=1.0, directed=True),
            link("b", "a", 2.0, latency_ms=1.0, directed=True),
            link("b", "c", 10.0, latency_ms=1.0, directed=True),
        ],
    )
    env, network = make_network(data)
    assert len(network.topology.channels) == 3  # one channel per directed link
    forward = network.send("a", "b", 1 * GB, "bulk")
    backward = network.send("b", "a", 1 * GB, "bulk")
    env.run()
    assert forward.value.end_s == pytest.approx(0.001 + 0.8, rel=1e-12)
    assert backward.value.end_s == pytest.approx(0.001 + 4.0, rel=1e-12)
    assert network.reachable("a", "c")
    assert not network.reachable("c", "a")
    with pytest.raises(ValueError, match="no route from 'c' to 'a'"):
        network.send("c", "a", 1 * GB, "bulk")


def test_unreachable_destination_raises():
    data = scenario_data(
        [site("a"), site("b"), site("island")], [link("a", "b", 10.0, latency_ms=1.0)]
    )
    _env, network = make_network(data)
    for source, dest in [("a", "island"), ("island", "b"), ("a", "nowhere")]:
        assert network.topology.route(source, dest) is None
        assert not network.reachable(source, dest)
        assert network.estimate_s(source, dest, GB) == np.inf
        with pytest.raises(ValueError, match="no route"):
            network.send(source, dest, GB, "bulk")
    assert network.bytes_requested == 0.0
    assert network.solves == 0


# --------------------------------------------------------------------------------------
# The compiled solve agrees with its numpy twin bit for bit
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_flows", "n_links", "seed"), [(1, 1, 0), (5, 4, 1), (60, 12, 2)])
def test_network_steps_match_their_references_bit_for_bit(n_flows, n_links, seed):
    """The solve (rates, bit/s, channel totals, next drain), the advance between solves and
    a drain (advance, the flows that left, the others moved down), as the network calls
    them on buffers longer than its flows, for random routes (some repeating a link), caps
    (some infinite) and backlogs (some negative: drained past zero by rounding)."""
    rng = np.random.default_rng(seed)
    size = n_flows + 3  # buffer entries past the live flows, as the network's buffers have
    kernels = (maxmin.network_solve, maxmin.network_advance, maxmin.network_drain)
    references = (
        maxmin.network_solve_reference,
        maxmin.network_advance_reference,
        maxmin.network_drain_reference,
    )
    drains = 0
    for _ in range(50):
        ptr = np.concatenate([[0], np.cumsum(rng.integers(1, 5, size))]).astype(np.int64)
        links = rng.integers(0, n_links, ptr[-1]).astype(np.int64)
        capacity = rng.uniform(0.5, 400.0, n_links)
        caps = np.where(rng.random(size) < 0.3, rng.uniform(0.1, 50.0, size), np.inf)
        remaining = rng.uniform(-1e-3, 1e13, size)
        carried = rng.uniform(0.0, 1e12, n_links)
        results = []
        for solve, advance, drain in (kernels, references):
            rates, rates_bps = np.full(size, -1.0), np.full(size, -1.0)
            channel_bps, bits, left = np.full(n_links, np.nan), carried.copy(), remaining.copy()
            route_ptr, route_links, lengths, rate_cap = (
                ptr.copy(),
                links.copy(),
                np.diff(ptr),
                caps.copy(),
            )
            soonest = solve(
                n_flows,
                route_ptr,
                route_links,
                capacity,
                rate_cap,
                left,
                rates,
                rates_bps,
                channel_bps,
            )
            advance(n_flows, 0.37 * soonest, left, rates_bps, bits, channel_bps)
            # the flows whose time left is among the shortest third drain
            tolerance_s = float(np.quantile(left[:n_flows] / rates_bps[:n_flows], 0.3))
            gone = np.full(size, -1)
            count = drain(
                n_flows, 0.5, tolerance_s, left, rates_bps, bits, channel_bps, rate_cap,
                lengths, route_ptr, route_links, gone,
            )  # fmt: skip
            drains += count
            results.append(
                [np.float64(soonest), rates, rates_bps, channel_bps, bits, left, gone,
                 np.int64(count), route_ptr, route_links, lengths, rate_cap]
            )  # fmt: skip
        for ours, reference in zip(*results, strict=True):
            assert ours.tobytes() == reference.tobytes()
    assert drains > 0


# --------------------------------------------------------------------------------------
# Rate solves: once per start or drain, never per tick
# --------------------------------------------------------------------------------------


def test_solver_runs_once_per_start_and_drain(monkeypatch):
    calls = count_solver_calls(monkeypatch)
    env, network = make_network(chain([10.0, 10.0], [1.0, 1.0]))
    sizes = [1.0, 2.0, 3.0, 5.0, 8.0]  # distinct sizes: one drain event each
    boxes = [send_at(env, network, 0.01 * i, "n0", "n2", size * GB) for i, size in enumerate(sizes)]
    env.run()
    assert all(len(box) == 1 for box in boxes)
    # 5 starts + 4 drains that leave flows behind (the last drain leaves none).
    assert network.solves == len(calls) == 2 * len(sizes) - 1
    assert calls[: len(sizes)] == [1, 2, 3, 4, 5]
    assert calls[len(sizes) :] == [4, 3, 2, 1]


def test_a_long_transfer_costs_one_solve_and_a_few_events():
    env, network = make_network(chain([1.0], [10.0]))
    done = network.send("n0", "n1", 1e6 * GB, "bulk")  # 8e6 s at 1 Gbps: three months
    steps = 0
    while env.peek() < np.inf:
        env.step()
        steps += 1
    assert done.value.end_s == pytest.approx(8e6 + 0.01, rel=1e-12)
    assert network.solves == 1
    assert steps <= 5


def test_simultaneous_drains_share_one_solve(monkeypatch):
    calls = count_solver_calls(monkeypatch)
    env, network = make_network(chain([10.0], [0.0]))
    for _ in range(4):
        network.send("n0", "n1", 1 * GB, "bulk")
    network.send("n0", "n1", 2 * GB, "bulk")
    env.run()
    # 5 starts, one drain event for the four equal flows, nothing left after the last.
    assert calls == [1, 2, 3, 4, 5, 1]


@pytest.mark.parametrize("start_s", [1e6, 3e7, 1e8])
def test_drains_late_in_a_long_run(start_s):
    # Past 2**24 s (194 days) the clock's resolution exceeds the 1 ns drain tolerance: a flow
    # left with a sub-resolution residue must still drain (it used to re-solve forever).
    rng = np.random.default_rng(1)
    for _ in range(10):
        env, network = make_network(chain([7.3, 3.1], [1.0, 1.0]))
        env.run(until=start_s)
        for _ in range(5):
            dest = "n2" if rng.random() < 0.5 else "n1"
            network.send("n0", dest, rng.uniform(0.1, 10.0) * GB, "bulk")
        steps = 0
        while env.peek() < np.inf and steps < 1000:
            env.step()
            steps += 1
        assert steps < 1000, "the network stopped making progress"
        assert network.bytes_delivered == pytest.approx(network.bytes_requested, rel=1e-12)
        assert network.solves <= 9


@st.composite
def transfer_schedules(draw):
    """(start_s, source, destination, GB) on the chain/star network of ``_mixed_network``."""
    nodes = ["a", "b", "c", "d"]
    n = draw(st.integers(1, 12))
    schedule = []
    for _ in range(n):
        source = draw(st.sampled_from(nodes))
        dest = draw(st.sampled_from([node for node in nodes if node != source]))
        start = draw(st.sampled_from([0.0, 0.25, 1.0]) | st.floats(0.0, 20.0))
        size = draw(st.sampled_from([1.0, 2.0]) | st.floats(0.01, 50.0))
        schedule.append((start, source, dest, size))
    return schedule


def _mixed_network(flow_cap: float | None = None) -> dict:
    sites = [site("a", access_gbps=15.0), site("b"), site("c"), site("d")]
    links = [
        link("a", "b", 10.0, latency_ms=1.0),
        link("b", "c", 4.0, latency_ms=2.0),
        link("b", "d", 20.0, latency_ms=0.5),
        link("d", "c", 3.0, latency_ms=1.0, directed=True),
    ]
    extra = {"network": {"flow_cap_gbps": flow_cap}} if flow_cap else {}
    return scenario_data(sites, links, **extra)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schedule=transfer_schedules(), flow_cap=st.sampled_from([None, 6.0]))
def test_property_random_transfers_conserve_bytes_and_bits(monkeypatch, schedule, flow_cap):
    calls = count_solver_calls(monkeypatch)
    calls.clear()
    env, network = make_network(_mixed_network(flow_cap))
    boxes = [send_at(env, network, at, src, dst, size * GB) for at, src, dst, size in schedule]
    env.run()
    transfers = [box[0] for box in boxes]
    assert len(transfers) == len(schedule)
    assert not network.active and not network.delivering

    # Bytes: what was asked for arrived.
    requested = sum(size * GB for *_, size in schedule)
    assert network.bytes_requested == pytest.approx(requested, rel=1e-12)
    assert network.bytes_delivered == pytest.approx(requested, rel=1e-12)

    # Bits: every channel carried the bits of every transfer routed over it.
    expected_bits = np.zeros(len(network.topology.channels))
    for transfer in transfers:
        expected_bits[transfer.route.channels] += 8 * transfer.bytes
    np.testing.assert_allclose(network.channel_bits, expected_bits, rtol=1e-9, atol=1.0)

    # No transfer beats being alone on its route (or its cap), none is lost in time.
    for transfer in transfers:
        bottleneck = network.capacity_gbps[transfer.route.channels].min() * GBPS
        rate = min(bottleneck, flow_cap * GBPS) if flow_cap else bottleneck
        alone = transfer.route.latency_s + 8 * transfer.bytes / rate
        assert transfer.end_s - transfer.submit_s >= alone * (1 - 1e-9)
        assert transfer.end_s == pytest.approx(transfer.drained_s + transfer.route.latency_s)

    # One solve per start and per drain event that leaves flows behind.
    assert network.solves == len(calls)
    drain_times = {transfer.drained_s for transfer in transfers}
    assert len(schedule) <= network.solves <= len(schedule) + len(drain_times)


@settings(max_examples=40, deadline=None)
@given(
    starts=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=10),
    sizes_seed=st.integers(0, 2**32 - 1),
)
def test_property_one_link_is_work_conserving(starts, sizes_seed):
    # Uncapped flows on one link keep it saturated whenever any is active, so the last bit
    # leaves at max_k (s_k + bits of the flows starting at or after s_k / capacity).
    sizes = np.random.default_rng(sizes_seed).uniform(0.1, 20.0, len(starts))
    env, network = make_network(chain([8.0], [0.0]))
    boxes = [
        send_at(env, network, start, "n0", "n1", size * GB)
        for start, size in zip(starts, sizes, strict=True)
    ]
    env.run()
    last = max(box[0].drained_s for box in boxes)
    expected = max(
        s + sum(8 * size for t, size in zip(starts, sizes, strict=True) if t >= s) / 8.0
        for s in starts
    )
    assert last == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------------------
# Whole runs: staging, checkpoints and bulk transfers
# --------------------------------------------------------------------------------------


def whole_run_data(placement: str = "least_loaded", **training: Any) -> dict:
    """Three sites around a PoP plus a directed shortcut; jobs stop after a day of two."""
    sites = [
        site("a", lat=50.0, lon=8.0, count=32),
        site("b", lat=48.0, lon=11.0, count=32, access_gbps=40.0),
        site("c", lat=45.0, lon=9.0, count=32),
    ]
    links = [
        link("a", "p", 100.0),
        link("b", "p", 50.0),
        link("c", "p", 25.0),
        link("a", "c", 10.0, directed=True, km=300.0),
    ]
    spec = {
        "arrivals_per_day": 150,
        "stop_after": "1d",
        "accelerators": {"dist": "choice", "values": [1, 4, 16]},
        "duration_s": {"dist": "lognormal", "median": 3600, "sigma": 1.0, "max": 20000},
        "dataset_gb": {"dist": "lognormal", "median": 100, "sigma": 1.0, "max": 2000},
        "checkpoint_gb": {"dist": "constant", "value": 50},
        "checkpoint_interval": "1h",
        **training,
    }
    # Small bulk transfers over fat links: all of them are delivered well before the end.
    bulk = {
        "arrivals_per_day": 100,
        "size_gb": {"dist": "lognormal", "median": 2, "sigma": 0.5, "max": 5},
    }
    return scenario_data(
        sites,
        links,
        pops=[{"id": "p", "lat": 49.0, "lon": 9.0}],
        horizon="2d",
        workloads={"training": spec, "transfers": bulk},
        policies={"scheduler": "easy_backfill", "placement": placement},
        telemetry={"interval": "1h"},
    )


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("network") / "run"
    result = simulate(validate_scenario(whole_run_data()), out=path)
    run = open_run(path)
    tables = {name: run.table(name).to_pandas() for name in ("transfers", "links", "jobs")}
    return result.world, run, tables


def test_whole_run_conserves_bytes(whole_run):
    world, run, tables = whole_run
    network = world.network
    transfers = tables["transfers"]
    # Every kind of transfer happened and every one was delivered.
    assert set(transfers["kind"]) == {"dataset", "checkpoint", "bulk"}
    assert (transfers["state"] == "delivered").all()
    assert not network.active and not network.delivering
    # Network counters.
    assert network.bytes_requested > 0
    assert network.bytes_delivered == pytest.approx(network.bytes_requested, rel=1e-12)
    # The transfers table: one row per transfer, bytes add up to the counters.
    assert sorted(transfers["transfer"]) == list(range(network._next_id))
    assert transfers["bytes"].sum() == pytest.approx(network.bytes_requested, rel=1e-12)
    assert run.manifest["bytes_delivered"] == pytest.approx(run.manifest["bytes_requested"])
    assert run.manifest["rate_solves"] == network.solves
    durations = transfers["end_s"] - transfers["start_s"]
    np.testing.assert_allclose(transfers["duration_s"], durations, rtol=1e-12)
    assert (transfers["duration_s"] >= transfers["latency_s"]).all()


def _route_channels(route: str, access_sites: set[str]) -> list[tuple[str, str]]:
    """The (from, to) channels a route label crosses, with the sites' access channels."""
    nodes = route.split(">")
    channels = list(itertools.pairwise(nodes))
    if nodes[0] in access_sites:
        channels.insert(0, (nodes[0], "access"))
    if nodes[-1] in access_sites:
        channels.append(("access", nodes[-1]))
    return channels


def test_link_telemetry_integrates_to_the_bytes_carried(whole_run):
    world, _run, tables = whole_run
    links, transfers = tables["links"], tables["transfers"]
    # Bytes that crossed each channel, from the transfers' routes.
    carried: dict[tuple[str, str], float] = defaultdict(float)
    for route, nbytes in zip(transfers["route"], transfers["bytes"], strict=True):
        for channel in _route_channels(route, set(world.network.topology.access)):
            carried[channel] += nbytes
    # Bytes that crossed each channel, from the telemetry: throughput × interval / 8.
    measured: dict[tuple[str, str], float] = {}
    for (a, b), rows in links.groupby(["a", "b"]):
        rows = rows.sort_values("time_s")
        intervals = np.diff(rows["time_s"].to_numpy(), prepend=0.0)
        measured[(a, b)] = float((rows["throughput_gbps"] * intervals).sum() * 1e9 / 8)
    assert len(measured) == len(world.network.topology.channels)
    assert set(carried) <= set(measured)
    for channel, nbytes in measured.items():
        assert nbytes == pytest.approx(carried.get(channel, 0.0), rel=1e-9, abs=1.0), channel
    # The directed shortcut has one row per interval, for a -> c only.
    assert ("a", "c") in measured and ("c", "a") not in measured
    assert carried[("b", "access")] > 0 and carried[("access", "b")] > 0


def test_staged_jobs_wait_for_their_dataset(whole_run):
    _world, _run, tables = whole_run
    jobs, transfers = tables["jobs"], tables["transfers"]
    datasets = transfers[transfers["kind"] == "dataset"].set_index("job")
    away = jobs[jobs["origin"] != jobs["site"]]
    home = jobs[jobs["origin"] == jobs["site"]]
    assert len(away) > 10 and len(home) > 10
    assert home["staging_s"].isna().all()
    assert not set(home["job"]) & set(datasets.index)
    for job in away.itertuples():
        transfer = datasets.loc[job.job]
        assert transfer["source"] == job.origin and transfer["destination"] == job.site
        assert transfer["bytes"] == pytest.approx(job.dataset_gb * GB)
        assert job.staging_s == pytest.approx(transfer["duration_s"], rel=1e-9)
        assert transfer["start_s"] == pytest.approx(job.submit_s)
        assert job.start_s >= transfer["end_s"] - 1e-9
        assert job.wait_s == pytest.approx(job.start_s - job.submit_s - job.staging_s, abs=1e-6)


def test_checkpoints_go_to_the_nearest_other_site(whole_run):
    world, _run, tables = whole_run
    checkpoints = tables["transfers"].query("kind == 'checkpoint'")
    assert len(checkpoints) > 0
    topology = world.network.topology
    for source, dest in set(zip(checkpoints["source"], checkpoints["destination"], strict=True)):
        others = [s for s in ("a", "b", "c") if s != source and topology.route(source, s)]
        assert dest == min(others, key=lambda s: topology.route(source, s).latency_s)


def test_nearest_data_places_jobs_where_their_data_is(tmp_path):
    data = whole_run_data(
        "nearest_data", arrivals_per_day=60, dataset_origins={"a": 1.0, "b": 1.0, "c": 1.0}
    )
    data["workloads"].pop("transfers")
    simulate(validate_scenario(data), out=tmp_path / "near")
    jobs = open_run(tmp_path / "near").table("jobs").to_pandas()
    transfers = open_run(tmp_path / "near").table("transfers").to_pandas()
    assert len(jobs) > 20 and set(jobs["origin"]) == {"a", "b", "c"}
    assert (jobs["site"] == jobs["origin"]).all()
    assert jobs["staging_s"].isna().all()
    assert (transfers["kind"] != "dataset").all()


def test_nearest_data_prefers_the_site_the_data_reaches_first():
    # The data lives at a, which is too small for the job; b is behind a fat link and c
    # behind a thin one with less latency: nearest_data sends the job to b, where the copy
    # arrives first (5 ms + 40 s against 1 ms + 4000 s).
    data = scenario_data(
        [site("a", count=4), site("b", count=16), site("c", count=16)],
        [link("a", "b", 100.0, latency_ms=5.0), link("a", "c", 1.0, latency_ms=1.0)],
        policies={"scheduler": "fcfs", "placement": "nearest_data"},
        horizon="1d",
    )
    world = World(validate_scenario(data))
    world.run(until_s=1.0, steps=1)
    job = Job(
        id=0,
        tenant="academia",
        accelerators=8,
        work_s=600.0,
        walltime_factor=1.0,
        submit_s=world.env.now,
        origin="a",
        dataset_gb=500.0,
    )
    world.broker.submit(job)
    world.run(steps=1)
    assert job.site == "b"
    assert job.staging_s == pytest.approx(0.005 + 500 * 8 / 100, rel=1e-9)
