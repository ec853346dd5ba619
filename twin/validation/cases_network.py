"""Network cases: max-min fair sharing by hand on small topologies (through the whole flow
network: topology, routes, solver, transfers), and on the europe backbone against an
independent exact reference and, where installed, SimGrid's CM02 max-min.

A flow's rate is read as a user would see it: transfers of 10 TB are started at t = 0
and, one second later, each one's bits sent so far over that second. Twin solves in floating
point and the references are exact (or SimGrid's own solver), so hand cases ask for equality
to rounding (1e-9 relative).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import simpy

from twin.config import Scenario, validate_scenario
from twin.config.loader import load_config
from twin.kernels.maxmin import maxmin_rates
from twin.model.network import Network
from twin.model.recorder import Recorder
from twin.model.topology import Topology
from twin.validation import simgrid_peer
from twin.validation.case import Case, not_run
from twin.validation.maxmin_exact import bottleneck_violations, maxmin_exact

GROUP = "network"
BY_HAND = "max-min fair rates worked by hand (progressive filling)"
BERTSEKAS = "Bertsekas & Gallager, Data Networks (1992) §6.5.2"
EXACT = "exact max-min (rational arithmetic, twin.validation.maxmin_exact)"
TEN_TERABYTES = 1e13
EUROPE_FLOWS = 300
EUROPE_SEED = 12


def cases() -> list[Case]:
    return [*by_hand(), *europe()]


def peers() -> dict[str, str]:
    """The peer simulators this group uses and their versions (or "not installed"), and
    whether SimGrid ran in an interpreter of its own (its path is the machine's business)."""
    found = simgrid_peer.version()
    elsewhere = simgrid_peer.python() != sys.executable and not simgrid_peer.unavailable()
    where = " (its own interpreter, TWIN_SIMGRID_PYTHON)" if elsewhere else ""
    return {"simgrid": found + where}


# ---------------------------------------------------------------- small topologies by hand


def _scenario(
    links: list[tuple[str, str, float]], access: dict[str, float] | None = None, **network: Any
) -> Scenario:
    """Sites joined by zero-latency links (``a``, ``b``, Gbps), some with an access cap."""
    nodes = sorted({node for a, b, _ in links for node in (a, b)})
    access = access or {}
    data = {
        "name": "maxmin",
        "start": "2026-03-02",
        "seed": 1,
        "accelerators": {"X": {"tdp_w": 500, "bf16_tflops": 1, "memory_gb": 1}},
        "sites": [
            {
                "id": node,
                "lat": 50.0,
                "lon": 10.0 + i,
                "pools": [{"accelerator": "X", "count": 1}],
                "power_mw": 1.0,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 50,
                **({"access_gbps": access[node]} if node in access else {}),
            }
            for i, node in enumerate(nodes)
        ],
        "links": [
            {"a": a, "b": b, "capacity_gbps": gbps, "latency_ms": 0.0} for a, b, gbps in links
        ],
        "tenants": {"t": {"share": 1}},
        "network": network,
    }
    return validate_scenario(data)


def measured_gbps(scenario: Scenario, flows: Sequence[tuple[str, str]]) -> list[float]:
    """Each flow's rate in twin's flow network: 10 TB per flow started at t = 0, the bits
    each one sent during the first second."""
    env = simpy.Environment()
    network = Network(env, Topology(scenario), Recorder(), scenario.network.flow_cap_gbps)
    for source, destination in flows:
        network.send(source, destination, TEN_TERABYTES, "bulk")
    env.run(until=1.0)
    sent = {t.id: 8 * t.bytes - t.remaining_bits for t in network.in_flight()}
    return [sent[i] / 1e9 for i in range(len(flows))]


def _hand_cases(
    topology: str,
    scenario: Scenario,
    flows: dict[str, tuple[str, str]],
    expected: dict[str, float],
    reasoning: str,
) -> list[Case]:
    """One case per flow of a small topology; the first carries the hand reasoning."""
    rates = measured_gbps(scenario, list(flows.values()))
    return [
        Case(
            GROUP,
            f"{topology}: flow {label} {a}→{b} (Gbps)",
            BY_HAND,
            BERTSEKAS,
            rate,
            expected[label],
            0.0,
            notes=(reasoning,) if label == next(iter(flows)) else (),
        )
        for (label, (a, b)), rate in zip(flows.items(), rates, strict=True)
    ]


def by_hand() -> list[Case]:
    """Four small topologies whose max-min rates are worked out in the notes."""
    parking = [("n0", "n1", 10.0), ("n1", "n2", 4.0)]
    parking_flows = {"A": ("n0", "n2"), "B": ("n0", "n1"), "C": ("n1", "n2")}
    cascade = [("n0", "n1", 1.0), ("n1", "n2", 3.0), ("n2", "n3", 5.0)]
    cascade_flows = {
        "A": ("n0", "n3"),
        "B": ("n0", "n1"),
        "C": ("n1", "n3"),
        "D": ("n1", "n2"),
        "E": ("n2", "n3"),
    }
    star = [("a", "b", 10.0), ("a", "c", 10.0)]
    return [
        *_hand_cases(
            "parking lot n0–n1 (10 Gbps)–n2 (4 Gbps)",
            _scenario(parking),
            parking_flows,
            {"A": 2.0, "B": 8.0, "C": 2.0},
            "n1→n2 has the smallest fair share (4 / 2 flows = 2 < 10 / 2): A and C get 2; B "
            "takes what A leaves of n0→n1: 10 − 2 = 8.",
        ),
        *_hand_cases(
            "parking lot with a 3 Gbps per-flow cap",
            _scenario(parking, flow_cap_gbps=3.0),
            parking_flows,
            {"A": 2.0, "B": 3.0, "C": 2.0},
            "as without the cap, A = C = 2 on n1→n2; B's fair remainder 8 exceeds the cap, "
            "so B gets 3 and 5 Gbps of n0→n1 stay idle.",
        ),
        *_hand_cases(
            "cascade n0–n1 (1)–n2 (3)–n3 (5 Gbps)",
            _scenario(cascade),
            cascade_flows,
            {"A": 0.5, "B": 0.5, "C": 1.25, "D": 1.25, "E": 3.25},
            "three bottlenecks in turn. Shares: n0→n1 1/2, n1→n2 3/3, n2→n3 5/3: n0→n1 fills "
            "first, A = B = 1/2. n1→n2 has 3 − 1/2 left for C, D: 5/4 each (< (5 − 1/2)/2 on "
            "n2→n3). n2→n3 has 5 − 1/2 − 5/4 = 13/4 left for E.",
        ),
        *_hand_cases(
            "star at a, a's access 3 Gbps, links 10 Gbps",
            _scenario(star, access={"a": 3.0}),
            {"A": ("a", "b"), "B": ("a", "c"), "C": ("b", "a")},
            {"A": 1.5, "B": 1.5, "C": 3.0},
            "A and B leave a through its 3 Gbps access uplink: 1.5 each; C enters a through "
            "its access downlink, a separate 3 Gbps resource, alone: 3.",
        ),
    ]


# ---------------------------------------------------------------- the europe backbone


Flow = tuple[str, str, list[int]]
"""Source, destination and the channels of its route."""


def europe_flows(scenario: Scenario, seed: int = EUROPE_SEED, n: int = EUROPE_FLOWS) -> list[Flow]:
    """``n`` site-to-site flows over the scenario's topology, drawn uniformly (seeded)."""
    topology = Topology(scenario)
    sites = [site.id for site in scenario.sites]
    rng = np.random.default_rng(seed)
    flows = []
    while len(flows) < n:
        a, b = rng.choice(len(sites), 2, replace=False)
        route = topology.route(sites[a], sites[b])
        flows.append((sites[a], sites[b], [int(c) for c in route.channels]))
    return flows


def _kernel_rates(routes: list[list[int]], capacity: np.ndarray, caps: np.ndarray | None):
    ptr = np.zeros(len(routes) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(route) for route in routes])
    links = np.array([c for route in routes for c in route], dtype=np.int64)
    return maxmin_rates(ptr, links, capacity, caps)


def _worst(
    name: str,
    twin: np.ndarray,
    reference: np.ndarray,
    what: str,
    source: str,
    notes: tuple[str, ...] = (),
) -> Case:
    """The flow whose rate is furthest (relatively) from the reference's."""
    f = int(np.argmax(np.abs(twin - reference) / reference))
    name = f"{name}: worst flow (#{f}, Gbps)"
    return Case(GROUP, name, what, source, float(twin[f]), float(reference[f]), 0.0, notes=notes)


def europe() -> list[Case]:
    """The kernel on 300 random site-to-site flows over the europe backbone (144 channels),
    without and with per-flow caps, against the exact reference; the flow network's rates
    on the same flows; SimGrid on both where it is installed."""
    scenario = load_config("europe")
    flows = europe_flows(scenario)
    routes = [route for _, _, route in flows]
    capacity = Topology(scenario).capacity_gbps
    caps = np.random.default_rng(EUROPE_SEED + 1).uniform(1.0, 60.0, len(routes))
    prefix = f"europe backbone, {len(routes)} flows"
    made: list[Case] = []
    kernel: dict[str, np.ndarray] = {}
    for label, flow_caps in (("uncapped", None), ("caps U(1, 60) Gbps", caps)):
        name = f"{prefix}, {label}, kernel"
        exact = np.array([float(r) for r in maxmin_exact(routes, capacity.tolist(), flow_caps)])
        rates = kernel[label] = _kernel_rates(routes, capacity, flow_caps)
        violations = bottleneck_violations(routes, capacity.tolist(), rates.tolist(), flow_caps)
        made += [
            _worst(name, rates, exact, EXACT, BERTSEKAS),
            Case(
                GROUP,
                f"{name}: total rate (Gbps)",
                EXACT,
                BERTSEKAS,
                float(rates.sum()),
                float(exact.sum()),
                0.0,
            ),
            Case(
                GROUP,
                f"{name}: flows without a bottleneck link",
                "max-min certificate: feasible, and every flow below its cap is largest on "
                "some saturated link",
                BERTSEKAS,
                float(violations),
                0.0,
                0.0,
                absolute=True,
            ),
        ]
    network = np.array(measured_gbps(scenario, [(a, b) for a, b, _ in flows]))
    exact = np.array([float(r) for r in maxmin_exact(routes, capacity.tolist())])
    made.append(_worst(f"{prefix}, flow network (transfers)", network, exact, EXACT, BERTSEKAS))
    made += simgrid_cases(prefix, routes, capacity, network, kernel["caps U(1, 60) Gbps"], caps)
    return made


def simgrid_cases(
    prefix: str,
    routes: list[list[int]],
    capacity: np.ndarray,
    network: np.ndarray,
    capped: np.ndarray,
    caps: np.ndarray,
) -> list[Case]:
    """The flow network's rates (no caps) and the kernel's (with caps: in SimGrid, a link of
    the cap's capacity private to the flow) against SimGrid's on the same flows; not run
    where SimGrid is not importable."""
    what = f"SimGrid {simgrid_peer.version()}, CM02 max-min"
    source = "SimGrid (simgrid.org) Python bindings, platform built in code (simgrid_maxmin.py)"
    names = (
        f"{prefix}, flow network vs SimGrid: worst flow (Gbps)",
        f"{prefix}, caps U(1, 60) Gbps, kernel vs SimGrid: worst flow (Gbps)",
    )
    reason = simgrid_peer.unavailable()
    if reason:
        return [not_run(GROUP, name, what, source, reason) for name in names]
    try:
        uncapped = np.array(simgrid_peer.maxmin_gbps(routes, capacity.tolist()))
        limited = np.array(simgrid_peer.maxmin_gbps(routes, capacity.tolist(), caps.tolist()))
    except simgrid_peer.PeerError as error:  # importable but broken: loud, never passed
        crashed = (f"SimGrid is importable but gave no rates: {error}",)
        return [Case(GROUP, n, what, source, math.nan, 0.0, 0.0, notes=crashed) for n in names]
    note = (
        "SimGrid's rates are read like twin's transfers (bytes sent in the first second of "
        "10 TB comms), with maxmin/precision 1e-12; cross-traffic and the TCP window bound off",
    )
    return [
        _worst(names[0].removesuffix(": worst flow (Gbps)"), network, uncapped, what, source, note),
        _worst(names[1].removesuffix(": worst flow (Gbps)"), capped, limited, what, source, note),
    ]
