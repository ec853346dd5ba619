"""Real-time inference: regional demand, routing, and replicas served by numba kernels.

Requests are far too many for one SimPy event each, so the model is hybrid (DESIGN §3): one
SimPy process per service wakes every window and, for each hosting site in turn, draws the
window's arrivals as arrays from the routed regional demand, and passes them through a
queueing kernel whose state is carried across windows (:mod:`twin.kernels.queueing`):
multi-server FCFS for ``single`` services, an iteration-level continuous-batching replica
for ``llm`` services. Only per-window aggregates are recorded. Replicas hold accelerators of
their factory, so inference and training compete for the same sites and power.

An ``llm`` replica's ``max_queue`` bounds its waiting queue (requests not yet admitted to the
running batch): the kernel drops an arrival that finds it full (see
:func:`twin.kernels.queueing.batching_step`). Scaling ``llm`` replicas down drains them
(:class:`ServiceSite`). A service that no hosting site can hold is a config error when the
world is built; hosting sites that cannot hold it are left out.

Latencies include the network round trip from the request's region to the site.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import simpy

from twin.config.errors import ConfigError, ConfigIssue
from twin.config.schema import Inference, Scenario, Service
from twin.kernels.batching_bank import ReplicaBank
from twin.kernels.completions import Pending, complete, llm_served
from twin.kernels.dealing import REGION_BITS, deal
from twin.kernels.queueing import (
    N_STATS,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_ITERATIONS,
    BatchingParams,
    fcfs_multiserver_limited,
    make_queue_state,
)
from twin.kernels.routing import fill_nearest_first
from twin.kernels.window_stats import categorical, percentiles_ms, tally_regions
from twin.model.calendar import HOUR_S, Calendar
from twin.model.distributions import make_sampler
from twin.model.factory import Factory, Pool
from twin.model.fluid import FluidService, FluidWindow
from twin.model.geo import great_circle_km
from twin.model.iteration import IterationModel, ReplicaDoesNotFitError, iteration_model
from twin.model.recorder import Recorder
from twin.model.request_trace import TracedRequests, traced_requests
from twin.model.rng import stream
from twin.model.topology import Topology

_NO_TIMES = np.zeros(0)
_NO_IDS = np.zeros(0, dtype=np.int64)
_NO_REQUESTS = TracedRequests(_NO_TIMES, _NO_IDS, _NO_IDS, _NO_IDS, _NO_TIMES)


def default_diurnal() -> list[float]:
    """Interactive demand by local hour: trough at 04:00 at a third of the 20:00 peak."""
    profile = []
    for hour in range(24):
        h = hour + 24 if hour < 4 else hour
        if h <= 20:
            rise = (1 - math.cos(math.pi * (h - 4) / 16)) / 2
        else:
            rise = (1 + math.cos(math.pi * (h - 20) / 8)) / 2
        profile.append(1 / 3 + 2 / 3 * rise)
    return profile


# ---------------------------------------------------------------- demand and distance


class Demand:
    """Requests per second from each region, following the local time of day."""

    def __init__(self, spec: Inference, calendar: Calendar) -> None:
        shares = np.array([region.share for region in spec.regions], dtype=float)
        self.shares = shares / shares.sum()
        profile = np.asarray(spec.diurnal or default_diurnal(), dtype=float)
        self.profile = profile / profile.max()
        self.offsets_h = np.array([region.utc_offset_h for region in spec.regions])
        self.calendar = calendar

    def rps(self, peak_rps: float, time_s: float) -> np.ndarray:
        """Per-region rate at ``time_s`` (the profile is linear between hour centres)."""
        utc_h = (time_s + self.calendar.offset_s) / HOUR_S
        local = (utc_h + self.offsets_h - 0.5) % 24
        low = np.floor(local).astype(int)
        frac = local - low
        level = self.profile[low] * (1 - frac) + self.profile[(low + 1) % 24] * frac
        return peak_rps * self.shares * level


def round_trips_s(scenario: Scenario, topology: Topology | None) -> np.ndarray:
    """Round-trip time from every region to every site, shape (regions, sites).

    A region reaches the network at its nearest node (site or PoP) over fibre of
    great-circle × route inflation; from there it follows the network's route.
    """
    spec = scenario.workloads.inference
    assert spec is not None
    net = scenario.network
    fibre_s_per_km = net.fibre_us_per_km * 1e-6 * net.route_inflation
    nodes = [(site.id, site.lat, site.lon) for site in scenario.sites]
    nodes += [(pop.id, pop.lat, pop.lon) for pop in scenario.pops]
    rtt = np.zeros((len(spec.regions), len(scenario.sites)))
    for r, region in enumerate(spec.regions):
        if topology is not None:  # where the region enters the network
            entry, lat, lon = min(
                nodes, key=lambda n: great_circle_km(region.lat, region.lon, n[1], n[2])
            )
            access = great_circle_km(region.lat, region.lon, lat, lon) * fibre_s_per_km
        for s, site in enumerate(scenario.sites):
            direct = great_circle_km(region.lat, region.lon, site.lat, site.lon) * fibre_s_per_km
            best = direct
            if topology is not None:
                route = topology.route(entry, site.id) if entry != site.id else None
                if entry == site.id:
                    best = access
                elif route is not None:
                    best = access + route.latency_s
            rtt[r, s] = 2 * best
    return rtt


# ---------------------------------------------------------------- routing policies


@dataclass
class SiteView:
    """What a router knows of one hosting site at a window."""

    column: int
    """Index of the site in the scenario's site list."""
    capacity_rps: float
    """Requests/s the site's replicas complete when saturated."""
    delay_s: float
    """Mean queueing delay (wait, or TTFT beyond a prefill) seen in the last window."""


Router = Callable[[np.ndarray, np.ndarray, list[SiteView], Service], np.ndarray]
"""(region rps, rtt matrix (regions × sites), hosting sites, service) → rps per region × view."""


def nearest(
    demand: np.ndarray, rtt: np.ndarray, views: list[SiteView], service: Service
) -> np.ndarray:
    """Each region's requests go to the hosting site with the shortest round trip."""
    columns = [view.column for view in views]
    choice = np.argmin(rtt[:, columns], axis=1)
    flows = np.zeros((len(demand), len(views)))
    flows[np.arange(len(demand)), choice] = demand
    return flows


def least_latency(
    demand: np.ndarray, rtt: np.ndarray, views: list[SiteView], service: Service
) -> np.ndarray:
    """Each region's requests go where round trip + last window's queueing delay is least."""
    columns = [view.column for view in views]
    delays = np.array([view.delay_s for view in views])
    choice = np.argmin(rtt[:, columns] + delays[None, :], axis=1)
    flows = np.zeros((len(demand), len(views)))
    flows[np.arange(len(demand)), choice] = demand
    return flows


SLO_AWARE_HEADROOM = 0.9
"""slo_aware fills a site to this share of its saturation rate before spilling."""


def slo_aware(
    demand: np.ndarray, rtt: np.ndarray, views: list[SiteView], service: Service
) -> np.ndarray:
    """Fill the nearest sites first, up to their capacity, then spill to the next nearest
    whose round trip still leaves room in the latency SLO; what no site can take goes to the
    region's nearest site."""
    budget = service.slo.ttft_s or service.slo.latency_s or math.inf
    columns = [view.column for view in views]
    room = np.array([view.capacity_rps * SLO_AWARE_HEADROOM for view in views])
    return fill_nearest_first(demand, rtt[:, columns], room, budget)


ROUTINGS: dict[str, Router] = {
    "nearest": nearest,
    "least_latency": least_latency,
    "slo_aware": slo_aware,
}
"""Routing policies by the name used in ``workloads.inference.routing``."""


# ---------------------------------------------------------------- per-window results


@dataclass
class WindowResult:
    """What one service × site did in one window (latencies in seconds, RTT included)."""

    arrivals: int = 0
    arrival_regions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dropped: int = 0
    dropped_regions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    served_regions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    latency: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ttft: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tpot: np.ndarray = field(default_factory=lambda: np.zeros(0))
    missed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    in_system: int = 0
    mean_batch: float = math.nan
    busy: float = 0.0
    prompt_tokens: int | None = None
    """Σ prompt tokens of the window's arrivals (llm)."""
    output_tokens: int | None = None
    """Σ output tokens of the window's arrivals (llm)."""


_Q_TWO = np.array([50.0, 99.0])
_QUANTILES = (_Q_TWO, _Q_TWO, np.array([50.0, 95.0, 99.0]))
"""The percentiles recorded of TTFT, TPOT and latency (the columns of inference.arrow)."""


# ---------------------------------------------------------------- where replicas go


def choose_pool(service: Service, factory: Factory) -> tuple[Pool | None, IterationModel | None]:
    """The fastest pool of ``factory`` that can hold a replica of ``service``: an allowed
    accelerator type, at least ``accelerators_per_replica`` accelerators, and for ``llm``
    room for the weights and a KV cache. ``(None, None)`` if there is none."""
    pool, model, _ = _choose_pool(service, factory)
    return pool, model


def _choose_pool(
    service: Service, factory: Factory
) -> tuple[Pool | None, IterationModel | None, dict[str, list[str]]]:
    """:func:`choose_pool`, and why each pool was passed over (reason → pool names)."""
    allowed = service.accelerator_types
    why: dict[str, list[str]] = {"type": [], "size": [], "model": []}
    for pool in sorted(factory.pools.values(), key=lambda p: (-p.spec.speed, p.accelerator)):
        if allowed is not None and pool.accelerator not in allowed:
            why["type"].append(pool.accelerator)
            continue
        if pool.total < service.accelerators_per_replica:
            why["size"].append(f"{pool.total} × {pool.accelerator}")
            continue
        if service.kind != "llm":
            return pool, None, why
        try:
            return pool, iteration_model(service, pool.spec), why
        except ReplicaDoesNotFitError as error:
            why["model"].append(f"{pool.accelerator}: {error}")
    return None, None, why


def _placement_issue(path: str, service: Service, unplaced: dict[str, dict]) -> ConfigIssue:
    """Why no hosting site of ``service`` can hold a replica (the most specific reason)."""
    sites = ", ".join(unplaced)
    g = service.accelerators_per_replica
    if any(why["model"] for why in unplaced.values()):
        detail = "; ".join(f"{site}: {', '.join(why['model'])}" for site, why in unplaced.items())
        return ConfigIssue(
            f"{path}.model",
            f"the model fits no accelerator pool at its hosting sites ({detail}); expected "
            f"weights plus a KV cache that fit in {g} accelerators of some hosting site's "
            "pool (a smaller model, more accelerators_per_replica, or another site)",
        )
    if any(why["size"] for why in unplaced.values()):
        detail = "; ".join(f"{site}: {', '.join(why['size'])}" for site, why in unplaced.items())
        return ConfigIssue(
            f"{path}.accelerators_per_replica",
            f"no pool at its hosting sites has {g} accelerators ({detail}); expected at most "
            "the size of some hosting site's pool",
        )
    return ConfigIssue(
        f"{path}.accelerator_types",
        f"no hosting site ({sites}) has a pool of an allowed accelerator type "
        f"({', '.join(service.accelerator_types or [])}); expected a type present at one of them",
    )


# ---------------------------------------------------------------- replicas at one site


def _bank(service: Service, model: IterationModel | None) -> ReplicaBank:
    """An empty bank for the llm replicas of ``service`` on a pool with ``model``."""
    assert model is not None
    max_queue = service.max_queue
    return ReplicaBank(
        BatchingParams(
            service.scheduler,
            model.c0,
            model.c_pf,
            model.c_b,
            model.c_kv,
            service.max_batch,
            model.kv_capacity_tokens,
            service.token_budget,
            -1 if max_queue is None else max_queue,
        )
    )


class ServiceSite:
    """The replicas of one service at one site, their carried kernel state, and its process.

    ``llm`` replicas are slots of a :class:`~twin.kernels.batching_bank.ReplicaBank`, stepped
    together each window (on numba's threads). Scaling down *drains* them:
    :meth:`scale_to` moves surplus replicas to :attr:`draining`, where they get no new
    arrivals but keep being advanced every window until they are empty; an empty draining
    replica gives its accelerators back at once (checked at each window end and at every
    scaling decision). Only the active replicas (:attr:`count`) take arrivals and count as
    routing capacity. ``single`` replicas are servers of one FCFS queue; one is removed only
    when enough servers are idle.
    """

    def __init__(
        self,
        owner: ServiceModel,
        factory: Factory,
        column: int,
        replicas: int,
        pool: Pool,
        iteration: IterationModel | None,
    ) -> None:
        self.owner = owner
        self.service = owner.service
        self.factory = factory
        self.column = column
        """Index of the site in the scenario (columns of the RTT matrix)."""
        self.index = 0
        """Index among the service's hosting sites."""
        self.wanted = replicas
        self.pool = pool
        """The pool replicas take accelerators from (see :func:`choose_pool`)."""
        self.iteration = iteration
        self.bank = _bank(self.service, iteration) if self.service.kind == "llm" else None
        """The carried state of the site's llm replicas."""
        self.replicas: list[int] = []
        """Active llm replicas (bank slots): they take the arrivals, round robin."""
        self.draining: list[int] = []
        """llm replicas scaled away that still finish their requests (no new arrivals)."""
        self.count = 0
        """Active replicas."""
        self.free_at = np.zeros(0)
        self.queue_state = make_queue_state(self.service.max_queue)
        self.pending = Pending(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
        """``single``: requests served and still in service (completing in a later window)."""
        self.rtt_s = np.ascontiguousarray(owner.rtt[:, column])
        """Round trip from each region to this site [s]."""
        self.next_id = 0
        self.next_replica = 0
        self.delay_s = 0.0
        self.recent_rps = 0.0
        self._stats_seen = np.zeros(N_STATS)
        """Σ of the stats of every llm replica at the last window end (released ones too)."""
        self._stats_released = np.zeros(N_STATS)
        """Σ of the stats of the llm replicas released so far."""
        self.fluid = owner.fluid.site(self) if owner.fluid is not None else None
        """The carried state of the ``fluid`` fidelity (None: ``request``)."""
        self.lost = np.zeros(len(owner.regions), dtype=np.int64)
        """Requests in flight here when the site went down, per region: dropped, and
        reported with the next window."""

    # ------------------------------------------------------------ replicas and accelerators

    def scale_to(self, target: int) -> None:
        """Hold accelerators for ``target`` active replicas, as far as the site can give them
        now; surplus llm replicas drain (see the class docstring)."""
        size = self.service.accelerators_per_replica
        while self.count < target and self.draining:
            self.replicas.append(self.draining.pop())  # already holds its accelerators
            self.count += 1
        while self.count < target and self.factory.reserve(self.pool, size):
            self._add_replica()
        if self.service.kind == "single":
            while self.count > target and self._remove_idle_servers():
                self.factory.release(self.pool, size)
            return
        if self.count > target:
            # drain the replicas with the least work left (the latest on ties)
            bank = self.bank
            assert bank is not None
            load = [bank.n_running(r) + bank.n_waiting(r) for r in self.replicas]
            order = sorted(range(self.count), key=lambda k: (load[k], -k))
            leaving = set(order[: self.count - target])
            self.draining += [r for k, r in enumerate(self.replicas) if k in leaving]
            self.replicas = [r for k, r in enumerate(self.replicas) if k not in leaving]
            self.count = target
        self.release_drained()

    def release_drained(self) -> None:
        """Give back the accelerators of every draining replica that is empty."""
        if not self.draining:
            return
        bank = self.bank
        assert bank is not None
        keep = []
        for replica in self.draining:
            if bank.n_running(replica) or bank.n_waiting(replica):
                keep.append(replica)
            else:
                self._stats_released += bank.stats[replica]
                bank.remove(replica)
                self.factory.release(self.pool, self.service.accelerators_per_replica)
        self.draining = keep

    def lose_all(self) -> None:
        """The site went down: every request here is dropped (counted in :attr:`lost`) and
        the replicas are gone, their accelerators given back. They come back when the site
        does (it scales to :attr:`wanted` again, and the autoscaler resizes)."""
        regions = len(self.lost)
        size = self.service.accelerators_per_replica
        held = self.count
        if self.fluid is not None:
            self.lost += self.fluid.lose_all(regions)
        elif self.service.kind == "single":
            self.lost += np.bincount(self.pending.region, minlength=regions)
            self.pending = Pending(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
            self.free_at = np.zeros(0)
            self.queue_state = make_queue_state(self.service.max_queue)
        if self.bank is not None:
            mask = (1 << REGION_BITS) - 1
            for replica in self.replicas + self.draining:
                if self.fluid is None:
                    ids = self.bank.request_ids(replica)
                    self.lost += np.bincount(ids & mask, minlength=regions)
                self._stats_released += self.bank.stats[replica]
                self.bank.remove(replica)
            held += len(self.draining)
            self.replicas, self.draining = [], []
        self.count = 0
        for _ in range(held):
            self.factory.release(self.pool, size)

    def _add_replica(self) -> None:
        self.count += 1
        if self.service.kind == "single":
            servers = np.full(self.service.servers_per_replica, self.factory.env.now)
            self.free_at = np.concatenate([self.free_at, servers])
            return
        assert self.bank is not None
        self.replicas.append(self.bank.add())

    def _remove_idle_servers(self) -> bool:
        """Remove one ``single`` replica's servers if that many are idle now."""
        now = self.factory.env.now
        per = self.service.servers_per_replica
        idle = np.flatnonzero(self.free_at <= now)
        if len(idle) < per or self.count == 0:
            return False
        if self.count == 1 and len(self.pending.done_s):
            return False  # its completions are reported by the next window
        self.free_at = np.delete(self.free_at, idle[:per])
        self.count -= 1
        return True

    def in_system(self) -> int:
        """Requests accepted here and not yet completed (llm: waiting or running)."""
        if self.fluid is not None:
            return self.fluid.in_system
        if self.service.kind == "single":
            return len(self.pending.done_s)
        bank = self.bank
        assert bank is not None
        return bank.in_system(self.replicas + self.draining)

    def capacity_rps(self) -> float:
        """Requests/s the active replicas complete when saturated (for routing)."""
        owner = self.owner
        if self.count == 0:
            return 0.0
        if self.service.kind == "single":
            return self.count * self.service.servers_per_replica / owner.mean_service_s
        return self.count * owner.replica_rps(self)

    # ------------------------------------------------------------ one window

    def window(
        self,
        start: float,
        end: float,
        region_rps: np.ndarray,
        traced: TracedRequests | None = None,
    ) -> WindowResult | FluidWindow:
        """Draw the window's arrivals from the per-region rates and serve them (under
        ``fluid``: the count only, through :mod:`twin.model.fluid`); a traced service's
        ``traced`` requests come with their times, regions and lengths instead."""
        if traced is None:
            rng = self.owner.rng
            total = float(region_rps.sum())
            count = int(rng.poisson(total * (end - start))) if total > 0 else 0
            if self.fluid is not None:
                return self.fluid.window(self, start, end, region_rps, count)
            arrivals = np.sort(rng.uniform(start, end, count))
            cumulative = np.cumsum(region_rps) / total if total > 0 else np.ones(1)
            regions = categorical(cumulative, rng.random(count))
        else:
            arrivals, regions, count = traced.arrival_s, traced.region, len(traced)
        self.recent_rps = count / (end - start)
        if self.service.kind == "llm":
            result = self._serve_llm(arrivals, regions, end, traced)
        elif self.count == 0:
            result = WindowResult(arrivals=count, dropped=count, dropped_regions=regions)
        else:
            result = self._serve_single(arrivals, regions, end, traced)
        result.arrival_regions = regions
        return result

    def _serve_single(
        self,
        arrivals: np.ndarray,
        regions: np.ndarray,
        end: float,
        traced: TracedRequests | None,
    ) -> WindowResult:
        owner = self.owner
        service_s = owner.service_sampler(len(arrivals)) if traced is None else traced.service_s
        max_wait = self.service.timeout_s if self.service.timeout_s is not None else math.inf
        wait, served = fcfs_multiserver_limited(
            arrivals,
            service_s,
            self.free_at,
            max_queue=self.service.max_queue,
            max_wait=max_wait,
            queue_state=self.queue_state,
        )
        slo = self.service.slo.latency_s
        completed = complete(
            self.pending,
            arrivals,
            wait,
            service_s,
            served,
            regions,
            self.rtt_s,
            end,
            slo if slo is not None else math.inf,
        )
        self.pending = completed.pending
        waits = completed.waits_s
        # no arrivals: the wait one arriving now would see (the backlog still queued)
        self.delay_s = (
            float(waits.mean()) if waits.size else max(0.0, float(self.free_at.min()) - end)
        )
        busy = float(completed.service_s.sum()) / (len(self.free_at) * owner.window_s)
        return WindowResult(
            arrivals=len(arrivals),
            dropped=len(completed.dropped_regions),
            dropped_regions=completed.dropped_regions,
            served_regions=completed.regions,
            latency=completed.latency_s,
            missed=completed.missed,
            in_system=len(self.pending.done_s),
            busy=min(1.0, busy),
        )

    def _serve_llm(
        self,
        arrivals: np.ndarray,
        regions: np.ndarray,
        end: float,
        traced: TracedRequests | None,
    ) -> WindowResult:
        """Round robin over the active replicas; every replica (draining too) advances to
        ``end``. Drops: requests that can never fit a replica's KV cache (or that find no
        active replica), and those the kernel drops by the waiting-queue limit. Lengths:
        the trace's pairs, or drawn (also for requests with nowhere to go)."""
        owner = self.owner
        n = len(arrivals)
        active = self.replicas
        n_active = len(active)
        dropped_parts = []
        if traced is not None:
            prompt, output = traced.prompt, traced.output
        elif n:
            prompt = np.maximum(1, np.rint(owner.prompt_sampler(n))).astype(np.int64)
            output = np.maximum(1, np.rint(owner.output_sampler(n))).astype(np.int64)
        else:
            prompt, output = _NO_IDS, _NO_IDS
        tokens = (int(prompt.sum()), int(output.sum()))
        if n and n_active:
            # request i goes to active replica (next_replica + i) % n_active, each replica's
            # requests one slice
            first = self.next_replica % n_active
            self.next_replica = (first + n) % n_active
            assert self.iteration is not None
            dealt = deal(
                arrivals,
                prompt,
                output,
                regions,
                self.next_id,
                first,
                n_active,
                self.iteration.kv_capacity_tokens,
            )
            if len(dealt.too_big):
                dropped_parts.append(dealt.too_big)
            arrivals, prompt, output, ids, counts = dealt[:5]
        else:
            if n:
                dropped_parts.append(regions)  # no active replica: nowhere to go
            counts = np.zeros(n_active, dtype=np.int64)
            arrivals, prompt, output, ids = _NO_TIMES, _NO_IDS, _NO_IDS, _NO_IDS
        self.next_id += n
        # draining replicas get no new arrivals: they only finish their requests
        replicas = active + self.draining if self.draining else active
        counts = np.concatenate([counts, np.zeros(len(self.draining), dtype=np.int64)])
        bank = self.bank
        assert bank is not None
        mask = (1 << REGION_BITS) - 1
        if replicas:
            step = bank.step(replicas, counts, arrivals, prompt, output, ids, end).result
            ids_done, ttft_raw, tpot, e2e = step.ids, step.ttft, step.tpot, step.e2e
            if len(step.dropped_ids):
                dropped_parts.append(step.dropped_ids & mask)
        else:
            ids_done, ttft_raw, tpot, e2e = _NO_IDS, _NO_TIMES, _NO_TIMES, _NO_TIMES
        dropped_regions = np.concatenate(dropped_parts) if dropped_parts else _NO_IDS
        slo = self.service.slo
        done = llm_served(
            ids_done,
            ttft_raw,
            tpot,
            e2e,
            self.rtt_s,
            REGION_BITS,
            math.inf if slo.ttft_s is None else slo.ttft_s,
            math.inf if slo.tpot_s is None else slo.tpot_s,
        )
        if len(ttft_raw):
            self.delay_s = float(ttft_raw.mean())
        # per-window iteration statistics and requests in the system: one read per replica
        held = len(replicas)
        if held:
            stats = np.add.reduce(bank.stats[replicas]) + self._stats_released
            in_system = bank.in_system(replicas)
        else:
            stats, in_system = self._stats_released.copy(), 0
        delta = stats - self._stats_seen
        self._stats_seen = stats
        iterations = delta[STAT_ITERATIONS]
        result = WindowResult(
            arrivals=n,
            dropped=len(dropped_regions),
            dropped_regions=dropped_regions,
            served_regions=done.regions,
            latency=done.latency_s,
            ttft=done.ttft_s,
            tpot=tpot,
            missed=done.missed,
            in_system=in_system,
            mean_batch=delta[STAT_BATCH_SUM] / iterations if iterations else math.nan,
            busy=min(1.0, delta[STAT_BUSY_S] / (held * owner.window_s)) if held else 0.0,
            prompt_tokens=tokens[0],
            output_tokens=tokens[1],
        )
        self.release_drained()
        return result


# ---------------------------------------------------------------- one service


class ServiceModel:
    """A service's demand, routing, sites and records."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        service: Service,
        factories: list[Factory],
        demand: Demand,
        rtt: np.ndarray,
        router: Router,
        recorder: Recorder,
        index: int = 0,
    ) -> None:
        spec = scenario.workloads.inference
        assert spec is not None
        self.env = env
        self.service = service
        self.index = index
        """Index of the service in ``workloads.inference.services``."""
        self.demand = demand
        self.rtt = rtt
        self.router = router
        self.recorder = recorder
        self.window_s = spec.window
        self.regions = [region.id for region in spec.regions]
        seed = scenario.seed
        self.rng = stream(seed, f"inference.{service.id}.arrivals")
        self.replay = (
            traced_requests(scenario, service, index) if service.trace is not None else None
        )
        """The trace a traced service replays (None: synthetic requests)."""
        self._traced = _NO_REQUESTS
        """The window's traced requests (see :meth:`routed_rps`)."""
        self._init_samplers(seed)
        self.fluid = (
            FluidService(service, seed, len(self.regions)) if spec.fidelity == "fluid" else None
        )
        hosting = dict(service.replicas)
        if not hosting and service.autoscale is not None:
            hosting = {factory.id: service.autoscale.min_replicas for factory in factories}
        # sites where no pool can hold a replica are left out; none at all is a config error
        self.sites = []
        unplaced: dict[str, dict] = {}
        for column, factory in enumerate(factories):
            if factory.id not in hosting:
                continue
            pool, model, why = _choose_pool(service, factory)
            if pool is None:
                unplaced[factory.id] = why
                continue
            self.sites.append(ServiceSite(self, factory, column, hosting[factory.id], pool, model))
        if not self.sites and unplaced:
            path = f"workloads.inference.services[{index}]"
            raise ConfigError([_placement_issue(path, service, unplaced)])
        self.unplaced = sorted(unplaced)
        """Hosting sites left out: no pool there can hold a replica."""
        for number, site in enumerate(self.sites):
            site.index = number
        self._routed_at: float | None = None
        self._routed = np.zeros((len(self.regions), len(self.sites)))
        self.home_rps = np.zeros(len(self.sites))
        self.traced_rps = np.zeros(len(self.regions))
        """A traced service's requests/s per region in its last window."""
        self.interval_s = scenario.telemetry.interval
        self._region_totals = np.zeros((4, len(self.regions)))
        self._next_flush = self.interval_s
        self.totals = {"arrivals": 0, "served": 0, "dropped": 0}

    def _init_samplers(self, seed: int) -> None:
        service = self.service
        name = service.id
        if self.replay is not None:  # the trace's own lengths; their means for capacity
            self.mean_service_s = self.replay.mean_service_s
            self.mean_prompt, self.mean_output = self.replay.mean_prompt, self.replay.mean_output
        elif service.kind == "single":
            assert service.service_s is not None
            self.service_sampler = make_sampler(
                service.service_s, stream(seed, f"inference.{name}.service")
            )
            self.mean_service_s = float(
                make_sampler(service.service_s, stream(seed, "means"))(20000).mean()
            )
        else:
            assert service.prompt_tokens is not None and service.output_tokens is not None
            self.prompt_sampler = make_sampler(
                service.prompt_tokens, stream(seed, f"inference.{name}.prompt")
            )
            self.output_sampler = make_sampler(
                service.output_tokens, stream(seed, f"inference.{name}.output")
            )
            self.mean_prompt = float(
                make_sampler(service.prompt_tokens, stream(seed, "means"))(20000).mean()
            )
            self.mean_output = float(
                make_sampler(service.output_tokens, stream(seed, "means"))(20000).mean()
            )

    def run(self) -> Iterator[simpy.Event]:
        """Every window: route the demand, then serve and record each hosting site in turn."""
        env = self.env
        while True:
            start = env.now
            yield env.timeout(self.window_s)
            rates = self.routed_rps(start, self.window_s)
            traced = self._traced_by_site(rates) if self.replay is not None else None
            for site in self.sites:
                part = traced[site.index] if traced is not None else None
                result = site.window(start, env.now, rates[:, site.index], part)
                self.record(site, result, env.now)

    def routed_rps(self, start: float, window_s: float) -> np.ndarray:
        """Rates per region × hosting site for the window starting at ``start`` (cached).

        Demand that no site can take (none open, or no replicas anywhere) is dropped here.
        A traced service's demand is the window's requests of its trace (per region, / s).
        """
        if self._routed_at != start:
            self._routed_at = start
            demand = self._demand_rps(start, window_s)
            self.home_rps = self._home_rps(demand)
            live = [  # up for the whole window (not back from an outage in its course)
                i
                for i, site in enumerate(self.sites)
                if site.factory.online and site.count > 0 and site.factory.up_since_s <= start
            ]
            self._routed = np.zeros((len(self.regions), len(self.sites)))
            if live:
                views = [
                    SiteView(
                        self.sites[i].column, self.sites[i].capacity_rps(), self.sites[i].delay_s
                    )
                    for i in live
                ]
                self._routed[:, live] = self.router(demand, self.rtt, views, self.service)
            else:
                lost = (
                    self.rng.poisson(demand * window_s)
                    if self.replay is None
                    else np.bincount(self._traced.region, minlength=len(self.regions))
                )
                self._traced = _NO_REQUESTS
                self._region_totals[0] += lost  # arrived and dropped
                self._region_totals[2] += lost
                self.totals["arrivals"] += int(lost.sum())
                self.totals["dropped"] += int(lost.sum())
        return self._routed

    def _demand_rps(self, start: float, window_s: float) -> np.ndarray:
        """Requests/s per region in the window starting at ``start``: the diurnal demand at
        its middle, or a traced service's requests of the window (taken here)."""
        if self.replay is None:
            assert self.service.peak_rps is not None
            return self.demand.rps(self.service.peak_rps, start + window_s / 2)
        self._traced = self.replay.take(start + window_s)
        counts = np.bincount(self._traced.region, minlength=len(self.regions))
        self.traced_rps = counts / window_s
        return self.traced_rps

    def _traced_by_site(self, rates: np.ndarray) -> list[TracedRequests]:
        """The window's traced requests per hosting site: each region's requests split as
        the router split its rate (a request's site drawn in proportion where it split)."""
        traced = self._traced
        n_sites = len(self.sites)
        if not len(traced):
            return [traced] * n_sites
        totals = rates.sum(axis=1, keepdims=True)
        shares = np.cumsum(rates / np.where(totals > 0, totals, 1.0), axis=1)
        split = (shares[:, :-1] < 1.0) & (shares[:, :-1] > 0.0)  # regions over several sites
        if split.any():
            draws = self.rng.random(len(traced))
            site = (draws[:, None] >= shares[traced.region]).sum(axis=1)
        else:
            site = np.argmax(rates > 0, axis=1)[traced.region]
        site = np.minimum(site, n_sites - 1)
        return [traced.subset(site == j) for j in range(n_sites)]

    def _home_rps(self, demand: np.ndarray) -> np.ndarray:
        """Demand per hosting site if every region went to its nearest open one."""
        open_sites = [i for i, site in enumerate(self.sites) if site.factory.online]
        if not open_sites:
            return np.zeros(len(self.sites))
        columns = [self.sites[i].column for i in open_sites]
        nearest_open = np.asarray(open_sites)[np.argmin(self.rtt[:, columns], axis=1)]
        # summed in region order from zero, as np.add.at would (and far faster)
        return np.bincount(nearest_open, weights=demand, minlength=len(self.sites))

    def record(self, site: ServiceSite, result: WindowResult | FluidWindow, now: float) -> None:
        """One row of inference.arrow, and the per-region tallies for inference_regions."""
        if isinstance(result, FluidWindow):
            self._record_fluid(site, result, now)
            return
        if site.lost.any():
            lost = site.lost
            result.dropped += int(lost.sum())
            result.dropped_regions = np.concatenate(
                [result.dropped_regions, np.repeat(np.arange(len(lost)), lost)]
            )
            site.lost = np.zeros_like(lost)
        served = len(result.latency)
        self.totals["arrivals"] += result.arrivals
        self.totals["served"] += served
        self.totals["dropped"] += result.dropped
        if result.arrivals or site.count or served or result.dropped:
            self.recorder.inference_sample(
                (
                    now,
                    self.service.id,
                    site.factory.id,
                    site.count,
                    result.arrivals,
                    served,
                    result.dropped,
                    result.in_system,
                    *percentiles_ms((result.ttft, result.tpot, result.latency), _QUANTILES),
                    int(result.missed.sum()) + result.dropped,
                    None if math.isnan(result.mean_batch) else result.mean_batch,
                    result.busy,
                    result.prompt_tokens,
                    result.output_tokens,
                )
            )
        tally_regions(
            self._region_totals,
            result.arrival_regions,
            result.served_regions,
            result.missed,
            result.dropped_regions,
        )
        if now >= self._next_flush - 1e-9:
            self.flush_regions(now)

    def _record_fluid(self, site: ServiceSite, result: FluidWindow, now: float) -> None:
        """:meth:`record` for the aggregates of the ``fluid`` fidelity."""
        if site.lost.any():
            result.dropped += int(site.lost.sum())
            result.regions[2] += site.lost
            site.lost = np.zeros_like(site.lost)
        self.totals["arrivals"] += result.arrivals
        self.totals["served"] += result.served
        self.totals["dropped"] += result.dropped
        if result.arrivals or site.count or result.served or result.dropped:
            self.recorder.inference_sample(
                (
                    now,
                    self.service.id,
                    site.factory.id,
                    site.count,
                    result.arrivals,
                    result.served,
                    result.dropped,
                    result.in_system,
                    *result.ttft_ms,
                    *result.tpot_ms,
                    *result.latency_ms,
                    result.missed + result.dropped,
                    None if math.isnan(result.mean_batch) else result.mean_batch,
                    result.busy,
                    None,
                    None,
                )
            )
        self._region_totals += result.regions
        if now >= self._next_flush - 1e-9:
            self.flush_regions(now)

    def flush_regions(self, now: float) -> None:
        """Write the per-region tallies of the interval that just ended."""
        tallies = self._region_totals
        for r, region in enumerate(self.regions):
            arrived, served, dropped, missed = tallies[:, r]
            if arrived or served or dropped:
                self.recorder.region_sample(
                    (
                        now,
                        self.service.id,
                        region,
                        int(arrived),
                        int(served),
                        int(dropped),
                        int(missed + dropped),
                        float(self.rtt[r, self._nearest_column(r)]) * 1000,
                    )
                )
        self._region_totals = np.zeros_like(tallies)
        while self._next_flush <= now + 1e-9:
            self._next_flush += self.interval_s

    def _nearest_column(self, region: int) -> int:
        columns = [site.column for site in self.sites]
        return columns[int(np.argmin(self.rtt[region, columns]))]

    def autoscale(self) -> Iterator[simpy.Event]:
        """Every interval, size each site's replicas to its recent arrival rate."""
        rule = self.service.autoscale
        assert rule is not None
        while True:
            if self.replay is None:
                assert self.service.peak_rps is not None
                demand = self.demand.rps(self.service.peak_rps, self.env.now)
            else:  # a trace's demand is known as it comes: its last window's
                demand = self.traced_rps
            self.home_rps = self._home_rps(demand)
            for index, site in enumerate(self.sites):
                if not site.factory.online:
                    continue
                per_replica = self.replica_rps(site)
                if per_replica <= 0:
                    continue
                wanted_rps = max(site.recent_rps, float(self.home_rps[index]))
                need = math.ceil(wanted_rps / (per_replica * rule.target_utilisation))
                site.scale_to(max(rule.min_replicas, min(rule.max_replicas, need)))
            yield self.env.timeout(rule.interval)

    def replica_rps(self, site: ServiceSite) -> float:
        """Requests/s one replica at ``site`` completes when saturated."""
        service = self.service
        if service.kind == "single":
            return service.servers_per_replica / self.mean_service_s
        assert site.iteration is not None
        return site.iteration.throughput_rps(
            service.max_batch,
            self.mean_prompt,
            self.mean_output,
            service.token_budget,
            scheduler=service.scheduler,
        )


# ---------------------------------------------------------------- the whole inference layer


class InferenceModel:
    """Every service of the scenario, wired to its factories."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        factories: list[Factory],
        calendar: Calendar,
        topology: Topology | None,
        recorder: Recorder,
    ) -> None:
        spec = scenario.workloads.inference
        assert spec is not None
        self.env = env
        demand = Demand(spec, calendar)
        rtt = round_trips_s(scenario, topology)
        router = ROUTINGS[spec.routing]
        self.services = [
            ServiceModel(env, scenario, service, factories, demand, rtt, router, recorder, index)
            for index, service in enumerate(spec.services)
        ]
        for model in self.services:
            for site in model.sites:
                site.factory.open_listeners.append(lambda _f, site=site: site.scale_to(site.wanted))
                site.factory.down_listeners.append(lambda _f, site=site: site.lose_all())
                if site.factory.online:
                    site.scale_to(site.wanted)
            env.process(model.run())
            if model.service.autoscale is not None:
                env.process(model.autoscale())

    def finish(self) -> None:
        for model in self.services:
            model.flush_regions(self.env.now)
