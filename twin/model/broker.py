"""The broker: places each submitted job on a factory by the placement policy.

A job goes to an open factory that can ever hold it (enough accelerators of an allowed type
and enough power under the cap). If none is open but one will open later in the run, the job
is held until then; if no factory ever could, it is rejected with the reason.
Adding a placement policy is one function and one line in :data:`PLACEMENTS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy

from twin.model.data import DataMobility
from twin.model.factory import Factory, Pool
from twin.model.geo import great_circle_km
from twin.model.job import Job, JobState
from twin.model.recorder import Recorder

Shape = tuple[int, tuple[str, ...] | None, tuple[str, ...] | None]
"""What the sites a job may go to depend on: accelerators, allowed types, pinned site."""
PlacementKey = Callable[[Job, Factory, Pool, "Broker"], tuple]
"""Scores a candidate (factory, pool) for a job; the smallest score wins."""

PlacementChoice = Callable[[Job, list[tuple[Factory, Pool]], "Broker"], tuple[Factory, Pool]]
"""Picks the candidate a placement key scores lowest, faster than ``min`` with the key."""


# ---------------------------------------------------------------- placement policies


def least_loaded(job: Job, factory: Factory, pool: Pool, broker: Broker) -> tuple:
    """The pool with the least work per accelerator, busy or waited for; faster on ties."""
    return (pool.load(), -pool.spec.speed, factory.id, pool.accelerator)


def nearest_data(job: Job, factory: Factory, pool: Pool, broker: Broker) -> tuple:
    """The factory whose copy of the job's dataset would arrive first (by the network's
    current fair share, or by distance without a network); the least loaded among equals."""
    if broker.data is not None:
        return (
            broker.data.staging_estimate_s(job, factory),
            pool.load(),
            factory.id,
            pool.accelerator,
        )
    return (broker.distance_km(job.origin, factory.id), pool.load(), factory.id, pool.accelerator)


def _energy_per_work(factory: Factory, pool: Pool) -> float:
    """Facility energy per unit of reference work on this pool (W per speed)."""
    return pool.busy_facility_w / pool.spec.speed


def lowest_carbon(job: Job, factory: Factory, pool: Pool, broker: Broker) -> tuple:
    """Least CO2 for the job's work, among factories that can start it now if any can."""
    grams = factory.carbon_now() * _energy_per_work(factory, pool)
    return (not factory.fits_now_on(job, pool), grams, pool.load(), factory.id, pool.accelerator)


def lowest_cost(job: Job, factory: Factory, pool: Pool, broker: Broker) -> tuple:
    """Cheapest electricity for the job's work, among factories that can start it now if any can."""
    euros = factory.price_now() * _energy_per_work(factory, pool)
    return (not factory.fits_now_on(job, pool), euros, pool.load(), factory.id, pool.accelerator)


def _least_loaded_choice(
    job: Job, candidates: list[tuple[Factory, Pool]], broker: Broker
) -> tuple[Factory, Pool]:
    """The candidate :func:`least_loaded` scores lowest, found without building its tuples:
    ``candidates`` come in the order of the key's tie-breakers (see :meth:`Broker.open_for`),
    so the first of the least loaded wins, as it would under ``min`` with the key."""
    loads = [(p.total - p.free + p.waiting) / p.total for _, p in candidates]
    return candidates[loads.index(min(loads))]


def _by_energy_choice(now_value: Callable[[Factory], float]) -> PlacementChoice:
    """The chooser of a key ``(cannot start now, now_value × energy per work, load, id,
    accelerator)`` (:func:`lowest_carbon`, :func:`lowest_cost`): the first two parts for
    every candidate, the rest only among those tied on them."""

    def choose(
        job: Job, candidates: list[tuple[Factory, Pool]], broker: Broker
    ) -> tuple[Factory, Pool]:
        heads = [
            (not f.fits_now_on(job, p), now_value(f) * _energy_per_work(f, p))
            for f, p in candidates
        ]
        low = min(heads)
        tied = [fp for fp, head in zip(candidates, heads, strict=True) if head == low]
        if len(tied) == 1:
            return tied[0]
        return min(tied, key=lambda fp: (fp[1].load(), fp[0].id, fp[1].accelerator))

    return choose


_FAST_CHOICES: dict[
    PlacementKey, tuple[PlacementChoice, Callable[[Factory, Pool], tuple] | None]
] = {
    least_loaded: (
        _least_loaded_choice,
        lambda factory, pool: (-pool.spec.speed, factory.id, pool.accelerator),
    ),
    lowest_carbon: (_by_energy_choice(Factory.carbon_now), None),
    lowest_cost: (_by_energy_choice(Factory.price_now), None),
}
"""Placements with a fast chooser, and the order (their key's tie-breakers, after the load)
it needs the candidates in."""


PLACEMENTS: dict[str, PlacementKey] = {
    "least_loaded": least_loaded,
    "nearest_data": nearest_data,
    "lowest_carbon": lowest_carbon,
    "lowest_cost": lowest_cost,
}
"""Placement policies by the name used in ``policies.placement``."""


# ---------------------------------------------------------------- the broker


class Broker:
    """Receives every job and hands it to a factory, holds it, or rejects it."""

    def __init__(
        self,
        env: simpy.Environment,
        factories: list[Factory],
        placement: PlacementKey,
        recorder: Recorder,
        opening_s: dict[str, float],
        data: DataMobility | None = None,
    ) -> None:
        self.env = env
        self.factories = factories
        self.by_id = {factory.id: factory for factory in factories}
        self.placement = placement
        self.recorder = recorder
        self.opening_s = opening_s
        self.data = data
        """Dataset staging over the network, when the scenario has one."""
        """When each factory opens (0 for those open at the start; inf if never in the run)."""
        self.held: list[Job] = []
        self._distance: dict[tuple[str, str], float] = {}
        self._candidates: dict[Shape, list[tuple[Factory, Pool]]] = {}
        self._open: dict[Shape, list[tuple[Factory, Pool]]] = {}
        """The open ones among the candidates, per shape (forgotten when a site opens)."""
        self._choice, self._order = _FAST_CHOICES.get(placement, (None, None))
        for factory in factories:
            factory.open_listeners.append(self._site_changed)
            factory.down_listeners.append(self._site_changed)

    def _site_changed(self, factory: Factory) -> None:
        """A site opened, went down or came back: which sites are open has changed."""
        self._open.clear()

    def open_for(self, job: Job) -> list[tuple[Factory, Pool]]:
        """The candidates that are open now (cached per shape; in the order the placement's
        fast chooser needs, if it has one)."""
        key = (job.accelerators, job.allowed_types, job.site_pin)
        found = self._open.get(key)
        if found is None:
            found = [(factory, pool) for factory, pool in self.candidates(job) if factory.online]
            if self._order is not None:
                order = self._order
                found.sort(key=lambda fp: order(*fp))
            self._open[key] = found
        return found

    def candidates(self, job: Job) -> list[tuple[Factory, Pool]]:
        """Every (factory, pool) that could ever hold the job, open or not (cached per shape)."""
        key = (job.accelerators, job.allowed_types, job.site_pin)
        if key not in self._candidates:
            pin = job.site_pin
            self._candidates[key] = [
                (factory, pool)
                for factory in self.factories
                if pin is None or factory.id in pin
                for pool in factory.pools_for(job)
            ]
        return self._candidates[key]

    def distance_km(self, a: str | None, b: str) -> float:
        if a is None or a not in self.by_id:
            return 0.0
        key = (a, b)
        if key not in self._distance:
            sa, sb = self.by_id[a].site, self.by_id[b].site
            self._distance[key] = great_circle_km(sa.lat, sa.lon, sb.lat, sb.lon)
        return self._distance[key]

    def submit(self, job: Job) -> None:
        self.recorder.event(self.env.now, "submit", job=job.id, value=job.accelerators)
        self._place(job)

    def submit_to(self, job: Job, factory: Factory, pool: Pool) -> None:
        """Hand a job whose start policy chose its site to that site's pool; if the site is
        down or the data cannot reach it by now, the job is placed as any other."""
        data = self.data
        if factory.online and (data is None or data.can_reach(job, factory)):
            factory.submit(job, pool, data.stage(job, factory) if data else None)
        else:
            self._place(job)

    def place_again(self, job: Job) -> None:
        """A job queued at (or interrupted by) a site that went down: placed anew among the
        sites that are up, or held until one is."""
        self.recorder.event(self.env.now, "move", site=job.site, job=job.id, value=job.accelerators)
        self._place(job)

    def _place(self, job: Job) -> None:
        data = self.data
        if data is None or data.connected:  # every candidate can get the job's data
            candidates = self.candidates(job)
            open_now = self.open_for(job)
        else:
            candidates = [(f, pool) for f, pool in self.candidates(job) if data.can_reach(job, f)]
            open_now = [(f, pool) for f, pool in self.open_for(job) if data.can_reach(job, f)]
        if open_now:
            if self._choice is not None:
                factory, pool = self._choice(job, open_now, self)
            else:
                placement = self.placement
                factory, pool = min(open_now, key=lambda fp: placement(job, fp[0], fp[1], self))
            factory.submit(job, pool, data.stage(job, factory) if data else None)
        elif any(self.opening_s[factory.id] < math.inf for factory, _ in candidates):
            self.held.append(job)
            self.recorder.event(self.env.now, "hold", job=job.id, value=job.accelerators)
        else:
            self.reject(job, self._why_not(job, candidates))

    def site_opened(self) -> None:
        """A factory opened: place the jobs that were waiting for one."""
        held, self.held = self.held, []
        for job in held:
            self._place(job)

    def reject(self, job: Job, reason: str) -> None:
        job.state = JobState.REJECTED
        job.reason = reason
        job.end_s = self.env.now
        self.recorder.event(self.env.now, "reject", job=job.id, value=job.accelerators)
        self.recorder.job_ended(job)

    def _why_not(self, job: Job, candidates: list[tuple[Factory, Pool]]) -> str:
        if candidates:
            if job.site_pin is not None:
                return f"its sites {', '.join(job.site_pin)} do not open within the run"
            return "the only sites that could hold it do not open within the run"
        if self.candidates(job):
            return f"its dataset at {job.origin} cannot reach any site that could hold it"
        allowed = [
            pool
            for factory in self.factories
            if job.site_pin is None or factory.id in job.site_pin
            for pool in factory.pools.values()
            if job.allowed_types is None or pool.accelerator in job.allowed_types
        ]
        if not allowed:
            return f"no site has accelerators of the types {list(job.allowed_types or [])}"
        largest = max(pool.total for pool in allowed)
        if largest < job.accelerators:
            return f"needs {job.accelerators} accelerators; the largest pool has {largest}"
        return f"no site's power cap allows {job.accelerators} busy accelerators"
