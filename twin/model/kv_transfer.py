"""KV-cache transfers of disaggregated serving: from a prefill replica to its decode site.

A transfer of ``b`` bytes takes ``latency + 8·b / bandwidth`` on an idle path. Contention is
first in first out on the path's bottleneck, in order of prefill completion: within a site
the bottleneck is the sending replica's NICs (``interconnect_gbps`` per accelerator of the
prefill replica; the fabric between them non-blocking), so each prefill replica has its own
queue; between two sites it is the route, whose bandwidth (``wan_gbps``, else the capacity
of the route's bottleneck link, at most the sender's NICs) every transfer of that site pair
shares, one queue. A transfer's departure is the Lindley recursion ``d_i = max(ready_i,
d_{i−1}) + bytes_i·8 / bandwidth``, computed for a window's transfers at once; its arrival is
``d_i + latency``. KV traffic is not a flow of the network model: it neither slows the
scenario's dataset, checkpoint and bulk transfers nor is slowed by them, and it does not follow
link cuts during the run (the route is the one at the start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.config.errors import ConfigIssue
from twin.config.schema import KVTransfer, Scenario
from twin.model.geo import great_circle_km
from twin.model.topology import Topology


@dataclass(frozen=True)
class KVPath:
    """Where the KV caches of one prefill site go, and how fast."""

    decode_site: str
    latency_s: float
    """One-way latency of a transfer [s]."""
    gbps: float
    """Bandwidth of the bottleneck [Gbit/s]."""
    per_replica: bool
    """One queue per sending replica (within a site); else one for the site pair."""


def site_latency_s(scenario: Scenario, topology: Topology | None, a: str, b: str) -> float:
    """One-way latency from site ``a`` to site ``b``: the route's, or without one the fibre
    over the great circle (as the inference round trips reckon it)."""
    if a == b:
        return 0.0
    route = topology.route(a, b) if topology is not None else None
    if route is not None:
        return route.latency_s
    sites = {site.id: site for site in scenario.sites}
    km = great_circle_km(sites[a].lat, sites[a].lon, sites[b].lat, sites[b].lon)
    net = scenario.network
    return km * net.route_inflation * net.fibre_us_per_km * 1e-6


def kv_path(
    scenario: Scenario,
    topology: Topology | None,
    spec: KVTransfer,
    prefill_site: str,
    decode_site: str,
    nic_gbps: float,
    path: str,
) -> KVPath | ConfigIssue:
    """The path from ``prefill_site`` to ``decode_site`` for a replica whose NICs give
    ``nic_gbps``, or the issue (at ``path``, the service's kv_transfer) if two sites have no
    route and no ``wan_gbps`` says how fast they exchange KV caches."""
    if prefill_site == decode_site:
        return KVPath(decode_site, spec.interconnect_latency_s, nic_gbps, per_replica=True)
    latency = site_latency_s(scenario, topology, prefill_site, decode_site)
    gbps = spec.wan_gbps
    if gbps is None:
        route = topology.route(prefill_site, decode_site) if topology is not None else None
        if route is None:
            return ConfigIssue(
                f"{path}.wan_gbps",
                f"no network route from {prefill_site!r} to its decode site {decode_site!r}; "
                "expected links between them, or wan_gbps for their KV transfers",
            )
        assert topology is not None
        gbps = float(topology.capacity_gbps[route.channels].min())
    return KVPath(decode_site, latency, min(gbps, nic_gbps), per_replica=False)


@dataclass
class KVSender:
    """The KV transfers leaving one prefill site: its path and the carried queues."""

    path: KVPath
    bytes_per_token: float
    free_at: dict[int, float] = field(default_factory=dict)
    """When each queue (a replica's slot, or -1 for the site pair) finishes sending."""

    def send(self, ready_s: np.ndarray, prompt: np.ndarray, slots: np.ndarray) -> np.ndarray:
        """Arrival times at the decode site of KV caches ready at ``ready_s`` (prefill
        finish [s]) of ``prompt`` tokens, sent by the replicas in bank ``slots``."""
        arrival = np.empty(len(ready_s))
        seconds = prompt * (self.bytes_per_token * 8.0 / (self.path.gbps * 1e9))
        keys = slots if self.path.per_replica else np.full(len(ready_s), -1, dtype=np.int64)
        for key in np.unique(keys).tolist():
            mine = np.flatnonzero(keys == key)
            mine = mine[np.argsort(ready_s[mine], kind="stable")]
            done = _fifo_departures(ready_s[mine], seconds[mine], self.free_at.get(key, -np.inf))
            self.free_at[key] = float(done[-1])
            arrival[mine] = done + self.path.latency_s
        return arrival


def _fifo_departures(ready: np.ndarray, service: np.ndarray, free_at: float) -> np.ndarray:
    """Departures of a FIFO single server (ready sorted): ``d_i = max(ready_i, d_{i−1}) +
    service_i`` with ``d_0 = free_at``, in closed form ``S_i + max(free_at, max_{j≤i}(ready_j −
    S_{j−1}))`` where ``S`` is the running sum of the service times."""
    total = np.cumsum(service)
    before = total - service
    return total + np.maximum(free_at, np.maximum.accumulate(ready - before))
