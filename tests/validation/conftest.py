"""Scenario builders shared by the validation tests: small scenarios written inline as dicts.

The helpers are plain functions gathered on :class:`Scenarios`, handed to tests by the
session-scoped ``scenarios`` fixture (session scope so hypothesis tests may use it too).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import simpy
from config_kit import ACCELERATORS, START, site

from twin.config import Scenario, validate_scenario
from twin.model.job import Job
from twin.model.world import World, check_policies


def scenario(
    sites: list[dict[str, Any]],
    training: dict[str, Any] | None = None,
    *,
    scheduler: str = "fcfs",
    placement: str = "least_loaded",
    horizon: float = 86400.0,
    seed: int = 0,
    interval: float = 900.0,
    start: str = START,
    name: str = "validation",
) -> dict[str, Any]:
    """A whole scenario as config data."""
    data: dict[str, Any] = {
        "name": name,
        "start": start,
        "horizon": horizon,
        "seed": seed,
        "accelerators": ACCELERATORS,
        "sites": sites,
        "tenants": {"academia": {"share": 0.5}, "industry": {"share": 0.5}},
        "policies": {"scheduler": scheduler, "placement": placement},
        "telemetry": {"interval": interval},
    }
    if training is not None:
        data["workloads"] = {"training": training}
    return data


def one_site(
    c: int,
    arrivals_per_day: float,
    duration_s: dict[str, Any],
    *,
    accelerators: dict[str, Any] | None = None,
    scheduler: str = "fcfs",
    power_mw: float = 100.0,
    walltime_factor: float = 1.0,
    stop_after: float | None = None,
    horizon: float = 86400.0,
    seed: int = 0,
    interval: float = 900.0,
    **training: Any,
) -> dict[str, Any]:
    """One factory with ``c`` H100s fed by a Poisson stream of training jobs."""
    spec: dict[str, Any] = {
        "arrivals_per_day": arrivals_per_day,
        "accelerators": accelerators or {"dist": "constant", "value": 1},
        "duration_s": duration_s,
        "walltime_factor": walltime_factor,
        **training,
    }
    if stop_after is not None:
        spec["stop_after"] = stop_after
    return scenario(
        [site("s", c, power_mw=power_mw)],
        spec,
        scheduler=scheduler,
        horizon=horizon,
        seed=seed,
        interval=interval,
    )


def build(data: dict[str, Any]) -> Scenario:
    """Validate config data into a Scenario, with the model's policy-name check."""
    return validate_scenario(data, checks=(check_policies,))


def run_world(data: dict[str, Any] | Scenario) -> World:
    """Build and run a World without a trace, to the horizon."""
    world = World(data if isinstance(data, Scenario) else build(data))
    world.run()
    world.finish()
    return world


@dataclass(frozen=True)
class JobSpec:
    """A job to submit by hand: when, how many accelerators, how long, which walltime factor."""

    submit_s: float
    accelerators: int
    work_s: float
    walltime_factor: float = 1.0


def run_jobs(data: dict[str, Any], jobs: Sequence[JobSpec]) -> World:
    """Run a scenario (no generated workload) fed with exactly ``jobs``, in submission order.

    Job ids follow submission order (submit time, then list order). The horizon is raised, if
    needed, so that every job can finish even if all ran one after the other.
    """
    ordered = sorted(jobs, key=lambda spec: spec.submit_s)
    need = max((s.submit_s for s in ordered), default=0.0) + sum(
        s.work_s * 2 * s.walltime_factor for s in ordered
    )
    horizon = max(float(data["horizon"]), need + 10.0)
    # one telemetry sample at the end: these runs are about jobs, and samples cost time
    data = {**data, "horizon": horizon, "telemetry": {"interval": horizon}}
    data.pop("workloads", None)
    world = World(build(data))

    def feed() -> Iterator[simpy.Event]:
        for number, spec in enumerate(ordered):
            if spec.submit_s > world.env.now:
                yield world.env.timeout(spec.submit_s - world.env.now)
            job = Job(
                id=number,
                tenant="academia",
                accelerators=spec.accelerators,
                work_s=spec.work_s,
                walltime_factor=spec.walltime_factor,
                submit_s=world.env.now,
            )
            world.jobs.append(job)
            world.broker.submit(job)

    world.env.process(feed())
    world.run(steps=1)
    world.finish()
    return world


def hour_of_day(start: str, time_s: float) -> int:
    """UTC hour of the day at ``time_s`` after ``start``, by the datetime module."""
    when = dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc)
    return (when + dt.timedelta(seconds=time_s)).hour


class Scenarios:
    """The builders above, as one object for the ``scenarios`` fixture."""

    START = START
    ACCELERATORS = ACCELERATORS
    JobSpec = JobSpec
    site = staticmethod(site)
    scenario = staticmethod(scenario)
    one_site = staticmethod(one_site)
    build = staticmethod(build)
    run_world = staticmethod(run_world)
    run_jobs = staticmethod(run_jobs)
    hour_of_day = staticmethod(hour_of_day)


@pytest.fixture(scope="session")
def scenarios() -> type[Scenarios]:
    return Scenarios
