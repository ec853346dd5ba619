"""Faults: accelerator failures that interrupt running jobs, site outages and link cuts.

Accelerator failures are memoryless at a rate ``λ`` per accelerator-hour of the type, so a
job of ``N`` accelerators is interrupted after an exponential time of rate ``N · λ``, drawn
when each of its runs starts (failures are counted on accelerators running jobs: the
published rates are measured under load). The interrupted job keeps the work of its last
checkpoint and is requeued (:meth:`Factory.interrupt`); the failed accelerator is out of
service for a repair time unless a hot spare takes its place.

Site outages and link cuts come from :mod:`twin.model.fault_schedule`, drawn before the run.
An outage stops the site's running jobs as a failure does and makes it draw no power; the
jobs queued there move to the broker or wait (``faults.sites.queued``). A cut link is taken
out of the topology: the network reroutes the flows crossing it or parks them until a route
returns.

Each fault is one row of ``faults.arrow``, written when it begins, with what it hit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import simpy

from twin.config.schema import Scenario
from twin.config.schema_base import Constant
from twin.model.broker import Broker
from twin.model.calendar import Calendar
from twin.model.distributions import make_sampler
from twin.model.factory import Factory, Pool
from twin.model.fault_schedule import Outage, fault_stream, outages
from twin.model.job import Job
from twin.model.network import Network
from twin.model.recorder import Recorder

DEFAULT_REPAIR_S = 86400.0
"""How long a failed accelerator is out of service when the config gives no repair time
(an assumption: swap, burn-in and return)."""
HOUR_S = 3600.0


class FaultModel:
    """Draws accelerator failures for the factories and plays the outage schedule."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        factories: list[Factory],
        broker: Broker,
        network: Network | None,
        recorder: Recorder,
        calendar: Calendar,
    ) -> None:
        self.env = env
        self.factories = {factory.id: factory for factory in factories}
        self.broker = broker
        self.network = network
        self.recorder = recorder
        spec = scenario.faults
        self.spec = spec.accelerators
        self.restart_s = spec.restart_overhead
        self._rates_per_s: dict[str, float] = {}
        if self.spec is not None:
            for name in scenario.accelerators:
                self._rates_per_s[name] = self.spec.rate_of(name) / HOUR_S
            repair = self.spec.repair or Constant(dist="constant", value=DEFAULT_REPAIR_S)
            self._failures = fault_stream(scenario, "accelerators")
            self._repair = make_sampler(repair, fault_stream(scenario, "repair"))
            for factory in factories:
                for pool in factory.pools.values():
                    pool.spares = math.floor(self.spec.spare_share * pool.total)
        for factory in factories:
            factory.faults = self  # restarts pay their overhead whatever interrupted them
        if spec.sites is not None and spec.sites.queued == "move":
            for factory in factories:
                factory.move_when_down = broker.place_again
        self.schedule = outages(scenario, calendar)
        self.next_id = 0
        self.failures = 0
        """Accelerator failures so far."""
        if self.schedule:
            env.process(self._play())

    # ------------------------------------------------------------ accelerator failures

    def failure_rate_per_s(self, accelerator: str) -> float:
        return self._rates_per_s.get(accelerator, 0.0)

    def time_to_failure_s(self, job: Job) -> float:
        """Time until one of the job's accelerators fails, from now (inf: never)."""
        rate = job.accelerators * self._rates_per_s.get(job.accelerator or "", 0.0)
        if rate <= 0.0:
            return math.inf
        return float(self._failures.exponential(1.0 / rate))

    def restart_overhead_s(self) -> float:
        return self.restart_s

    def accelerator_failed(self, job: Job, factory: Factory, pool: Pool, lost_s: float) -> None:
        """One of the (just interrupted) job's accelerators failed: repair it, record it."""
        self.failures += 1
        spare = factory.break_accelerator(pool)
        repair_s = max(0.0, float(self._repair(1)[0]))
        self.env.timeout(repair_s).callbacks.append(lambda _: factory.repair(pool, spare))
        now = self.env.now
        self._row(
            "accelerator",
            factory.id,
            factory.id,
            pool.accelerator,
            "random",
            now,
            now + repair_s,
            jobs_hit=1,
            lost_gpu_h=lost_s * job.accelerators / HOUR_S,
        )

    # ------------------------------------------------------------ outages and cuts

    def _play(self) -> Iterator[simpy.Event]:
        for outage in self.schedule:
            if outage.start_s > self.env.now:
                yield self.env.timeout(outage.start_s - self.env.now)
            self._begin(outage)

    def _begin(self, outage: Outage) -> None:
        now = self.env.now
        if outage.kind == "site_outage":
            sites = self._sites(outage)
            before = {job.id: job.lost_work_s for f in sites for job in f.running.values()}
            went_down = [factory for factory in sites if factory.go_down()]
            hit: list[Job] = []
            for factory in went_down:  # every site of the outage is down before jobs move
                hit += factory.stop_work()
            lost_gpu_h = (
                sum((job.lost_work_s - before[job.id]) * job.accelerators for job in hit) / HOUR_S
            )
            self._row(
                "site_outage",
                outage.label,
                ",".join(outage.targets),
                None,
                outage.cause,
                outage.start_s,
                outage.end_s,
                jobs_hit=len(hit),
                lost_gpu_h=lost_gpu_h,
            )
        else:
            assert self.network is not None
            link = outage.targets[0]
            self.recorder.event(now, "link_down", link=link)
            effect = self.network.cut_link(link)
            self._row(
                "link_cut",
                link,
                None,
                None,
                outage.cause,
                outage.start_s,
                outage.end_s,
                flows_rerouted=effect.rerouted,
                flows_stalled=effect.stalled,
                bytes_rerouted=effect.bytes_rerouted,
                bytes_stalled=effect.bytes_stalled,
            )
        self.env.timeout(outage.end_s - now).callbacks.append(lambda _: self._end(outage))

    def _end(self, outage: Outage) -> None:
        if outage.kind == "site_outage":
            for factory in self._sites(outage):
                factory.come_back()
            self.broker.site_opened()  # jobs held while no site could take them
        else:
            assert self.network is not None
            self.network.restore_link(outage.targets[0])
            self.recorder.event(self.env.now, "link_up", link=outage.targets[0])

    def _sites(self, outage: Outage) -> list[Factory]:
        return [self.factories[site_id] for site_id in outage.targets]

    def _row(
        self,
        kind: str,
        target: str,
        sites: str | None,
        accelerator: str | None,
        cause: str,
        start_s: float,
        end_s: float,
        jobs_hit: int = 0,
        lost_gpu_h: float = 0.0,
        flows_rerouted: int = 0,
        flows_stalled: int = 0,
        bytes_rerouted: float = 0.0,
        bytes_stalled: float = 0.0,
    ) -> None:
        self.recorder.fault(
            (
                self.next_id,
                kind,
                target,
                sites,
                accelerator,
                cause,
                start_s,
                end_s,
                end_s - start_s,
                jobs_hit,
                lost_gpu_h,
                flows_rerouted,
                flows_stalled,
                bytes_rerouted,
                bytes_stalled,
            )
        )
        self.next_id += 1
