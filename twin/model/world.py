"""The World: a SimPy environment with every actor of a scenario wired together."""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import simpy

from twin.config.errors import ConfigError, ConfigIssue, shorten
from twin.config.grid_checks import grid_series_issues
from twin.config.schema import Scenario
from twin.model.access import AccessPlan, SiteAccess
from twin.model.broker import PLACEMENTS, Broker
from twin.model.calendar import Calendar
from twin.model.data import DataMobility
from twin.model.deferral import START_POLICIES, StartPolicy
from twin.model.factory import Factory
from twin.model.faults import FaultModel
from twin.model.grid import site_grid
from twin.model.inference import ROUTINGS, InferenceModel
from twin.model.job import Job
from twin.model.network import Network
from twin.model.network_schedule import start_capacity_schedules
from twin.model.power_cap import start_power_caps
from twin.model.recorder import Recorder
from twin.model.schedulers import SCHEDULERS
from twin.model.telemetry import LinkTelemetry, SiteTelemetry
from twin.model.topology import Topology
from twin.model.trace_workload import TraceTrainingWorkload
from twin.model.transfer_trace import TransferTraceReplay
from twin.model.transfers import BulkTransferWorkload
from twin.model.workload import TrainingWorkload


def check_policies(data: dict[str, Any]) -> list[ConfigIssue]:
    """Policy names of raw config data that no registry knows, as config issues."""
    issues = []
    policies = data.get("policies") if isinstance(data.get("policies"), dict) else {}
    registries = (("scheduler", SCHEDULERS), ("placement", PLACEMENTS), ("start", START_POLICIES))
    for field, registry in registries:
        name = policies.get(field)
        if isinstance(name, str) and name not in registry:
            issues.append(
                ConfigIssue(
                    f"policies.{field}",
                    f"unknown {field} {shorten(name)}; expected one of {', '.join(registry)}",
                )
            )
    workloads = data.get("workloads")
    inference = workloads.get("inference") if isinstance(workloads, dict) else None
    routing = inference.get("routing") if isinstance(inference, dict) else None
    if isinstance(routing, str) and routing not in ROUTINGS:
        issues.append(
            ConfigIssue(
                "workloads.inference.routing",
                f"unknown routing {shorten(routing)}; expected one of {', '.join(ROUTINGS)}",
            )
        )
    return issues


YOUNG_COLLECTION_EVERY = 20_000
"""Allocations between two young collections of the garbage collector during a run
(CPython's default is 700)."""


class _RunCollector:
    """The cyclic garbage collector set for runs while any is going, restored after.

    A run allocates millions of short-lived objects (events, closures, rows), a few in
    cycles (a transfer and the event it succeeds); at CPython's default of a young
    collection every 700 allocations, and a full one whenever enough survive, a europe
    run spent a tenth of its time collecting, mostly re-scanning the hundreds of
    thousands of objects alive before it (modules, the scenario, the model). So while runs
    go, the objects alive at the first one's start are frozen out of the collections
    (unless the process froze some itself) and young collections come every
    :data:`YOUNG_COLLECTION_EVERY` allocations. Garbage is still collected, cycles
    included, so memory stays flat. The collector is the process's: runs in several
    threads share one setting, and the last to end restores the process's own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._threshold: tuple[int, int, int] = gc.get_threshold()
        self._froze = False

    @contextmanager
    def tuned(self) -> Iterator[None]:
        with self._lock:
            if self._runs == 0:
                self._threshold = gc.get_threshold()
                self._froze = gc.get_freeze_count() == 0
                if self._froze:
                    gc.freeze()
                young, *older = self._threshold
                gc.set_threshold(max(young, YOUNG_COLLECTION_EVERY), *older)
            self._runs += 1
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                if self._runs == 0:
                    gc.set_threshold(*self._threshold)
                    if self._froze:
                        gc.unfreeze()


_COLLECTOR = _RunCollector()


class World:
    """Factories, broker, workloads and telemetry of one scenario in one SimPy environment."""

    def __init__(
        self, scenario: Scenario, recorder: Recorder | None = None, keep_jobs: bool = True
    ) -> None:
        """Wire the scenario's actors; ``keep_jobs=False`` forgets ended jobs (flat memory)."""
        issues = check_policies(scenario.model_dump())
        if issues:
            raise ConfigError(issues)
        self.scenario = scenario
        self.env = simpy.Environment()
        self.recorder = recorder or Recorder()
        self.calendar = Calendar(scenario.start)
        scheduler_class = SCHEDULERS[scenario.policies.scheduler]
        grid_issues = grid_series_issues(scenario, max_steps=None)  # files read once: cached
        if grid_issues:
            raise ConfigError(grid_issues)
        self.factories = [
            Factory(
                self.env,
                site,
                scenario.accelerators,
                self.calendar,
                scheduler_class(scenario.tenants),
                self.recorder,
                site_grid(site, self.calendar, scenario.horizon),
            )
            for site in scenario.sites
        ]
        start_power_caps(self.env, self.factories)
        self.access: AccessPlan | None = None
        if scenario.access is not None:
            self.access = AccessPlan(self.env, scenario.access)
            tiers = {tenant: self.access.tier(tenant) for tenant in scenario.tenants}
            for factory in self.factories:
                factory.access = SiteAccess(self.access, factory)
                factory.scheduler.tiers = tiers
        opening_s = {site.id: self._opening_s(site.online_from) for site in scenario.sites}
        self.opening_s = opening_s
        self.network: Network | None = None
        self.data: DataMobility | None = None
        self.link_telemetry: LinkTelemetry | None = None
        if scenario.links:
            self.network = Network(
                self.env, Topology(scenario), self.recorder, scenario.network.flow_cap_gbps
            )
            start_capacity_schedules(self.env, self.network, scenario.links)
            self.data = DataMobility(
                self.env, self.network, self.factories, scenario.network.stage_datasets
            )
            for factory in self.factories:
                factory.start_listeners.append(self.data)
            self.link_telemetry = LinkTelemetry(
                self.env, self.network, scenario.telemetry.interval, self.recorder
            )
            self.env.process(self.link_telemetry.run())
        self.broker = Broker(
            self.env,
            self.factories,
            PLACEMENTS[scenario.policies.placement],
            self.recorder,
            opening_s,
            self.data,
        )
        self.start_policy = StartPolicy(
            self.env, scenario, self.broker, self.recorder, opening_s, self.data
        )
        self.faults: FaultModel | None = None
        if scenario.faults.any:
            self.faults = FaultModel(
                self.env,
                scenario,
                self.factories,
                self.broker,
                self.network,
                self.recorder,
                self.calendar,
            )
        self.keep_jobs = keep_jobs
        self.jobs: list[Job] = []
        """Every submitted job, if ``keep_jobs`` (for tests and experiments)."""
        self.submitted = 0
        for factory in self.factories:
            self.env.process(self._open_at(factory, opening_s[factory.id]))
        self.telemetry = SiteTelemetry(
            self.env, self.factories, scenario.telemetry.interval, self.recorder
        )
        self.env.process(self.telemetry.run())
        training = scenario.workloads.training
        self.training = None
        self.training_trace = None
        if training is not None and training.enabled:
            if training.trace is not None:
                self.training_trace = TraceTrainingWorkload(self.env, scenario, self._submit)
                self.env.process(self.training_trace.run())
            if training.synthetic:
                self.training = TrainingWorkload(self.env, scenario, self.calendar, self._submit)
                self.env.process(self.training.run())
        inference = scenario.workloads.inference
        self.inference: InferenceModel | None = None
        if inference is not None and inference.enabled:
            self.inference = InferenceModel(
                self.env,
                scenario,
                self.factories,
                self.calendar,
                self.network.topology if self.network else None,
                self.recorder,
            )
        transfers = scenario.workloads.transfers
        self.bulk = None
        self.transfer_trace: TransferTraceReplay | None = None
        if transfers is not None and transfers.enabled and self.network is not None:
            if transfers.synthetic:
                self.bulk = BulkTransferWorkload(self.env, scenario, self.network)
                self.env.process(self.bulk.run())
            if transfers.trace is not None:
                self.transfer_trace = TransferTraceReplay(self.env, scenario, self.network)
                self.env.process(self.transfer_trace.run())

    def _opening_s(self, online_from: object) -> float:
        if online_from is None:
            return 0.0
        opening = max(0.0, self.calendar.seconds_at(online_from))  # type: ignore[arg-type]
        return opening if opening < self.scenario.horizon else math.inf

    def _open_at(self, factory: Factory, opening_s: float) -> Iterator[simpy.Event]:
        if opening_s == math.inf:
            return
        if opening_s > 0:
            yield self.env.timeout(opening_s)
        factory.open()
        self.broker.site_opened()

    def _submit(self, job: Job) -> None:
        job.id = self.submitted  # one numbering for synthetic and replayed jobs
        self.submitted += 1
        if self.access is not None:
            job.programme = self.access.programme_of.get(job.tenant)
            job.tier = self.access.tier(job.tenant)
            job.price_eur_per_accelerator_hour = self.access.price(job.programme)
        if self.keep_jobs:
            self.jobs.append(job)
        self.start_policy.submit(job)

    def run(
        self,
        until_s: float | None = None,
        steps: int = 200,
        progress: Callable[[float], None] | None = None,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Run to ``until_s`` (default: the horizon) in ``steps`` slices, reporting progress.

        ``check`` is called between events and may raise to stop the run there: the model is
        then in a consistent state (no event half processed), so :meth:`finish` may follow.
        """
        end = self.scenario.horizon if until_s is None else until_s
        with _COLLECTOR.tuned():
            for k in range(1, steps + 1):
                target = end * k / steps
                if target > self.env.now:
                    self._advance(target, check)
                if progress is not None:
                    progress(self.env.now)

    def _advance(self, target: float, check: Callable[[], None] | None) -> None:
        """Process the events before ``target``, then set the clock to it."""
        if check is not None:
            peek, step = self.env.peek, self.env.step
            check()
            while peek() < target:
                step()
                check()
        self.env.run(until=target)

    def online_s(self) -> dict[str, float]:
        """How long each site has been online so far (open, and not down in an outage)."""
        now = self.env.now
        return {
            factory.id: max(0.0, now - max(0.0, self.opening_s[factory.id]))
            - factory.downtime_s(now)
            if factory.opened
            else 0.0
            for factory in self.factories
        }

    def finish(self) -> None:
        """Close the books: a last telemetry sample; jobs still in the system are recorded."""
        self.telemetry.sample()
        if self.inference is not None:
            self.inference.finish()
        in_system = list(self.broker.held) + list(self.start_policy.waiting.values())
        for factory in self.factories:
            factory.close_books()
            in_system += factory.staging.values()
            in_system += factory.queue
            in_system += factory.running.values()
            in_system += factory.access.held_jobs() if factory.access is not None else []
        for job in sorted(in_system, key=lambda job: job.id):
            self.recorder.job_ended(job)
        if self.network is not None and self.link_telemetry is not None:
            self.link_telemetry.sample()
            for transfer in self.network.in_flight():
                self.recorder.transfer_ended(transfer)
