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
from collections.abc import Iterator

import numpy as np
import simpy

from twin.config.errors import ConfigError
from twin.config.schema import Scenario, Service
from twin.kernels.window_stats import tally_regions
from twin.model.calendar import Calendar
from twin.model.demand import Demand, round_trips_s
from twin.model.disaggregation import NO_POOL_COLUMNS, DisaggregatedSite, Disaggregation
from twin.model.distributions import make_sampler
from twin.model.factory import Factory
from twin.model.fluid import FluidService, FluidWindow
from twin.model.inference_routing import ROUTINGS, Router, SiteView
from twin.model.lengths import length_sampler
from twin.model.recorder import Recorder
from twin.model.region_sketches import RegionSketches
from twin.model.replica_placement import placement_issue, pool_and_reason
from twin.model.request_trace import TracedRequests, traced_requests
from twin.model.rng import stream
from twin.model.service_site import (
    NO_MEANS,
    NO_REQUESTS,
    NO_SKETCHES,
    ServiceSite,
    WindowResult,
    latency_columns,
)
from twin.model.topology import Topology

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
        topology: Topology | None = None,
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
        self._traced = NO_REQUESTS
        """The window's traced requests (see :meth:`routed_rps`)."""
        self._init_samplers(seed)
        self.fluid = (
            FluidService(service, seed, len(self.regions)) if spec.fidelity == "fluid" else None
        )
        self.disaggregation = (
            Disaggregation(self, scenario, factories, topology)
            if service.disaggregation is not None
            else None
        )
        """The prefill and decode pools of a disaggregated service (None: co-located)."""
        self.unplaced: list[str] = []
        """Hosting sites left out: no pool there can hold a replica."""
        self.sites = self.disaggregation.sites if self.disaggregation else self._sites(factories)
        self._routed_at: float | None = None
        self._routed = np.zeros((len(self.regions), len(self.sites)))
        self.home_rps = np.zeros(len(self.sites))
        self.traced_rps = np.zeros(len(self.regions))
        """A traced service's requests/s per region in its last window."""
        self.interval_s = scenario.telemetry.interval
        self._region_totals = np.zeros((4, len(self.regions)))
        self._region_sketches = RegionSketches(len(self.regions))
        self._next_flush = self.interval_s
        self.totals = {"arrivals": 0, "served": 0, "dropped": 0}
        """Requests of the whole run; ``in_system`` (still in flight at the end) once closed."""
        self._open_since = 0.0
        """Start of the window not yet served."""
        self._flushed_at = -1.0
        """When the per-region tallies were last written."""

    def _sites(self, factories: list[Factory]) -> list[ServiceSite]:
        """The hosting sites of a co-located service; sites where no pool can hold a replica
        are left out (:attr:`unplaced`), none at all is a config error."""
        service = self.service
        hosting = dict(service.replicas)
        if not hosting and service.autoscale is not None:
            hosting = {factory.id: service.autoscale.min_replicas for factory in factories}
        sites = []
        unplaced: dict[str, dict] = {}
        for column, factory in enumerate(factories):
            if factory.id not in hosting:
                continue
            pool, model, why = pool_and_reason(service, factory)
            if pool is None:
                unplaced[factory.id] = why
                continue
            sites.append(ServiceSite(self, factory, column, hosting[factory.id], pool, model))
        if not sites and unplaced:
            path = f"workloads.inference.services[{self.index}]"
            raise ConfigError([placement_issue(path, service, unplaced)])
        self.unplaced = sorted(unplaced)
        for number, site in enumerate(sites):
            site.index = number
        return sites

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
            self.lengths = length_sampler(service, seed)
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
            yield env.timeout(self.window_s)
            self._serve(self._open_since, env.now)

    def close(self, now: float) -> None:
        """Close the books at ``now`` (the horizon, or where a run stopped): the window then
        open is served and recorded, cut at ``now`` (a window ending at the horizon is
        recorded too), and the requests still in flight are counted as in the system."""
        if now > self._open_since + 1e-9:
            self._serve(self._open_since, now)
        self.totals["in_system"] = sum(site.in_system() for site in self.sites)

    def _serve(self, start: float, end: float) -> None:
        """Serve and record the window [start, end) at every hosting site."""
        rates = self.routed_rps(start, end - start)
        traced = self._traced_by_site(rates) if self.replay is not None else None
        if self.disaggregation is not None:
            rows = self.disaggregation.window(start, end, rates, traced)
            for site, row in zip(self.sites, rows, strict=True):
                self.record(site, row, end)
        for site in self.sites if self.disaggregation is None else ():
            part = traced[site.index] if traced is not None else None
            result = site.window(start, end, rates[:, site.index], part)
            self.record(site, result, end)
        self._open_since = end
        if end >= self._next_flush - 1e-9:  # after every site: a window is in one interval
            self.flush_regions(end)

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
                self._traced = NO_REQUESTS
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
        replicas, pools = site.count, NO_POOL_COLUMNS
        if isinstance(site, DisaggregatedSite):  # the decode pool's replicas and books
            replicas, pools = site.decode_replicas, site.pool_columns
        if result.arrivals or replicas or served or result.dropped or pools[0]:
            self.recorder.inference_sample(
                (
                    now,
                    self.service.id,
                    site.factory.id,
                    replicas,
                    result.arrivals,
                    served,
                    result.dropped,
                    result.in_system,
                    *latency_columns(result),
                    int(result.missed.sum()) + result.dropped,
                    None if math.isnan(result.mean_batch) else result.mean_batch,
                    result.preemptions,
                    result.busy,
                    result.prompt_tokens,
                    result.output_tokens,
                    *pools,
                )
            )
        tally_regions(
            self._region_totals,
            result.arrival_regions,
            result.served_regions,
            result.missed,
            result.dropped_regions,
        )
        self._region_sketches.add(result)

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
                    *NO_MEANS,
                    *NO_SKETCHES,
                    result.missed + result.dropped,
                    None if math.isnan(result.mean_batch) else result.mean_batch,
                    None,
                    result.busy,
                    None,
                    None,
                    *NO_POOL_COLUMNS,
                )
            )
        self._region_totals += result.regions

    def flush_regions(self, now: float) -> None:
        """Write the per-region tallies of the interval that just ended (once per instant),
        with each region's requests still in the system then."""
        if now == self._flushed_at:
            return
        self._flushed_at = now
        tallies = self._region_totals
        in_system = np.zeros(len(self.regions), dtype=np.int64)
        for site in self.sites:
            in_system += site.in_system_by_region(len(self.regions))
        for r, region in enumerate(self.regions):
            arrived, served, dropped, missed = tallies[:, r]
            if arrived or served or dropped or in_system[r]:
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
                        *self._region_sketches.columns(r),
                        int(in_system[r]),
                    )
                )
        self._region_totals = np.zeros_like(tallies)
        self._region_sketches.clear()
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
            ServiceModel(
                env, scenario, service, factories, demand, rtt, router, recorder, index, topology
            )
            for index, service in enumerate(spec.services)
        ]
        for model in self.services:
            for site in model.sites:
                site.factory.open_listeners.append(lambda _f, site=site: site.reopen())
                site.factory.down_listeners.append(lambda _f, site=site: site.lose_all())
                if site.factory.online:
                    site.reopen()
            env.process(model.run())
            if model.service.autoscale is not None:
                env.process(model.autoscale())

    def finish(self) -> None:
        """Close every service's books at the current time (see :meth:`ServiceModel.close`)."""
        for model in self.services:
            model.close(self.env.now)
            model.flush_regions(self.env.now)
