"""The network's shape: nodes (sites and PoPs), directed channels, latencies and routes.

Each configured link becomes one channel per direction (full duplex, ``capacity_gbps`` each
way), or one channel if ``directed``. A site with ``access_gbps`` gets an uplink and a
downlink channel that every flow leaving or entering it crosses. Latency is the link's
``latency_ms`` or its fibre length (``km``, else great-circle × route inflation) at the fibre's
µs per km. Routes are shortest by latency (networkx), computed once per topology change.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import networkx as nx
import numpy as np

from twin.config.schema import Scenario
from twin.model.geo import great_circle_km


@dataclass(frozen=True)
class Channel:
    """One direction of a link (or a site's access up/downlink): a shared resource."""

    index: int
    link: str
    """The configured link's id, ``a~b`` (both directions share it), or ``access:<site>``."""
    a: str
    b: str
    capacity_gbps: float
    latency_s: float


@dataclass(frozen=True)
class Route:
    """The channels a flow from ``source`` to ``destination`` crosses, in order."""

    source: str
    destination: str
    nodes: tuple[str, ...]
    channels: np.ndarray
    """Channel indices (int64)."""
    latency_s: float
    channel_ids: tuple[int, ...] = ()
    """The same indices as Python ints (cheap to loop over per transfer)."""

    @functools.cached_property
    def label(self) -> str:
        """The nodes joined by ``>`` (computed once: every transfer's row carries it)."""
        return ">".join(self.nodes)


def link_id(a: str, b: str) -> str:
    return f"{a}~{b}"


class Topology:
    """Nodes, channels and routes of a scenario's network."""

    def __init__(self, scenario: Scenario) -> None:
        network = scenario.network
        coordinates = {site.id: (site.lat, site.lon) for site in scenario.sites}
        coordinates.update({pop.id: (pop.lat, pop.lon) for pop in scenario.pops})
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(coordinates)
        self.channels: list[Channel] = []
        for link in scenario.links:
            km = link.km
            if km is None:
                km = great_circle_km(*coordinates[link.a], *coordinates[link.b])
                km *= network.route_inflation
            latency_s = (
                link.latency_ms / 1000.0
                if link.latency_ms is not None
                else km * network.fibre_us_per_km * 1e-6
            )
            ends = [(link.a, link.b)] if link.directed else [(link.a, link.b), (link.b, link.a)]
            for a, b in ends:
                channel = self._add_channel(
                    link_id(link.a, link.b), a, b, link.capacity_gbps, latency_s
                )
                self.graph.add_edge(a, b, latency_s=latency_s, channel=channel.index)
        self.access: dict[str, tuple[int, int]] = {}
        """Site id → (uplink channel, downlink channel) for sites with an access cap."""
        for site in scenario.sites:
            if site.access_gbps is not None:
                name = f"access:{site.id}"
                up = self._add_channel(name, site.id, "access", site.access_gbps, 0.0)
                down = self._add_channel(name, "access", site.id, site.access_gbps, 0.0)
                self.access[site.id] = (up.index, down.index)
        self.capacity_gbps = np.array([c.capacity_gbps for c in self.channels], dtype=np.float64)
        self._routes: dict[tuple[str, str], Route | None] = {}

    def _add_channel(
        self, link: str, a: str, b: str, capacity_gbps: float, latency_s: float
    ) -> Channel:
        channel = Channel(len(self.channels), link, a, b, capacity_gbps, latency_s)
        self.channels.append(channel)
        return channel

    def route(self, source: str, destination: str) -> Route | None:
        """The lowest-latency route, or None if the destination cannot be reached."""
        key = (source, destination)
        if key not in self._routes:
            self._routes[key] = self._shortest(source, destination)
        return self._routes[key]

    def _shortest(self, source: str, destination: str) -> Route | None:
        try:
            nodes = nx.shortest_path(self.graph, source, destination, weight="latency_s")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return None
        channels = [self.graph.edges[u, v]["channel"] for u, v in itertools.pairwise(nodes)]
        if source in self.access:
            channels.insert(0, self.access[source][0])
        if destination in self.access:
            channels.append(self.access[destination][1])
        latency_s = sum(self.channels[c].latency_s for c in channels)
        return Route(
            source,
            destination,
            tuple(nodes),
            np.array(channels, dtype=np.int64),
            latency_s,
            tuple(int(channel) for channel in channels),
        )

    def changed(self) -> None:
        """Forget cached routes (after a link is cut or restored)."""
        self._routes.clear()
