"""Real-time inference: regional demand, routing, and replicas served by numba kernels.

Requests are far too many for one SimPy event each, so the model is hybrid (DESIGN §3): one
SimPy process per service × site wakes every window, draws the window's arrivals as arrays
from the routed regional demand, and passes them through a queueing kernel whose state is
carried across windows (:mod:`twin.kernels.queueing`): multi-server FCFS for ``single``
services, an iteration-level continuous-batching replica for ``llm`` services. Only
per-window aggregates are recorded. Replicas hold accelerators of their factory, so
inference and training compete for the same sites and power.

Latencies include the network round trip from the request's region to the site.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import simpy

from twin.config.schema import Inference, Scenario, Service
from twin.kernels.queueing import (
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_ITERATIONS,
    BatchingReplica,
    fcfs_multiserver_limited,
    make_queue_state,
)
from twin.model.calendar import HOUR_S, Calendar
from twin.model.distributions import make_sampler
from twin.model.factory import Factory, Pool
from twin.model.geo import great_circle_km
from twin.model.iteration import IterationModel, ReplicaDoesNotFitError, iteration_model
from twin.model.recorder import Recorder
from twin.model.rng import stream
from twin.model.topology import Topology

REGION_BITS = 8
"""Request ids carry their region in the low bits, so completions know where they came from."""


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
        for s, site in enumerate(scenario.sites):
            direct = great_circle_km(region.lat, region.lon, site.lat, site.lon) * fibre_s_per_km
            best = direct
            if topology is not None:
                entry, lat, lon = min(
                    nodes, key=lambda n: great_circle_km(region.lat, region.lon, n[1], n[2])
                )
                route = topology.route(entry, site.id) if entry != site.id else None
                access = great_circle_km(region.lat, region.lon, lat, lon) * fibre_s_per_km
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
    times = rtt[:, columns]
    left = demand.astype(float).copy()
    room = np.array([view.capacity_rps * SLO_AWARE_HEADROOM for view in views])
    flows = np.zeros((len(demand), len(views)))
    order = np.argsort(times, axis=None, kind="stable")
    for flat in order:
        r, v = divmod(int(flat), len(views))
        if left[r] <= 0 or room[v] <= 0 or times[r, v] >= budget:
            continue
        take = min(left[r], room[v])
        flows[r, v] += take
        left[r] -= take
        room[v] -= take
    nearest_view = np.argmin(times, axis=1)
    flows[np.arange(len(demand)), nearest_view] += left
    return flows


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


def _percentiles_ms(values: np.ndarray, quantiles: tuple[float, ...]) -> list[float | None]:
    """Percentiles (linear interpolation, as numpy's default) of the finite values, in ms."""
    finite = np.sort(values[np.isfinite(values)])
    if finite.size == 0:
        return [None] * len(quantiles)
    position = np.asarray(quantiles) / 100 * (finite.size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, finite.size - 1)
    value = finite[low] + (finite[high] - finite[low]) * (position - low)
    return (value * 1000).tolist()


# ---------------------------------------------------------------- replicas at one site


class ServiceSite:
    """The replicas of one service at one site, their carried kernel state, and its process."""

    def __init__(
        self,
        owner: ServiceModel,
        factory: Factory,
        column: int,
        replicas: int,
    ) -> None:
        self.owner = owner
        self.service = owner.service
        self.factory = factory
        self.column = column
        """Index of the site in the scenario (columns of the RTT matrix)."""
        self.index = 0
        """Index among the service's hosting sites."""
        self.wanted = replicas
        self.pool: Pool | None = None
        self.iteration: IterationModel | None = None
        self.replicas: list[BatchingReplica] = []
        self.count = 0
        self.free_at = np.zeros(0)
        self.queue_state = make_queue_state(self.service.max_queue)
        self.pending_done = np.zeros(0)
        self.pending_latency = np.zeros(0)
        self.pending_region = np.zeros(0, dtype=np.int64)
        self.next_id = 0
        self.next_replica = 0
        self.delay_s = 0.0
        self.recent_rps = 0.0

    # ------------------------------------------------------------ replicas and accelerators

    def choose_pool(self) -> Pool | None:
        """The fastest pool whose accelerators can hold a replica (memory, allowed types)."""
        allowed = self.service.accelerator_types
        for pool in sorted(
            self.factory.pools.values(), key=lambda p: (-p.spec.speed, p.accelerator)
        ):
            if allowed is not None and pool.accelerator not in allowed:
                continue
            if self.service.kind == "llm":
                try:
                    model = iteration_model(self.service, pool.spec)
                except ReplicaDoesNotFitError:
                    continue
                self.iteration = model
            return pool
        return None

    def scale_to(self, target: int) -> None:
        """Hold accelerators for ``target`` replicas, as far as the site can give them now."""
        if self.pool is None:
            self.pool = self.choose_pool()
            if self.pool is None:
                return
        size = self.service.accelerators_per_replica
        while self.count < target and self.factory.reserve(self.pool, size):
            self._add_replica()
        while self.count > target and self._remove_idle_replica():
            self.factory.release(self.pool, size)

    def _add_replica(self) -> None:
        self.count += 1
        if self.service.kind == "single":
            servers = np.full(self.service.servers_per_replica, self.factory.env.now)
            self.free_at = np.concatenate([self.free_at, servers])
            return
        model = self.iteration
        assert model is not None
        self.replicas.append(
            BatchingReplica(
                self.service.scheduler,
                model.c0,
                model.c_pf,
                model.c_b,
                model.c_kv,
                self.service.max_batch,
                model.kv_capacity_tokens,
                self.service.token_budget,
            )
        )

    def _remove_idle_replica(self) -> bool:
        now = self.factory.env.now
        if self.service.kind == "single":
            per = self.service.servers_per_replica
            idle = np.flatnonzero(self.free_at <= now)
            if len(idle) < per or self.count == 0:
                return False
            if self.count == 1 and len(self.pending_done):
                return False  # its completions are reported by the next window
            self.free_at = np.delete(self.free_at, idle[:per])
        else:
            idle = [
                k
                for k, replica in enumerate(self.replicas)
                if replica.state.n_running == 0 and replica.state.n_waiting == 0
            ]
            if not idle:
                return False
            del self.replicas[idle[-1]]
        self.count -= 1
        return True

    def capacity_rps(self) -> float:
        """Requests/s the current replicas complete when saturated (for routing)."""
        owner = self.owner
        if self.count == 0:
            return 0.0
        if self.service.kind == "single":
            return self.count * self.service.servers_per_replica / owner.mean_service_s
        assert self.iteration is not None
        per_replica = self.iteration.throughput_rps(
            self.service.max_batch, owner.mean_prompt, owner.mean_output, self.service.token_budget
        )
        return self.count * per_replica

    # ------------------------------------------------------------ the window process

    def run(self, window_s: float) -> Iterator[simpy.Event]:
        env = self.factory.env
        while True:
            yield env.timeout(window_s)
            start = env.now - window_s
            rates = self.owner.routed_rps(start, window_s)[:, self.index]
            result = self.window(start, env.now, rates)
            self.owner.record(self, result, env.now)

    def window(self, start: float, end: float, region_rps: np.ndarray) -> WindowResult:
        """Draw the window's arrivals from the per-region rates and serve them."""
        rng = self.owner.rng
        total = float(region_rps.sum())
        count = int(rng.poisson(total * (end - start))) if total > 0 else 0
        arrivals = np.sort(rng.uniform(start, end, count))
        cumulative = np.cumsum(region_rps) / total if total > 0 else np.ones(1)
        regions = np.minimum(
            np.searchsorted(cumulative, rng.random(count), side="right"), len(region_rps) - 1
        ).astype(np.int64)
        self.recent_rps = count / (end - start)
        if self.count == 0:
            result = WindowResult(arrivals=count, dropped=count, dropped_regions=regions)
        elif self.service.kind == "single":
            result = self._serve_single(arrivals, regions, end)
        else:
            result = self._serve_llm(arrivals, regions, end)
        result.arrival_regions = regions
        return result

    def _serve_single(self, arrivals: np.ndarray, regions: np.ndarray, end: float) -> WindowResult:
        owner = self.owner
        service_s = owner.service_sampler(len(arrivals))
        max_wait = self.service.timeout_s if self.service.timeout_s is not None else math.inf
        wait, served = fcfs_multiserver_limited(
            arrivals,
            service_s,
            self.free_at,
            max_queue=self.service.max_queue,
            max_wait=max_wait,
            queue_state=self.queue_state,
        )
        rtt = owner.rtt[regions, self.column]
        done = arrivals + wait + service_s
        self.pending_done = np.concatenate([self.pending_done, done[served]])
        self.pending_latency = np.concatenate(
            [self.pending_latency, (wait + service_s + rtt)[served]]
        )
        self.pending_region = np.concatenate([self.pending_region, regions[served]])
        finished = self.pending_done <= end
        latency = self.pending_latency[finished]
        finished_regions = self.pending_region[finished]
        keep = ~finished
        self.pending_done = self.pending_done[keep]
        self.pending_latency = self.pending_latency[keep]
        self.pending_region = self.pending_region[keep]
        slo = self.service.slo.latency_s
        waits = wait[served]
        # no arrivals: the wait one arriving now would see (the backlog still queued)
        self.delay_s = (
            float(waits.mean()) if waits.size else max(0.0, float(self.free_at.min()) - end)
        )
        busy = float(service_s[served].sum()) / (len(self.free_at) * owner.window_s)
        return WindowResult(
            arrivals=len(arrivals),
            dropped=int((~served).sum()),
            dropped_regions=regions[~served],
            served_regions=finished_regions,
            latency=latency,
            missed=latency > slo if slo is not None else np.zeros(len(latency), dtype=bool),
            in_system=len(self.pending_done),
            busy=min(1.0, busy),
        )

    def _serve_llm(self, arrivals: np.ndarray, regions: np.ndarray, end: float) -> WindowResult:
        owner = self.owner
        prompt = np.maximum(1, np.rint(owner.prompt_sampler(len(arrivals)))).astype(np.int64)
        output = np.maximum(1, np.rint(owner.output_sampler(len(arrivals)))).astype(np.int64)
        capacity = self.iteration.kv_capacity_tokens if self.iteration else 0
        fits = prompt + output <= capacity
        ids = ((self.next_id + np.arange(len(arrivals))) << REGION_BITS) | regions
        self.next_id += len(arrivals)
        replicas = len(self.replicas)
        target = (self.next_replica + np.arange(len(arrivals))) % replicas
        self.next_replica = (self.next_replica + len(arrivals)) % replicas
        order = np.argsort(target, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(target, minlength=replicas))])
        admitted = fits.copy()
        parts = []
        before = np.zeros(3)
        after = np.zeros(3)
        stat_index = [STAT_ITERATIONS, STAT_BATCH_SUM, STAT_BUSY_S]
        for k, replica in enumerate(self.replicas):
            mine = order[bounds[k] : bounds[k + 1]]
            mine = mine[fits[mine]]
            if self.service.max_queue is not None:
                room = max(0, self.service.max_queue - replica.state.n_waiting)
                admitted[mine[room:]] = False
                mine = mine[:room]
            before += replica.stats[stat_index]
            parts.append(replica.step(arrivals[mine], prompt[mine], output[mine], end, ids[mine]))
            after += replica.stats[stat_index]
        dropped = ~admitted
        ids_done = np.concatenate([p.ids for p in parts]) if parts else np.zeros(0, np.int64)
        done_regions = ids_done & ((1 << REGION_BITS) - 1)
        rtt = owner.rtt[done_regions, self.column]
        ttft = np.concatenate([p.ttft for p in parts]) + rtt if parts else np.zeros(0)
        tpot = np.concatenate([p.tpot for p in parts]) if parts else np.zeros(0)
        e2e = np.concatenate([p.e2e for p in parts]) + rtt if parts else np.zeros(0)
        slo = self.service.slo
        missed = np.zeros(len(ids_done), dtype=bool)
        if slo.ttft_s is not None:
            missed |= ttft > slo.ttft_s
        if slo.tpot_s is not None:
            missed |= np.nan_to_num(tpot) > slo.tpot_s
        iterations = after[0] - before[0]
        self.delay_s = float(np.mean(ttft - rtt)) if len(ttft) else self.delay_s
        in_system = sum(r.state.n_waiting + r.state.n_running for r in self.replicas)
        return WindowResult(
            arrivals=len(arrivals),
            dropped=int(dropped.sum()),
            dropped_regions=regions[dropped],
            served_regions=done_regions,
            latency=e2e,
            ttft=ttft,
            tpot=tpot,
            missed=missed,
            in_system=in_system,
            mean_batch=(after[1] - before[1]) / iterations if iterations else math.nan,
            busy=min(1.0, (after[2] - before[2]) / (replicas * owner.window_s)),
        )


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
    ) -> None:
        spec = scenario.workloads.inference
        assert spec is not None
        self.env = env
        self.service = service
        self.demand = demand
        self.rtt = rtt
        self.router = router
        self.recorder = recorder
        self.window_s = spec.window
        self.regions = [region.id for region in spec.regions]
        seed = scenario.seed
        self.rng = stream(seed, f"inference.{service.id}.arrivals")
        self._init_samplers(seed)
        hosting = dict(service.replicas)
        if not hosting and service.autoscale is not None:
            hosting = {factory.id: service.autoscale.min_replicas for factory in factories}
        self.sites = [
            ServiceSite(self, factory, column, hosting[factory.id])
            for column, factory in enumerate(factories)
            if factory.id in hosting
        ]
        for index, site in enumerate(self.sites):
            site.index = index
        self._routed_at: float | None = None
        self._routed = np.zeros((len(self.regions), len(self.sites)))
        self.home_rps = np.zeros(len(self.sites))
        self.interval_s = scenario.telemetry.interval
        self._region_totals = np.zeros((4, len(self.regions)))
        self._next_flush = self.interval_s
        self.totals = {"arrivals": 0, "served": 0, "dropped": 0}

    def _init_samplers(self, seed: int) -> None:
        service = self.service
        name = service.id
        if service.kind == "single":
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

    def routed_rps(self, start: float, window_s: float) -> np.ndarray:
        """Rates per region × hosting site for the window starting at ``start`` (cached).

        Demand that no site can take (none open, or no replicas anywhere) is dropped here.
        """
        if self._routed_at != start:
            self._routed_at = start
            demand = self.demand.rps(self.service.peak_rps, start + window_s / 2)
            self.home_rps = self._home_rps(demand)
            live = [
                i for i, site in enumerate(self.sites) if site.factory.online and site.count > 0
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
                lost = self.rng.poisson(demand * window_s)
                self._tally(lost, np.zeros(len(lost)), lost, np.zeros(len(lost)))
                self.totals["arrivals"] += int(lost.sum())
                self.totals["dropped"] += int(lost.sum())
        return self._routed

    def _home_rps(self, demand: np.ndarray) -> np.ndarray:
        """Demand per hosting site if every region went to its nearest open one."""
        home = np.zeros(len(self.sites))
        open_sites = [i for i, site in enumerate(self.sites) if site.factory.online]
        if open_sites:
            columns = [self.sites[i].column for i in open_sites]
            nearest_open = np.argmin(self.rtt[:, columns], axis=1)
            np.add.at(home, np.asarray(open_sites)[nearest_open], demand)
        return home

    def _tally(
        self, arrived: np.ndarray, served: np.ndarray, dropped: np.ndarray, missed: np.ndarray
    ) -> None:
        self._region_totals += np.vstack([arrived, served, dropped, missed])

    def record(self, site: ServiceSite, result: WindowResult, now: float) -> None:
        """One row of inference.arrow, and the per-region tallies for inference_regions."""
        served = len(result.latency)
        self.totals["arrivals"] += result.arrivals
        self.totals["served"] += served
        self.totals["dropped"] += result.dropped
        if result.arrivals or site.count:
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
                    *_percentiles_ms(result.ttft, (50, 99)),
                    *_percentiles_ms(result.tpot, (50, 99)),
                    *_percentiles_ms(result.latency, (50, 95, 99)),
                    int(result.missed.sum()) + result.dropped,
                    None if math.isnan(result.mean_batch) else result.mean_batch,
                    result.busy,
                )
            )
        n = len(self.regions)
        self._tally(
            np.bincount(result.arrival_regions, minlength=n),
            np.bincount(result.served_regions, minlength=n),
            np.bincount(result.dropped_regions, minlength=n),
            np.bincount(result.served_regions[result.missed], minlength=n),
        )
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
            self.home_rps = self._home_rps(self.demand.rps(self.service.peak_rps, self.env.now))
            for index, site in enumerate(self.sites):
                if not site.factory.online:
                    continue
                per_replica = (
                    site.capacity_rps() / site.count if site.count else self._replica_rps(site)
                )
                if per_replica <= 0:
                    continue
                wanted_rps = max(site.recent_rps, float(self.home_rps[index]))
                need = math.ceil(wanted_rps / (per_replica * rule.target_utilisation))
                site.scale_to(max(rule.min_replicas, min(rule.max_replicas, need)))
            yield self.env.timeout(rule.interval)

    def _replica_rps(self, site: ServiceSite) -> float:
        if site.pool is None:
            site.pool = site.choose_pool()
        if site.pool is None:
            return 0.0
        if self.service.kind == "single":
            return self.service.servers_per_replica / self.mean_service_s
        assert site.iteration is not None
        return site.iteration.throughput_rps(
            self.service.max_batch, self.mean_prompt, self.mean_output, self.service.token_budget
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
            ServiceModel(env, scenario, service, factories, demand, rtt, router, recorder)
            for service in spec.services
        ]
        for model in self.services:
            for site in model.sites:
                site.factory.open_listeners.append(lambda _f, site=site: site.scale_to(site.wanted))
                if site.factory.online:
                    site.scale_to(site.wanted)
                env.process(site.run(spec.window))
            if model.service.autoscale is not None:
                env.process(model.autoscale())

    def finish(self) -> None:
        for model in self.services:
            model.flush_regions(self.env.now)
