"""The network under faults and changes: link cuts (reroute or park), nested cuts, sends
during a cut, half-duplex links, RTT-weighted sharing and TCP windows, capacities that
change over time, routing metrics and their tie-breaks, and bytes conservation under random
cuts. Times are hand-computed; everything drives a real Network on a SimPy environment.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from network_kit import ACCELERATORS, GB, make_network, site

from twin.config import validate_scenario
from twin.model.job import Job
from twin.model.network import CutEffect, Network, Transfer
from twin.model.network_schedule import start_capacity_schedules
from twin.model.recorder import Recorder
from twin.model.topology import Topology
from twin.model.world import World


def link(a: str, b: str, gbps: float, ms: float = 1.0, **extra: Any) -> dict:
    return {"a": a, "b": b, "capacity_gbps": gbps, "latency_ms": ms, **extra}


def scenario_data(nodes: list[str], links: list[dict], **extra: Any) -> dict:
    data: dict[str, Any] = {
        "name": "faults-network",
        "start": "2026-03-02",
        "accelerators": ACCELERATORS,
        "sites": [site(node) for node in nodes],
        "links": links,
        "tenants": {"academia": {"share": 1.0}},
    }
    data.update(extra)
    return data


def at(env: simpy.Environment, time_s: float, action: Any) -> list:
    """Call ``action()`` at ``time_s``; the returned list gets its result."""
    box: list = []

    def process() -> Iterator[simpy.Event]:
        yield env.timeout(time_s)
        box.append(action())

    env.process(process())
    return box


def delivered(event: simpy.Event) -> Transfer:
    assert event.triggered, "not delivered"
    return event.value


# --------------------------------------------------------------------------------------
# Cuts
# --------------------------------------------------------------------------------------


def square() -> dict:
    # a-b direct (10 Gbps, 1 ms); the detour a-c-b (5 Gbps, 2 + 2 ms).
    return scenario_data(
        ["a", "b", "c"],
        [link("a", "b", 10.0, 1.0), link("a", "c", 5.0, 2.0), link("c", "b", 5.0, 2.0)],
    )


def test_a_cut_on_the_route_reroutes_with_the_remaining_bytes():
    env, network = make_network(square())
    done = network.send("a", "b", 10 * GB, "bulk")
    assert network.topology.link_ids == ["a~b", "a~c", "c~b"]
    effect = at(env, 4.0, lambda: network.cut_link("a~b"))
    env.run()
    # 4 s at 10 Gbps sent 40 of 80 Gbit; the other 40 at 5 Gbps take 8 s, then 4 ms.
    transfer = delivered(done)
    assert transfer.end_s == pytest.approx(12.004, rel=1e-12)
    assert transfer.route.label == "a>c>b" and transfer.route.latency_s == pytest.approx(0.004)
    assert transfer.reroutes == 1 and transfer.stalled_s == 0.0
    assert effect == [CutEffect(rerouted=1, stalled=0, bytes_rerouted=5 * GB, bytes_stalled=0.0)]
    assert network.reroutes == 1 and network.bytes_rerouted == pytest.approx(5 * GB)
    assert network.bytes_delivered == network.bytes_requested == 10 * GB
    assert not network.topology.is_up("a~b") and not network.topology.is_up("b~a")
    # The bits each channel carried: 40 Gbit on a->b, then 40 on a->c and c->b.
    bits = dict(
        zip([(c.a, c.b) for c in network.topology.channels], network.channel_bits, strict=True)
    )
    assert bits[("a", "b")] == pytest.approx(40e9)
    assert bits[("a", "c")] == pytest.approx(40e9) and bits[("c", "b")] == pytest.approx(40e9)


def test_flows_off_the_cut_link_keep_their_route_and_rate():
    env, network = make_network(square())
    detour = network.send("a", "c", 5 * GB, "bulk")  # 40 Gbit at 5 Gbps: 8 s
    at(env, 1.0, lambda: network.cut_link("a~b"))
    env.run()
    assert delivered(detour).end_s == pytest.approx(8.002, rel=1e-12)
    assert delivered(detour).reroutes == 0


def test_with_no_other_route_a_flow_waits_for_the_repair():
    env, network = make_network(scenario_data(["a", "b"], [link("a", "b", 10.0, 1.0)]))
    done = network.send("a", "b", 10 * GB, "bulk")
    effect = at(env, 2.0, lambda: network.cut_link("a~b"))
    seen = at(env, 5.0, lambda: (len(network.active), len(network.parked), network.in_flight()))
    at(env, 10.0, lambda: network.restore_link("a~b"))
    env.run()
    # 20 Gbit by the cut, nothing for 8 s, the last 60 Gbit in 6 s: drained at 16 s.
    transfer = delivered(done)
    assert transfer.end_s == pytest.approx(16.001, rel=1e-12)
    assert transfer.stalled_s == pytest.approx(8.0) and transfer.reroutes == 0
    assert transfer.route.label == "a>b"
    assert effect == [CutEffect(rerouted=0, stalled=1, bytes_rerouted=0.0, bytes_stalled=7.5 * GB)]
    active, parked, pending = seen[0]
    assert (active, parked) == (0, 1) and pending == [transfer]
    assert network.bytes_stalled == pytest.approx(7.5 * GB)
    assert network.bytes_delivered == 10 * GB


def test_a_send_during_a_cut_starts_parked_and_sends_after_the_repair():
    data = scenario_data(["a", "b", "z"], [link("a", "b", 10.0, 1.0)])
    env, network = make_network(data)
    network.cut_link("a~b")
    box = at(env, 1.0, lambda: network.send("a", "b", 10 * GB, "bulk"))
    at(env, 5.0, lambda: network.restore_link("b~a"))  # either spelling of the link
    env.run()
    transfer = delivered(box[0])
    assert transfer.end_s == pytest.approx(5.0 + 8.0 + 0.001, rel=1e-12)
    assert transfer.stalled_s == pytest.approx(4.0) and transfer.reroutes == 0
    assert transfer.route.label == "a>b"
    # z is not linked at all: no cut explains that, so it is an error as before.
    with pytest.raises(ValueError, match="no route from 'a' to 'z'"):
        network.send("a", "z", 1 * GB, "bulk")


def test_nested_cuts_hold_the_link_down_until_the_last_repair():
    env, network = make_network(scenario_data(["a", "b"], [link("a", "b", 10.0, 1.0)]))
    done = network.send("a", "b", 10 * GB, "bulk")
    at(env, 1.0, lambda: network.cut_link("a~b"))  # a scheduled cut ...
    at(env, 2.0, lambda: network.cut_link("a~b"))  # ... and a random one inside it
    up_at_3 = at(env, 3.0, lambda: (network.restore_link("a~b"), network.topology.is_up("a~b")))
    at(env, 6.0, lambda: network.restore_link("a~b"))
    env.run()
    assert up_at_3 == [(None, False)]
    # 10 Gbit, 5 s parked, 70 Gbit in 7 s: drained at 13 s.
    assert delivered(done).end_s == pytest.approx(13.001, rel=1e-12)
    assert delivered(done).stalled_s == pytest.approx(5.0)
    assert network.topology.is_up("a~b")


def test_drained_flows_still_propagating_are_not_affected_by_a_cut():
    env, network = make_network(scenario_data(["a", "b"], [link("a", "b", 10.0, 100.0)]))
    done = network.send("a", "b", 1 * GB, "bulk")  # drained at 0.8 s, lands at 0.9 s
    at(env, 0.85, lambda: network.cut_link("a~b"))
    env.run()
    assert delivered(done).end_s == pytest.approx(0.9, rel=1e-12)
    assert delivered(done).stalled_s == 0.0


def test_a_flow_whose_last_bit_leaves_as_the_link_is_cut_is_not_parked():
    env, network = make_network(scenario_data(["a", "b"], [link("a", "b", 10.0, 100.0)]))
    effect: list[CutEffect] = []
    # This timeout is made before the send's drain: at 0.8 s the cut comes first.
    env.timeout(0.8).callbacks.append(lambda _: effect.append(network.cut_link("a~b")))
    done = network.send("a", "b", 1 * GB, "bulk")  # 8 Gbit at 10 Gbps: drained at 0.8 s
    env.run()
    assert effect == [CutEffect()]
    assert delivered(done).end_s == pytest.approx(0.9, rel=1e-12)
    assert not network.parked and delivered(done).stalled_s == 0.0


def test_a_restore_does_not_move_flows_whose_route_still_works():
    env, network = make_network(square())
    at(env, 0.0, lambda: network.cut_link("a~b"))
    box = at(env, 1.0, lambda: network.send("a", "b", 5 * GB, "bulk"))  # on a>c>b: 8 s
    at(env, 2.0, lambda: network.restore_link("a~b"))
    env.run()
    transfer = delivered(box[0])
    assert transfer.route.label == "a>c>b" and transfer.reroutes == 0
    assert transfer.end_s == pytest.approx(9.004, rel=1e-12)


def test_data_mobility_follows_the_live_routes():
    data = scenario_data(
        ["a", "b", "c"],
        [link("a", "b", 10.0, 1.0), link("a", "c", 10.0, 5.0)],
        policies={"scheduler": "fcfs", "placement": "nearest_data"},
        horizon="1d",
    )
    world = World(validate_scenario(data))
    world.run(until_s=1.0, steps=1)  # the sites open
    network, mobility = world.network, world.data
    assert network is not None and mobility is not None
    a, b, c = world.factories
    assert mobility.connected and mobility.replica_for(a) is b
    network.cut_link("a~b")
    assert not mobility.connected
    assert mobility.replica_for(a) is c  # never the unreachable b
    assert mobility.replica_for(b) is None
    job = Job(
        id=0,
        tenant="academia",
        accelerators=8,
        work_s=600.0,
        walltime_factor=1.0,
        submit_s=0.0,
        origin="b",
        dataset_gb=10.0,
    )
    assert mobility.needs_staging(job, a) and not mobility.can_reach(job, a)
    assert mobility.can_reach(job, b)  # the data is there already
    network.restore_link("a~b")
    assert mobility.connected and mobility.can_reach(job, a) and mobility.replica_for(a) is b


# --------------------------------------------------------------------------------------
# Half duplex, RTT weighting, TCP windows, capacity changes
# --------------------------------------------------------------------------------------


def test_two_opposite_flows_on_a_half_duplex_link_get_half_each():
    data = scenario_data(["a", "b"], [link("a", "b", 10.0, 1.0, duplex=False)])
    env, network = make_network(data)
    assert len(network.topology.channels) == 1
    there = network.send("a", "b", 5 * GB, "bulk")
    back = network.send("b", "a", 5 * GB, "bulk")
    env.run()
    # 40 Gbit each at 5 Gbps: 8 s (full duplex: 4 s).
    assert delivered(there).end_s == pytest.approx(8.001, rel=1e-12)
    assert delivered(back).end_s == pytest.approx(8.001, rel=1e-12)
    data["links"][0]["duplex"] = True
    env, network = make_network(data)
    there = network.send("a", "b", 5 * GB, "bulk")
    network.send("b", "a", 5 * GB, "bulk")
    env.run()
    assert delivered(there).end_s == pytest.approx(4.001, rel=1e-12)


def rtt_data(sharing: str) -> dict:
    # s1 and s2 reach y over a shared 100 Gbps x-y link of no latency; their own
    # (fat) links add 10 and 30 ms: RTTs of 20 and 60 ms.
    return scenario_data(
        ["s1", "s2", "x", "y"],
        [link("s1", "x", 1000.0, 10.0), link("s2", "x", 1000.0, 30.0), link("x", "y", 100.0, 0.0)],
        network={"sharing": sharing},
    )


def test_rtt_weighted_sharing_splits_75_25():
    env, network = make_network(rtt_data("rtt_weighted"))
    near = network.send("s1", "y", 75 * GB, "bulk")  # 600 Gbit each
    far = network.send("s2", "y", 75 * GB, "bulk")
    assert network._gbps_buf[:2].tolist() == pytest.approx([75.0, 25.0], rel=1e-12)
    env.run()
    # near: 600 Gbit at 75 Gbps = 8 s; far: 200 Gbit by then, 400 at 100 Gbps = 4 s more.
    assert delivered(near).end_s == pytest.approx(8.010, rel=1e-12)
    assert delivered(far).end_s == pytest.approx(12.030, rel=1e-12)
    # Max-min: 50/50, both drained at 12 s.
    env, network = make_network(rtt_data("maxmin"))
    near = network.send("s1", "y", 75 * GB, "bulk")
    network.send("s2", "y", 75 * GB, "bulk")
    env.run()
    assert delivered(near).end_s == pytest.approx(12.010, rel=1e-12)


def test_tcp_window_caps_a_flow_at_window_over_rtt():
    data = scenario_data(
        ["a", "b"], [link("a", "b", 10.0, 10.0)], network={"tcp_window_bytes": 1.25e6}
    )
    env, network = make_network(data)
    done = network.send("a", "b", 1 * GB, "bulk")
    env.run()
    # 1.25 MB per 20 ms RTT = 0.5 Gbps: 8 Gbit in 16 s, then 10 ms.
    assert delivered(done).end_s == pytest.approx(16.010, rel=1e-12)


def test_a_capacity_change_mid_transfer():
    data = scenario_data(
        ["a", "b"],
        [link("a", "b", 10.0, 1.0, capacity_schedule=[{"at": 4, "capacity_gbps": 20.0}])],
    )
    scenario = validate_scenario(data)
    env = simpy.Environment()
    network = Network(env, Topology(scenario), Recorder())
    calls: list[int] = []
    network.topology_listeners.append(lambda: calls.append(1))
    assert start_capacity_schedules(env, network, scenario.links) == 1
    done = network.send("a", "b", 10 * GB, "bulk")
    estimate = at(env, 5.0, lambda: network.estimate_s("a", "b", 1 * GB))
    env.run()
    # 40 Gbit in 4 s at 10 Gbps, the other 40 at 20 Gbps in 2 s.
    assert delivered(done).end_s == pytest.approx(6.001, rel=1e-12)
    assert estimate == [pytest.approx(0.001 + 8 / 10)]  # sharing 20 Gbps with the flow
    assert network.capacity_gbps.tolist() == [20.0, 20.0] and calls == [1]
    assert network.estimate_s("a", "b", 1 * GB) == pytest.approx(0.001 + 8 / 20)


# --------------------------------------------------------------------------------------
# Routing metrics and tie-breaks
# --------------------------------------------------------------------------------------


def test_zero_latencies_the_route_of_fewer_hops_wins():
    # s to t over m1..m4 (5 hops) or over b1..b5 (6 hops, listed first and smaller ids).
    six = ["s", "b1", "b2", "b3", "b4", "b5", "t"]
    five = ["s", "m1", "m2", "m3", "m4", "t"]
    links = [link(u, v, 10.0, 0.0) for path in (six, five) for u, v in itertools.pairwise(path)]
    topology = Topology(validate_scenario(scenario_data(sorted(set(six + five)), links)))
    assert topology.route("s", "t").nodes == tuple(five)
    assert topology.route("t", "s").nodes == tuple(reversed(five))


def test_equal_routes_are_broken_by_node_ids():
    links = [link("s", "y", 10.0, 1.0), link("y", "t", 10.0, 1.0)]
    links += [link("s", "x", 10.0, 1.0), link("x", "t", 10.0, 1.0)]
    topology = Topology(validate_scenario(scenario_data(["s", "t", "x", "y"], links)))
    assert topology.route("s", "t").nodes == ("s", "x", "t")
    assert topology.route("t", "s").nodes == ("t", "x", "s")


@pytest.mark.parametrize(
    ("routing", "direct_km", "expected"),
    [
        ("latency", 15.0, ("a", "b", "c")),  # 2 + 3 ms < 9 ms
        ("hops", 15.0, ("a", "c")),
        ("km", 15.0, ("a", "c")),  # 10 + 10 km > 15 km
        ("km", 25.0, ("a", "b", "c")),
    ],
)
def test_routing_metrics(routing, direct_km, expected):
    links = [
        link("a", "c", 10.0, 9.0, km=direct_km),
        link("a", "b", 10.0, 2.0, km=10.0),
        link("b", "c", 10.0, 3.0, km=10.0),
    ]
    data = scenario_data(["a", "b", "c"], links, network={"routing": routing})
    assert Topology(validate_scenario(data)).route("a", "c").nodes == expected


# --------------------------------------------------------------------------------------
# Conservation under random cuts
# --------------------------------------------------------------------------------------

RING = ["a", "b", "c", "d"]
RING_LINKS = [
    link("a", "b", 10.0, 1.0),
    link("b", "c", 4.0, 2.0),
    link("c", "d", 8.0, 1.0),
    link("d", "a", 2.0, 3.0),
    link("a", "c", 1.0, 5.0),
]

sends = st.lists(
    st.tuples(st.floats(0.0, 10.0), st.integers(0, 3), st.integers(1, 3), st.floats(1.0, 40.0)),
    min_size=2,
    max_size=12,
)
"""(time, source, destination offset around the ring, GB)"""
faults = st.lists(
    st.tuples(st.floats(0.0, 30.0), st.sampled_from(["cut", "restore"]), st.integers(0, 4)),
    min_size=1,
    max_size=14,
)
"""(time, cut or restore, link)"""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sends, faults)
def test_bytes_are_conserved_under_random_cuts_and_repairs(send_plan, fault_plan):
    env, network = make_network(scenario_data(RING, RING_LINKS))
    topology = network.topology
    cuts = [0] * len(RING_LINKS)
    problems: list[str] = []
    frozen_bits: dict[int, float] = {}
    """Bits a channel had carried when its link went down."""

    def check() -> None:
        pending = network.in_flight()
        total = network.bytes_delivered + sum(t.bytes for t in pending)
        if total != pytest.approx(network.bytes_requested, rel=1e-12):
            problems.append(f"{total} != {network.bytes_requested}")
        for transfer in pending:
            if not -1e-3 <= transfer.remaining_bits <= 8 * transfer.bytes * (1 + 1e-12):
                problems.append(f"remaining {transfer.remaining_bits} of {transfer.bytes}")
        counts = np.zeros(len(topology.channels), dtype=np.int64)
        for transfer in network.active.values():
            counts[list(transfer.route.channel_ids)] += 1
            if not topology.route_is_up(transfer.route):
                problems.append(f"transfer {transfer.id} on a cut route")
        if counts.tolist() != network.channel_flows.tolist():
            problems.append("channel flow counts")
        for channel, bits in frozen_bits.items():  # no bit crosses a cut link
            if not topology.channel_up[channel] and network.channel_bits[channel] != bits:
                problems.append(f"channel {channel} carried bits while cut")

    def send(source: int, offset: int, gb: float) -> None:
        network.send(RING[source], RING[(source + offset) % 4], gb * GB, "bulk")
        check()

    def fault(kind: str, which: int) -> None:
        name = topology.link_ids[which]
        if kind == "cut":
            cuts[which] += 1
            network.cut_link(name)
            for channel in topology.link_channels[name]:
                frozen_bits.setdefault(channel, float(network.channel_bits[channel]))
        elif cuts[which]:
            check()
            cuts[which] -= 1
            network.restore_link(name)
            if topology.is_up(name):
                for channel in topology.link_channels[name]:
                    frozen_bits.pop(channel, None)
        check()

    for time_s, source, offset, gb in send_plan:
        at(env, time_s, lambda s=source, o=offset, g=gb: send(s, o, g))
    for time_s, kind, which in fault_plan:
        at(env, time_s, lambda k=kind, w=which: fault(k, w))

    def repair_all() -> None:
        for which, count in enumerate(cuts):
            for _ in range(count):
                network.restore_link(topology.link_ids[which])

    at(env, 31.0, repair_all)
    env.run()
    assert not problems, problems
    assert not network.active and not network.parked and not network.delivering
    assert network.bytes_delivered == pytest.approx(network.bytes_requested, rel=1e-12)
    # Every bit sent crossed channels that were up: the total carried is at least the
    # bytes requested times one hop, at most times the longest route (4 hops).
    carried = network.channel_bits.sum()
    requested_bits = 8 * network.bytes_requested
    assert requested_bits * (1 - 1e-9) <= carried <= 4 * requested_bits * (1 + 1e-9)


# --------------------------------------------------------------------------------------
# A whole run: capacity schedule and half duplex through simulate and the trace
# --------------------------------------------------------------------------------------


def test_whole_run_follows_a_capacity_schedule(tmp_path):
    from twin.simulation import simulate
    from twin.trace.reader import open_run

    steps = [{"at": "6.5h", "capacity_gbps": 1.0}, {"at": "12.5h", "capacity_gbps": 20.0}]
    data = scenario_data(
        ["a", "b"],
        [link("a", "b", 10.0, 1.0, duplex=False, capacity_schedule=steps)],
        horizon="1d",
        workloads={
            "training": {
                "enabled": False,
                "arrivals_per_day": 1,
                "accelerators": {"dist": "constant", "value": 1},
                "duration_s": {"dist": "constant", "value": 60},
            },
            "transfers": {"arrivals_per_day": 200, "size_gb": {"dist": "constant", "value": 1}},
        },
        telemetry={"interval": "1h"},
    )
    simulate(validate_scenario(data), out=tmp_path / "run")
    run = open_run(tmp_path / "run")
    links = run.table("links").to_pandas()
    assert len(links.groupby("time_s")) == 24 and (links.groupby("time_s").size() == 1).all()
    capacity = dict(zip(links["time_s"], links["capacity_gbps"], strict=True))
    assert capacity[6 * 3600.0] == 10.0 and capacity[7 * 3600.0] == 1.0
    assert capacity[12 * 3600.0] == 1.0 and capacity[13 * 3600.0] == 20.0
    transfers = run.table("transfers").to_pandas()
    assert {"reroutes", "stalled_s"} <= set(transfers.columns)
    assert (transfers["reroutes"] == 0).all() and (transfers["stalled_s"] == 0.0).all()
    # A lone 8 Gbit transfer takes 0.8 s at 10 Gbps, 8 s at 1 Gbps, 0.4 s at 20 Gbps.
    lone = transfers[transfers["duration_s"] < 9.0]
    slow = lone[(lone["start_s"] > 6.5 * 3600 + 60) & (lone["end_s"] < 12.5 * 3600 - 60)]
    fast = lone[lone["start_s"] > 12.5 * 3600 + 60]
    assert len(slow) and len(fast)
    assert slow["duration_s"].min() == pytest.approx(8.001, rel=1e-9)
    assert fast["duration_s"].min() == pytest.approx(0.401, rel=1e-9)
