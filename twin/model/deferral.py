"""Deferrable training jobs and the start policies that choose when and where they start.

A deferrable job must start within its slack of its submission (its *deadline* is the latest
start). Under ``immediate`` it goes to the broker at once, as any job. Under ``carbon_aware``
or ``price_aware`` the policy looks at every (site, start hour) the job could use, from now
to its deadline, and picks the one whose forecast CO2 (or electricity cost) over the job's run
is least: it holds the job until then and hands it to that site. A site whose data the job
would have to stage is considered from the moment the dataset could be there (the network's
current estimate), and the job is released early enough for the copy.

The policy does not plan capacity: it skips pools that already have more work than
accelerators, and does not send more accelerators to one pool for one hour than the pool has;
the queue may still start a job after its deadline, which the trace counts as a miss (the
policy releases every job before its deadline).

Adding a start policy is one function and one line in :data:`START_POLICIES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import simpy

from twin.config.schema import Scenario
from twin.model.broker import Broker
from twin.model.data import DataMobility
from twin.model.factory import Factory, Pool
from twin.model.job import Job
from twin.model.recorder import Recorder
from twin.model.rng import stream
from twin.model.series import StepSeries

HOUR_S = 3600.0

GridSeries = Callable[[Factory], StepSeries]
"""A site's grid series (carbon intensity or price)."""

START_POLICIES: dict[str, GridSeries | None] = {
    "immediate": None,
    "carbon_aware": lambda factory: factory.grid.carbon,
    "price_aware": lambda factory: factory.grid.price,
}
"""Start policies by the name used in ``policies.start``: the grid series each minimises
over a job's run (None: start as submitted)."""


class Forecast:
    """A site's forecast of a grid series, with its hour boundaries (the candidate starts).

    Without error the forecast is the series itself. With ``error`` the forecast of hour
    ``k`` is the series' value at its start times a log-normal error (median 1, sigma
    ``error``) drawn once per site and hour, held over the hour (and after the last one).
    """

    def __init__(
        self, factory: Factory, series_of: GridSeries, span_s: float, error: float, seed: int
    ) -> None:
        offset = factory.calendar.offset_s % HOUR_S
        first = HOUR_S - offset if offset else 0.0
        hours = math.ceil(max(0.0, span_s - first) / HOUR_S) + 1
        self.edges = np.unique(np.concatenate(([0.0], first + HOUR_S * np.arange(hours))))
        series = series_of(factory)
        self.rates = series.values_at(self.edges)
        if error > 0:
            rng = stream(seed, f"start.forecast.{factory.id}")
            self.rates = self.rates * np.exp(error * rng.standard_normal(self.rates.size))
            series = StepSeries(self.edges, self.rates)
        self.series = series

    def integral(self, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """∫ forecast dt over each [t0, t1]."""
        return self.series.integrals(t0, t1)


class StartPolicy:
    """Holds deferrable jobs until the (time, site) the policy chooses; others pass through."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        broker: Broker,
        recorder: Recorder,
        opening_s: dict[str, float],
        data: DataMobility | None,
    ) -> None:
        self.env = env
        self.broker = broker
        self.recorder = recorder
        self.opening_s = opening_s
        self.data = data
        training = scenario.workloads.training
        self.deferrable = training.deferrable if training is not None else None
        self.series_of = START_POLICIES[scenario.policies.start]
        self._draw = stream(scenario.seed, "training.deferrable")
        self._forecasts: dict[str, Forecast] = {}
        self._error = scenario.policies.forecast_error
        self._seed = scenario.seed
        slack = self.deferrable.slack if self.deferrable is not None else 0.0
        self._span_s = scenario.horizon + slack + 86400.0
        self._occupied: dict[int, np.ndarray] = {}
        """Accelerators of the deferred jobs not yet released, per pool and hour of run."""
        self.waiting: dict[int, Job] = {}
        """Deferred jobs not yet released, by id."""

    def submit(self, job: Job) -> None:
        """A job was submitted: mark it deferrable by the share, then hold or place it."""
        spec = self.deferrable
        if spec is not None and (spec.share >= 1.0 or self._draw.random() < spec.share):
            job.deadline_s = job.submit_s + spec.slack
        if job.deadline_s is None or self.series_of is None:
            self.broker.submit(job)
            return
        choice = self._choose(job)
        if choice is None:
            self.broker.submit(job)
            return
        release_s, factory, pool = choice
        delay = release_s - self.env.now
        self.recorder.event(self.env.now, "submit", job=job.id, value=job.accelerators)
        if delay <= 0:  # now is best, at the site chosen
            self.broker.submit_to(job, factory, pool)
            return
        self.recorder.event(self.env.now, "defer", site=factory.id, job=job.id, value=delay)
        self.waiting[job.id] = job
        hours = self._hours_of(job, pool, release_s)
        self._occupancy(pool)[hours] += job.accelerators
        self.env.process(self._release(job, delay, factory, pool, hours))

    def _release(
        self, job: Job, delay: float, factory: Factory, pool: Pool, hours: slice
    ) -> Iterator[simpy.Event]:
        yield self.env.timeout(delay)
        self._occupancy(pool)[hours] -= job.accelerators
        del self.waiting[job.id]
        job.deferred_s = self.env.now - job.submit_s
        self.broker.submit_to(job, factory, pool)

    def _choose(self, job: Job) -> tuple[float, Factory, Pool] | None:
        """The (release time, factory, pool) with the least forecast grid value × energy over
        the job's run; ties go to the earliest start, then the broker's order. Pools with
        more work than accelerators are passed over while another can take the job."""
        candidates = self.broker.candidates(job)
        free = [(f, p) for f, p in candidates if not (f.online and p.load() >= 1.0)]
        chosen = self._cheapest(job, free) or self._cheapest(job, candidates)
        return chosen

    def _cheapest(
        self, job: Job, candidates: list[tuple[Factory, Pool]]
    ) -> tuple[float, Factory, Pool] | None:
        now = self.env.now
        deadline = job.deadline_s
        assert deadline is not None
        best: tuple[float, float] | None = None
        chosen: tuple[float, Factory, Pool] | None = None
        for factory, pool in candidates:
            opening = self.opening_s[factory.id]
            if not factory.online and opening <= now:
                continue  # down in an outage: no telling when it is back
            data = self.data
            if data is not None and not data.can_reach(job, factory):
                continue
            staging = data.staging_estimate_s(job, factory) if data is not None else 0.0
            earliest = max(now + staging, opening)
            if not earliest <= deadline:  # also when the copy never arrives (inf)
                continue
            forecast = self._forecast(factory)
            hours = forecast.edges[(forecast.edges > earliest) & (forecast.edges <= deadline)]
            starts = self._room(job, pool, np.concatenate(([earliest], hours)))
            if starts.size == 0:
                continue
            run_s = job.work_s / pool.spec.speed
            power_w = job.accelerators * pool.busy_facility_w
            cost = power_w * forecast.integral(starts, starts + run_s)
            k = int(np.argmax(cost <= _within_rounding(float(cost.min()))))  # the earliest
            if best is None or _better(float(cost[k]), float(starts[k]), best):
                best = (float(cost[k]), float(starts[k]))
                chosen = (float(starts[k]) - staging, factory, pool)
        return chosen

    def _room(self, job: Job, pool: Pool, starts: np.ndarray) -> np.ndarray:
        """The starts at which the pool's busy accelerators, with those of the deferred jobs
        already sent its way for that hour, leave room for this job."""
        occupied = self._occupancy(pool)
        hours = np.minimum((starts / HOUR_S).astype(np.int64), occupied.size - 1)
        busy = pool.total - pool.free
        return starts[busy + occupied[hours] + job.accelerators <= pool.total]

    def _occupancy(self, pool: Pool) -> np.ndarray:
        found = self._occupied.get(id(pool))
        if found is None:
            found = np.zeros(math.ceil(self._span_s / HOUR_S) + 1, dtype=np.int64)
            self._occupied[id(pool)] = found
        return found

    def _hours_of(self, job: Job, pool: Pool, start_s: float) -> slice:
        run_s = job.work_s / pool.spec.speed
        return slice(int(start_s // HOUR_S), math.ceil((start_s + run_s) / HOUR_S))

    def _forecast(self, factory: Factory) -> Forecast:
        forecast = self._forecasts.get(factory.id)
        if forecast is None:
            assert self.series_of is not None
            forecast = Forecast(factory, self.series_of, self._span_s, self._error, self._seed)
            self._forecasts[factory.id] = forecast
        return forecast


RELATIVE_TIE = 1e-9
"""Costs this close are equal (integrals of a flat forecast differ in the last digits)."""


def _within_rounding(cost: float) -> float:
    return cost + abs(cost) * RELATIVE_TIE


def _better(cost: float, start_s: float, best: tuple[float, float]) -> bool:
    """Less CO2 (or cost) than the best so far, or as little and an earlier start; the
    broker's order decides among equals (the first candidate stays)."""
    if cost > _within_rounding(best[0]):
        return False
    return cost < best[0] - abs(best[0]) * RELATIVE_TIE or start_s < best[1]
