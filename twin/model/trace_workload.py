"""Training/batch jobs replayed from a log (``workloads.training.trace``).

The trace is read once into a normalised jobs table (:mod:`twin.importers`), mapped onto the
scenario's clock, and each job submitted to the broker at its time, with the trace's size,
run time and requested walltime. The clock mapping: trace time is measured from the trace's
first submission (``align: first``) or its zero (``align: zero``); the jobs in
``[window.start, window.end)`` are kept; a job's submission is then
``offset + (trace time − window.start) / rate_scale``. Jobs falling at or after the horizon
(or ``stop_after``) are not submitted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import simpy

from twin.config.errors import ConfigError
from twin.config.schema import MAX_POOL, Scenario, Training
from twin.model.distributions import make_sampler
from twin.model.job import Job
from twin.model.rng import stream
from twin.model.workload import blocks
from twin.replay.clock import replay_times
from twin.replay.jobs import read_trace, training_trace_issues


@dataclass(frozen=True)
class ReplayJobs:
    """The jobs a replay submits, as columns in submission order (scenario seconds)."""

    submit_s: np.ndarray
    accelerators: np.ndarray
    duration_s: np.ndarray
    walltime_factor: np.ndarray
    trace_job: np.ndarray
    tenant: list[str]
    accelerator_types: list[str | None]
    """The types each job may run on, separated by | (None: any)."""


def replay_jobs(scenario: Scenario) -> ReplayJobs:
    """The jobs of the scenario's training trace mapped onto its clock and tenants; a bad
    trace or mapping raises :class:`ConfigError` naming the config path."""
    spec = scenario.workloads.training
    assert spec is not None and spec.trace is not None
    trace = spec.trace
    issues = training_trace_issues(scenario)
    if issues:
        raise ConfigError(issues)
    table = read_trace(trace)
    if trace.statuses is not None:
        keep = np.isin(table.column("status").to_numpy(zero_copy_only=False), trace.statuses)
        table = table.filter(pa.array(keep))
    stop_s = min(scenario.horizon, spec.stop_after or scenario.horizon)
    index, at = replay_times(table.column("submit_s").to_numpy(), trace, stop_s)
    duration = table.column("duration_s").to_numpy()[index]
    requested = table.column("requested_s").to_numpy()[index]
    factor = np.where(duration > 0, np.maximum(1.0, requested / np.maximum(duration, 1e-300)), 1.0)
    return ReplayJobs(
        submit_s=at,
        accelerators=np.minimum(table.column("accelerators").to_numpy()[index], MAX_POOL),
        duration_s=duration,
        walltime_factor=factor,
        trace_job=table.column("job").to_numpy()[index],
        tenant=_tenants(scenario, spec, table, index),
        accelerator_types=[table.column("accelerator_types")[i].as_py() for i in index.tolist()],
    )


def _tenants(scenario: Scenario, spec: Training, table: pa.Table, index: np.ndarray) -> list[str]:
    """Each replayed job's tenant class: the trace's own (csv), the mapping of its user, the
    default class, or (``shares``) a class drawn once per user (per job where the trace
    names no user) in proportion to the classes' shares, from its own random stream."""
    trace = spec.trace
    assert trace is not None
    named = table.column("tenant").to_pylist()
    users = table.column("user").to_pylist()
    mix = spec.tenant_mix or {name: t.share for name, t in scenario.tenants.items()}
    classes = list(mix)
    weights = np.asarray(list(mix.values()), dtype=float)
    cumulative = np.cumsum(weights / weights.sum())
    rng = stream(scenario.seed, "training.trace.tenants")
    drawn: dict[str, str] = {}

    def draw() -> str:
        k = int(np.searchsorted(cumulative, rng.random(), "right"))
        return classes[min(k, len(classes) - 1)]

    result = []
    for i in index.tolist():
        user = users[i]
        if named[i] is not None:
            result.append(named[i])
        elif user is not None and user in trace.tenants:
            result.append(trace.tenants[user])
        elif trace.tenant_default != "shares":
            result.append(trace.tenant_default)
        elif user is None:
            result.append(draw())
        else:
            if user not in drawn:
                drawn[user] = draw()
            result.append(drawn[user])
    return result


class TraceTrainingWorkload:
    """Submits the jobs of a training trace to ``submit`` at their (mapped) times."""

    def __init__(
        self, env: simpy.Environment, scenario: Scenario, submit: Callable[[Job], None]
    ) -> None:
        spec = scenario.workloads.training
        assert spec is not None and spec.trace is not None
        self.env = env
        self.spec: Training = spec
        self.jobs = replay_jobs(scenario)
        self.sites = spec.trace.sites
        self.submit = submit
        self.allowed = tuple(spec.accelerator_types) if spec.accelerator_types else None
        checkpoint = spec.checkpoint_gb
        self._checkpoint = (
            blocks(make_sampler(checkpoint, stream(scenario.seed, "training.trace.checkpoint")))
            if checkpoint
            else None
        )
        self.submitted = 0

    def run(self) -> Iterator[simpy.Event]:
        """The SimPy process: wait for each job's time, then submit it (same-time jobs in
        the trace's order)."""
        jobs = self.jobs
        times = jobs.submit_s.tolist()
        for i, at in enumerate(times):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            self.submitted += 1
            self.submit(self._make_job(i))

    def _allowed(self, given: str | None) -> tuple[str, ...] | None:
        """The types a job may use: the trace's, within the training config's if both say."""
        if given is None:
            return self.allowed
        types = tuple(given.split("|"))
        return types if self.allowed is None else tuple(t for t in types if t in self.allowed)

    def _make_job(self, i: int) -> Job:
        """Job ``i`` of the replay: the trace's size, run time and walltime; no dataset (a
        trace says nothing of one); checkpoints as the training config asks."""
        jobs, spec = self.jobs, self.spec
        checkpoint_gb = max(0.0, float(next(self._checkpoint))) if self._checkpoint else 0.0
        interval, write = spec.checkpoint_interval, spec.checkpoint_write_gbps
        young_daly = interval == "young_daly"
        return Job(
            id=-1,  # numbered by the world in order of submission
            tenant=jobs.tenant[i],
            accelerators=max(1, int(jobs.accelerators[i])),
            work_s=float(jobs.duration_s[i]),
            walltime_factor=float(jobs.walltime_factor[i]),
            submit_s=self.env.now,
            allowed_types=self._allowed(jobs.accelerator_types[i]),
            checkpoint_gb=checkpoint_gb,
            checkpoint_interval_s=None if young_daly else interval,  # type: ignore[arg-type]
            checkpoint_young_daly=young_daly,
            checkpoint_cost_s=checkpoint_gb / write if write else 0.0,
            trace_job=int(jobs.trace_job[i]),
            site_pin=self.sites,
        )
