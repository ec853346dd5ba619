"""The network's shape: nodes (sites and PoPs), directed channels, latencies and routes.

Each configured link becomes one channel per direction (full duplex, ``capacity_gbps`` each
way), one channel if ``directed``, or one channel both directions share if ``duplex: false``
(SimGrid's SHARED links). A site with ``access_gbps`` gets an uplink and a downlink channel
that every flow leaving or entering it crosses. Latency is the link's ``latency_ms`` or its
fibre length (``km``, else great-circle × route inflation) at the fibre's µs per km.

Routes are shortest by ``network.routing`` (``latency``, ``km`` or ``hops``), ties broken
deterministically: among routes of equal metric the fewest hops, then the smallest sequence
of node ids. The metric is summed in integers (picoseconds, millimetres or hops), so routes
equal up to float rounding count as ties. A link can be cut and restored
(:meth:`Topology.set_link_up`); routes are cached and forgotten on every change.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np

from twin.config.schema import Scenario
from twin.model.geo import great_circle_km

_SCALE = {"latency": 1e12, "km": 1e6, "hops": 0.0}
"""Metric units per second (``latency``) or per km (``km``): summed as integers."""


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


@dataclass(frozen=True)
class _Edge:
    """One way across a link in the routing graph."""

    to: str
    channel: int
    link: str
    weight: int
    """The routing metric of this hop, as an integer (see ``_SCALE``)."""


class Topology:
    """Nodes, channels and routes of a scenario's network."""

    def __init__(self, scenario: Scenario) -> None:
        network = scenario.network
        self.settings = network
        """The scenario's ``network`` section (routing, sharing, TCP window)."""
        coordinates = {site.id: (site.lat, site.lon) for site in scenario.sites}
        coordinates.update({pop.id: (pop.lat, pop.lon) for pop in scenario.pops})
        self.graph = nx.DiGraph()
        """The links that are up (an edge per direction; attributes latency_s, km, channel)."""
        self.graph.add_nodes_from(coordinates)
        self._adjacency: dict[str, list[_Edge]] = {node: [] for node in coordinates}
        """Every configured hop, up or down, by node (for the routing search)."""
        self.channels: list[Channel] = []
        self.link_ids: list[str] = []
        """The configured links' ids (``a~b``), in config order."""
        self.link_channels: dict[str, tuple[int, ...]] = {}
        """Link id → its channel indices (one or two)."""
        self._edges: dict[str, list[tuple[str, str, dict]]] = {}
        self._down: dict[str, int] = {}
        """Link id → how many cuts hold it down (absent when up)."""
        self.channel_up = np.ones(0, dtype=bool)
        scale = _SCALE[network.routing]
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
            name = link_id(link.a, link.b)
            self.link_ids.append(name)
            ends = [(link.a, link.b)] if link.directed else [(link.a, link.b), (link.b, link.a)]
            shared = (
                None
                if link.duplex
                else self._add_channel(name, link.a, link.b, link.capacity_gbps, latency_s)
            )
            metric = {"latency": latency_s, "km": km, "hops": 0.0}[network.routing]
            weight = round(metric * scale)
            edges = self._edges[name] = []
            for a, b in ends:
                channel = shared or self._add_channel(name, a, b, link.capacity_gbps, latency_s)
                attributes = {"latency_s": latency_s, "km": km, "channel": channel.index}
                edges.append((a, b, attributes))
                self.graph.add_edge(a, b, **attributes)
                self._adjacency[a].append(_Edge(b, channel.index, name, weight))
            self.link_channels[name] = tuple(dict.fromkeys(a["channel"] for _, _, a in edges))
        self.access: dict[str, tuple[int, int]] = {}
        """Site id → (uplink channel, downlink channel) for sites with an access cap."""
        for site in scenario.sites:
            if site.access_gbps is not None:
                name = f"access:{site.id}"
                up = self._add_channel(name, site.id, "access", site.access_gbps, 0.0)
                down = self._add_channel(name, "access", site.id, site.access_gbps, 0.0)
                self.access[site.id] = (up.index, down.index)
        self.capacity_gbps = np.array([c.capacity_gbps for c in self.channels], dtype=np.float64)
        self.channel_up = np.ones(len(self.channels), dtype=bool)
        """Whether each channel's link is up (access channels always are)."""
        self._routes: dict[tuple[str, str], Route | None] = {}
        self._uncut: dict[str, dict[str, Route]] = {}
        """Routes as if no link were cut, by source (never change)."""

    def _add_channel(
        self, link: str, a: str, b: str, capacity_gbps: float, latency_s: float
    ) -> Channel:
        channel = Channel(len(self.channels), link, a, b, capacity_gbps, latency_s)
        self.channels.append(channel)
        return channel

    # ------------------------------------------------------------ routes

    def route(self, source: str, destination: str) -> Route | None:
        """The shortest route over the links that are up, or None if there is none."""
        key = (source, destination)
        if key not in self._routes:
            routes = self._search(source, self._down)
            for node in self._adjacency:
                self._routes[(source, node)] = routes.get(node)
            self._routes.setdefault(key, None)  # an unknown node
        return self._routes[key]

    def route_uncut(self, source: str, destination: str) -> Route | None:
        """The route there would be if no link were cut."""
        if source not in self._uncut:
            self._uncut[source] = self._search(source, {})
        return self._uncut[source].get(destination)

    def _search(self, source: str, down: dict[str, int] | set[str]) -> dict[str, Route]:
        """Dijkstra from ``source`` over the links not in ``down``, by (metric, hops, node
        ids): the composite key is extended hop by hop, so its order is a total one and every
        prefix of a best route is a best route (one search gives every destination)."""
        if source not in self._adjacency:
            return {}
        best: dict[str, tuple[int, int, tuple[str, ...]]] = {source: (0, 0, (source,))}
        hops_of: dict[str, tuple[int, ...]] = {source: ()}
        done: set[str] = set()
        heap = [(0, 0, (source,), ())]
        while heap:
            metric, hops, nodes, channels = heapq.heappop(heap)
            node = nodes[-1]
            if node in done:
                continue
            done.add(node)
            hops_of[node] = channels
            for edge in self._adjacency[node]:
                if edge.link in down or edge.to in done:
                    continue
                key = (metric + edge.weight, hops + 1, (*nodes, edge.to))
                if edge.to not in best or key < best[edge.to]:
                    best[edge.to] = key
                    heapq.heappush(heap, (*key, (*channels, edge.channel)))
        return {node: self._route(best[node][2], hops_of[node]) for node in done}

    def _route(self, nodes: tuple[str, ...], hops: Iterable[int]) -> Route:
        source, destination = nodes[0], nodes[-1]
        channels = list(hops)
        if source in self.access:
            channels.insert(0, self.access[source][0])
        if destination in self.access:
            channels.append(self.access[destination][1])
        latency_s = sum(self.channels[c].latency_s for c in channels)
        return Route(
            source,
            destination,
            nodes,
            np.array(channels, dtype=np.int64),
            latency_s,
            tuple(int(channel) for channel in channels),
        )

    def changed(self) -> None:
        """Forget cached routes (after a link is cut or restored)."""
        self._routes.clear()

    # ------------------------------------------------------------ cuts

    def canonical(self, link: str) -> str:
        """The configured id of ``link``, given as ``a~b`` or ``b~a``; KeyError if unknown."""
        if link in self._edges:
            return link
        a, _, b = link.partition("~")
        if link_id(b, a) in self._edges:
            return link_id(b, a)
        raise KeyError(f"unknown link {link!r}; links are {', '.join(self.link_ids)}")

    def is_up(self, link: str) -> bool:
        return self.canonical(link) not in self._down

    def set_link_up(self, link: str, up: bool) -> None:
        """Cut (``up=False``) or restore one link, both directions.

        Cuts nest: each cut adds one to the link's down-count and each restore takes one
        off (never below zero); the link is up when the count is 0. The graph's edges and
        :attr:`channel_up` follow, and the cached routes are forgotten.
        """
        name = self.canonical(link)
        count = self._down.get(name, 0) + (-1 if up else 1)
        if count > 0:
            self._down[name] = count
        else:
            self._down.pop(name, None)
        is_up = name not in self._down
        for channel in self.link_channels[name]:
            self.channel_up[channel] = is_up
        for a, b, attributes in self._edges[name]:
            if is_up:
                self.graph.add_edge(a, b, **attributes)
            elif self.graph.has_edge(a, b):
                self.graph.remove_edge(a, b)
        self.changed()

    def route_is_up(self, route: Route) -> bool:
        """Whether every channel of ``route`` is up."""
        up = self.channel_up
        return all(up[c] for c in route.channel_ids)
