"""Flow-level network: transfers share channels max-min fairly (the model SimGrid validated).

Rates are recomputed by :func:`twin.kernels.maxmin.network_solve` (the max-min solver, each
channel's total and the next drain in one compiled call) only when a flow starts or
drains (or capacity changes); between those moments every rate is constant, so the next
event is a single SimPy timeout at the earliest drain, not one event per flow per tick.
A transfer is delivered one route latency after its last bit leaves: its time is
latency + bytes × 8 / rate for a lone flow.

Faults and changes (:meth:`Network.cut_link`, :meth:`Network.restore_link`,
:meth:`Network.set_capacity`): every sending flow whose route crosses a cut link moves to
the new shortest route with its remaining bits, or, with no route left, is parked (out of
the solver, its bits kept, ``stalled_s`` counting) until a restore gives it one. A restore
does not move flows whose route still works onto a route that is shorter again: only
parked flows resume. Drained flows whose last bit is on its way are not affected. The
per-flow buffers are rebuilt from the Transfer objects on such a change (changes are rare).

``network.sharing: rtt_weighted`` weights each flow by its round-trip time (2 × route
latency; SimGrid CM02): on a shared bottleneck the rates are in the ratio of 1 / RTT
(:mod:`twin.kernels.maxmin_weighted`). ``network.tcp_window_bytes`` caps each flow at
window / RTT.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from twin.kernels.maxmin import network_advance, network_drain, network_solve
from twin.kernels.maxmin_weighted import weighted_network_solve
from twin.model.recorder import Recorder
from twin.model.topology import Route, Topology

DRAIN_TOLERANCE_S = 1e-9
"""A flow with less than this much sending time left has drained (float rounding)."""
_START = 16
"""Flows the per-flow buffers hold before they first grow."""
RTT_FLOOR_S = 1e-6
"""The round-trip time a zero-latency route is weighted by under ``rtt_weighted``."""


@dataclass(eq=False, slots=True)
class Transfer:
    """N bytes from one node to another along a route."""

    id: int
    kind: str
    """``dataset`` (staging for a job), ``checkpoint`` or ``bulk``."""
    route: Route
    bytes: float
    submit_s: float
    job: int | None
    done: simpy.Event
    remaining_bits: float = 0.0
    """Bits left to send: set at the start and synced by :meth:`Network.in_flight` (the
    network keeps the live values in arrays)."""
    drained_s: float | None = None
    end_s: float | None = None
    cap_bps: float = field(default=np.inf)
    reroutes: int = 0
    """Times it moved to a different route (after a cut on its route)."""
    stalled_s: float = 0.0
    """Time it waited with no route (parked)."""
    parked_s: float | None = None
    """Since when it is parked (no route), or None while it has one."""
    label: str | None = None
    """The user's label of a replayed transfer (``workloads.transfers.trace``)."""

    @property
    def source(self) -> str:
        return self.route.source

    @property
    def destination(self) -> str:
        return self.route.destination


@dataclass(frozen=True)
class CutEffect:
    """What a link cut did to the flows that were sending across it."""

    rerouted: int = 0
    """Flows moved to a new route."""
    stalled: int = 0
    """Flows parked for want of a route."""
    bytes_rerouted: float = 0.0
    """Remaining bytes of the rerouted flows."""
    bytes_stalled: float = 0.0
    """Remaining bytes of the parked flows."""


def _no_route(source: str, destination: str) -> Route:
    """The route of a transfer that never had one (sent during a cut): no nodes."""
    return Route(source, destination, (), np.zeros(0, dtype=np.int64), 0.0, ())


class Network:
    """Active transfers over a topology, their fair rates and their completions.

    The active flows' state lives in growable numpy buffers (the first ``len(_flows)``
    entries are live, in the order of ``_flows``): a start appends to them, and the
    advance, a drain (which moves the flows left down) and the solve are one compiled call
    each on them (``twin.kernels.maxmin``), so an event costs a few calls whatever the
    number of flows.
    """

    def __init__(
        self,
        env: simpy.Environment,
        topology: Topology,
        recorder: Recorder,
        flow_cap_gbps: float | None = None,
        sharing: str | None = None,
        tcp_window_bytes: float | None = None,
    ) -> None:
        self.env = env
        self.topology = topology
        self.recorder = recorder
        self.flow_cap_bps = flow_cap_gbps * 1e9 if flow_cap_gbps else np.inf
        settings = topology.settings
        self.sharing = sharing or settings.sharing
        """``maxmin`` or ``rtt_weighted`` (default: the scenario's ``network.sharing``)."""
        self.tcp_window_bytes = tcp_window_bytes or settings.tcp_window_bytes
        self._weighted = self.sharing == "rtt_weighted"
        self.capacity_gbps = topology.capacity_gbps.copy()
        n = len(self.capacity_gbps)
        self.active: dict[int, Transfer] = {}
        self._flows: list[Transfer] = []
        """Active transfers, in the order of the per-flow buffers below."""
        self._remaining_buf = np.zeros(_START)
        self._caps_buf = np.zeros(_START)
        """Each flow's own rate cap, Gbps."""
        self._gbps_buf = np.zeros(_START)
        """The solver's output: each flow's rate, Gbps."""
        self._rates_buf = np.zeros(_START)
        self._weights_buf = np.ones(_START)
        """Each flow's consumption weight (its RTT) under ``rtt_weighted``."""
        self._lengths_buf = np.zeros(_START, dtype=np.int64)
        self._drained_buf = np.zeros(_START, dtype=np.int64)
        """Where a drain lists the flows that left."""
        self._ptr_buf = np.zeros(_START + 1, dtype=np.int64)
        """CSR row pointer of the routes (``_ptr_buf[0]`` stays 0)."""
        self._links_buf = np.zeros(4 * _START, dtype=np.int64)
        """The active flows' routes, concatenated (CSR with ``_ptr_buf``)."""
        self._occupied = 0
        """Live entries of ``_links_buf``."""
        self.delivering: dict[int, Transfer] = {}
        """Drained transfers whose last bit is still on its way (one route latency)."""
        self.channel_bits = np.zeros(n)
        """Bits carried by each channel since the start (integrated exactly)."""
        self.channel_rate_bps = np.zeros(n)
        self._channel_flows = [0] * n
        """Active flows crossing each channel (a list: updated per hop, read per estimate)."""
        self._capacity = self.capacity_gbps.tolist()
        """``capacity_gbps`` as Python floats, for :meth:`estimate_s` (:meth:`set_capacity`
        refreshes it)."""
        self.parked: dict[int, Transfer] = {}
        """Transfers waiting for a route (a cut left none), by id."""
        self.topology_listeners: list[Callable[[], None]] = []
        """Called after every cut, restore and capacity change."""
        self.bytes_requested = 0.0
        self.bytes_delivered = 0.0
        self.bytes_rerouted = 0.0
        """Remaining bytes of flows moved to a new route, summed per reroute."""
        self.bytes_stalled = 0.0
        """Remaining bytes of flows at the moments they had to park."""
        self.reroutes = 0
        self.solves = 0
        self._next_id = 0
        self._version = 0
        self._last_s = 0.0

    def _make_room(self, flows: int, occupied: int) -> None:
        """Grow the buffers (doubling) to hold ``flows`` flows crossing ``occupied`` channels."""
        if flows > len(self._remaining_buf):
            size = max(flows, 2 * len(self._remaining_buf))
            for name in ("_remaining_buf", "_caps_buf", "_gbps_buf", "_rates_buf", "_weights_buf"):
                setattr(self, name, _grown(getattr(self, name), size))
            self._lengths_buf = _grown(self._lengths_buf, size)
            self._drained_buf = _grown(self._drained_buf, size)
            self._ptr_buf = _grown(self._ptr_buf, size + 1)
        if occupied > len(self._links_buf):
            self._links_buf = _grown(self._links_buf, max(occupied, 2 * len(self._links_buf)))

    @property
    def channel_flows(self) -> np.ndarray:
        """Active flows crossing each channel (int64)."""
        return np.array(self._channel_flows, dtype=np.int64)

    # ------------------------------------------------------------ sending

    def send(
        self,
        source: str,
        destination: str,
        nbytes: float,
        kind: str,
        job: int | None = None,
        label: str | None = None,
    ) -> simpy.Event:
        """Start a transfer; the returned event succeeds with the Transfer when delivered.

        If a cut leaves no route (but the uncut network has one) the transfer starts parked
        and sends when a restore gives it a route. Raises ValueError if the destination
        cannot be reached from the source even with every link up.
        """
        route = self.topology.route(source, destination)
        if route is None:
            if self.topology.route_uncut(source, destination) is None:
                raise ValueError(f"no route from {source!r} to {destination!r}")
            route = _no_route(source, destination)
        transfer = Transfer(
            id=self._next_id,
            kind=kind,
            route=route,
            bytes=float(nbytes),
            submit_s=self.env.now,
            job=job,
            done=self.env.event(),
            remaining_bits=8.0 * float(nbytes),
            cap_bps=self.flow_cap_bps if self.tcp_window_bytes is None else self._cap_bps(route),
            label=label,
        )
        self._next_id += 1
        self.bytes_requested += transfer.bytes
        self.recorder.event(self.env.now, "transfer_start", job=job, value=transfer.bytes)
        if transfer.remaining_bits <= 0.0:
            self._drained(transfer)
            return transfer.done
        if not route.nodes:
            self._park(transfer)
            return transfer.done
        self.advance()
        self.active[transfer.id] = transfer
        self._append(transfer)
        self._resolve()
        return transfer.done

    def _cap_bps(self, route: Route) -> float:
        """A flow's own rate cap on ``route``: the end-host cap and the TCP window / RTT."""
        rtt_s = 2.0 * route.latency_s
        if self.tcp_window_bytes is None or rtt_s <= 0.0:
            return self.flow_cap_bps
        return min(self.flow_cap_bps, 8.0 * self.tcp_window_bytes / rtt_s)

    @staticmethod
    def _weight(route: Route) -> float:
        return max(2.0 * route.latency_s, RTT_FLOOR_S)

    def _append(self, transfer: Transfer) -> None:
        """Add an active transfer at the end of the per-flow buffers."""
        n, m = len(self._flows), self._occupied
        route = transfer.route
        hops = route.channel_ids
        self._make_room(n + 1, m + len(hops))
        self._flows.append(transfer)
        self._remaining_buf[n] = transfer.remaining_bits
        self._caps_buf[n] = transfer.cap_bps / 1e9
        if self._weighted:
            self._weights_buf[n] = self._weight(route)
        self._lengths_buf[n] = len(hops)
        self._links_buf[m : m + len(hops)] = route.channels
        self._occupied = m + len(hops)
        self._ptr_buf[n + 1] = self._occupied
        flows = self._channel_flows
        for channel in hops:
            flows[channel] += 1

    def estimate_s(self, source: str, destination: str, nbytes: float) -> float:
        """Rough transfer time now: latency + bits over the route's fair share if it joined."""
        if source == destination or nbytes <= 0:
            return 0.0
        route = self.topology.route(source, destination)
        if route is None:
            return np.inf
        capacity, flows = self._capacity, self._channel_flows
        share_gbps = min([capacity[c] / (flows[c] + 1) for c in route.channel_ids], default=np.inf)
        rate_bps = min(share_gbps * 1e9, self._cap_bps(route))
        return route.latency_s + 8.0 * nbytes / rate_bps

    def reachable(self, source: str, destination: str) -> bool:
        return source == destination or self.topology.route(source, destination) is not None

    # ------------------------------------------------------------ the fluid model

    def advance(self) -> None:
        """Drain every active flow at its current rate up to now."""
        dt = self.env.now - self._last_s
        if dt > 0.0 and self._flows:
            network_advance(
                len(self._flows),
                dt,
                self._remaining_buf,
                self._rates_buf,
                self.channel_bits,
                self.channel_rate_bps,
            )
        self._last_s = self.env.now

    def _resolve(self) -> None:
        """Recompute the max-min fair rates and schedule the next drain."""
        self._version += 1
        n = len(self._flows)
        if not n:
            self.channel_rate_bps[:] = 0.0
            return
        self.solves += 1
        if self._weighted:
            next_drain_s = weighted_network_solve(
                n,
                self._ptr_buf,
                self._links_buf,
                self.capacity_gbps,
                self._caps_buf,
                self._weights_buf,
                self._remaining_buf,
                self._gbps_buf,
                self._rates_buf,
                self.channel_rate_bps,
            )
        else:
            next_drain_s = network_solve(
                n,
                self._ptr_buf,
                self._links_buf,
                self.capacity_gbps,
                self._caps_buf,
                self._remaining_buf,
                self._gbps_buf,
                self._rates_buf,
                self.channel_rate_bps,
            )
        next_drain_s = max(0.0, next_drain_s)
        version = self._version
        self.env.timeout(next_drain_s).callbacks.append(lambda _: self._on_drain(version))

    def _on_drain(self, version: int) -> None:
        if version != self._version:
            return  # superseded by a later start or drain
        now = self.env.now
        # Late in a long run the clock's resolution exceeds the tolerance: a residue that
        # needs less than one clock tick would be rescheduled at the same instant forever.
        tolerance_s = max(DRAIN_TOLERANCE_S, math.ulp(now))
        count = network_drain(
            len(self._flows),
            now - self._last_s,
            tolerance_s,
            self._remaining_buf,
            self._rates_buf,
            self.channel_bits,
            self.channel_rate_bps,
            self._caps_buf,
            self._lengths_buf,
            self._ptr_buf,
            self._links_buf,
            self._drained_buf,
        )
        self._last_s = now
        if count:
            finished = self._drained_buf[:count].tolist()
            drained = [self._flows[i] for i in finished]
            if count == len(self._flows):
                self._flows = []
            else:
                for i in reversed(finished):
                    del self._flows[i]
            self._occupied = int(self._ptr_buf[len(self._flows)])
            if self._weighted:  # the drain moved the other buffers down, not this one
                self._weights_buf[: len(self._flows)] = [
                    self._weight(transfer.route) for transfer in self._flows
                ]
            flows = self._channel_flows
            for transfer in drained:
                del self.active[transfer.id]
                for channel in transfer.route.channel_ids:
                    flows[channel] -= 1
                self._drained(transfer)
        self._resolve()

    def _drained(self, transfer: Transfer) -> None:
        transfer.remaining_bits = 0.0
        transfer.drained_s = self.env.now
        self.delivering[transfer.id] = transfer
        latency = self.env.timeout(transfer.route.latency_s)
        latency.callbacks.append(lambda _: self._deliver(transfer))

    def _deliver(self, transfer: Transfer) -> None:
        transfer.end_s = self.env.now
        del self.delivering[transfer.id]
        self.bytes_delivered += transfer.bytes
        self.recorder.event(self.env.now, "transfer_end", job=transfer.job, value=transfer.bytes)
        self.recorder.transfer_ended(transfer)
        transfer.done.succeed(transfer)

    def in_flight(self) -> list[Transfer]:
        """Transfers not yet delivered (for the end-of-run record), in order of id."""
        self.advance()
        self._sync()
        now = self.env.now
        for transfer in self.parked.values():  # their wait so far
            assert transfer.parked_s is not None
            transfer.stalled_s += now - transfer.parked_s
            transfer.parked_s = now
        pending = [*self.active.values(), *self.parked.values(), *self.delivering.values()]
        return sorted(pending, key=lambda transfer: transfer.id)

    # ------------------------------------------------------------ faults and changes

    def cut_link(self, link: str) -> CutEffect:
        """Cut a link (both directions; cuts nest, see :meth:`Topology.set_link_up`).

        Every sending flow whose route crosses a channel now down moves to the new shortest
        route with its remaining bits, or is parked if there is none.
        """
        self.advance()
        self._sync()
        self.topology.set_link_up(link, False)
        up = self.topology.channel_up
        rates_bps = self._rates_buf[: len(self._flows)].tolist()
        kept: list[Transfer] = []
        rerouted = stalled = 0
        bytes_rerouted = bytes_stalled = 0.0
        drained: list[Transfer] = []
        for transfer, rate_bps in zip(self._flows, rates_bps, strict=True):
            if all(up[c] for c in transfer.route.channel_ids):
                kept.append(transfer)
                continue
            if transfer.remaining_bits <= rate_bps * DRAIN_TOLERANCE_S:
                drained.append(transfer)  # its last bit left at this instant
                continue
            route = self.topology.route(transfer.source, transfer.destination)
            if route is None:
                del self.active[transfer.id]
                self._park(transfer)
                stalled += 1
                bytes_stalled += transfer.remaining_bits / 8.0
            else:
                self._move(transfer, route)
                kept.append(transfer)
                rerouted += 1
                bytes_rerouted += transfer.remaining_bits / 8.0
        if rerouted or stalled or drained:
            self._flows = kept
            self._rebuild()
            for transfer in drained:
                del self.active[transfer.id]
                self._drained(transfer)
            self._resolve()
        self._notify()
        return CutEffect(rerouted, stalled, bytes_rerouted, bytes_stalled)

    def restore_link(self, link: str) -> None:
        """Undo one cut of a link; once it is up, parked flows with a route again resume
        (on the route they had if it is the shortest again, else on the new one). Flows
        with a working route keep it, even if the restored link gives a shorter one."""
        self.advance()
        self._sync()
        self.topology.set_link_up(link, True)
        now = self.env.now
        resumed = []
        for transfer in sorted(self.parked.values(), key=lambda transfer: transfer.id):
            route = self.topology.route(transfer.source, transfer.destination)
            if route is None:
                continue
            assert transfer.parked_s is not None
            transfer.stalled_s += now - transfer.parked_s
            transfer.parked_s = None
            del self.parked[transfer.id]
            if transfer.route.nodes and route.nodes != transfer.route.nodes:
                self._move(transfer, route)
            else:
                transfer.route = route
                transfer.cap_bps = self._cap_bps(route)
            self.active[transfer.id] = transfer
            resumed.append(transfer)
        if resumed:
            self._flows.extend(resumed)
            self._rebuild()
            self._resolve()
        self._notify()

    def set_capacity(self, link: str, capacity_gbps: float) -> None:
        """Give a link (both directions, or its one shared channel) a new capacity, at once:
        the flows are advanced at the old rates and re-solved at the new ones."""
        if not capacity_gbps > 0.0:
            raise ValueError(f"capacity must be > 0 (cut the link instead), got {capacity_gbps}")
        name = self.topology.canonical(link)
        self.advance()
        for channel in self.topology.link_channels[name]:
            self.capacity_gbps[channel] = capacity_gbps
            self._capacity[channel] = float(capacity_gbps)
        self._resolve()
        self._notify()

    def _park(self, transfer: Transfer) -> None:
        transfer.parked_s = self.env.now
        self.parked[transfer.id] = transfer
        self.bytes_stalled += transfer.remaining_bits / 8.0

    def _move(self, transfer: Transfer, route: Route) -> None:
        """Put a transfer on a different route (counted as a reroute)."""
        transfer.route = route
        transfer.cap_bps = self._cap_bps(route)
        transfer.reroutes += 1
        self.reroutes += 1
        self.bytes_rerouted += transfer.remaining_bits / 8.0

    def _sync(self) -> None:
        """Copy the live remaining bits from the buffers into the active transfers."""
        bits_left = self._remaining_buf[: len(self._flows)].tolist()
        for transfer, bits in zip(self._flows, bits_left, strict=True):
            transfer.remaining_bits = bits

    def _rebuild(self) -> None:
        """Refill the per-flow buffers and channel counts from ``_flows`` (after a change)."""
        flows = self._flows
        occupied = sum(len(transfer.route.channel_ids) for transfer in flows)
        self._make_room(len(flows), occupied)
        counts = [0] * len(self._channel_flows)
        m = 0
        for i, transfer in enumerate(flows):
            route = transfer.route
            hops = route.channel_ids
            self._remaining_buf[i] = transfer.remaining_bits
            self._caps_buf[i] = transfer.cap_bps / 1e9
            self._weights_buf[i] = self._weight(route)
            self._lengths_buf[i] = len(hops)
            self._links_buf[m : m + len(hops)] = route.channels
            m += len(hops)
            self._ptr_buf[i + 1] = m
            for channel in hops:
                counts[channel] += 1
        self._occupied = m
        self._channel_flows[:] = counts

    def _notify(self) -> None:
        for listener in self.topology_listeners:
            listener()


def _grown(buffer: np.ndarray, size: int) -> np.ndarray:
    """``buffer`` copied into a larger one of ``size`` entries (the rest zero)."""
    grown = np.zeros(size, dtype=buffer.dtype)
    grown[: len(buffer)] = buffer
    return grown
