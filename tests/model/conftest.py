"""Small hand-built scenarios for the model tests, handed out by the ``model_kit`` fixture."""

from __future__ import annotations

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
    placement: str,
    training: dict[str, Any] | None = None,
    *,
    scheduler: str = "fcfs",
    horizon: float = 86400.0,
    start: str = START,
    seed: int = 0,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "model",
        "start": start,
        "horizon": horizon,
        "seed": seed,
        "accelerators": ACCELERATORS,
        "sites": sites,
        "tenants": {"academia": {"share": 1.0}},
        "policies": {"scheduler": scheduler, "placement": placement},
        "telemetry": {"interval": horizon},
    }
    if training is not None:
        data["workloads"] = {"training": training}
    return data


def build(data: dict[str, Any]) -> Scenario:
    return validate_scenario(data, checks=(check_policies,))


def run_world(data: dict[str, Any]) -> World:
    world = World(build(data))
    world.run(steps=1)
    world.finish()
    return world


@dataclass(frozen=True)
class JobSpec:
    submit_s: float
    accelerators: int
    work_s: float
    origin: str | None = None


def run_jobs(data: dict[str, Any], jobs: Sequence[JobSpec]) -> World:
    """Run the scenario fed with exactly ``jobs`` (ids in submission order)."""
    world = World(build(data))
    ordered = sorted(jobs, key=lambda spec: spec.submit_s)

    def feed() -> Iterator[simpy.Event]:
        for number, spec in enumerate(ordered):
            if spec.submit_s > world.env.now:
                yield world.env.timeout(spec.submit_s - world.env.now)
            job = Job(
                id=number,
                tenant="academia",
                accelerators=spec.accelerators,
                work_s=spec.work_s,
                walltime_factor=1.0,
                submit_s=world.env.now,
                origin=spec.origin,
            )
            world.jobs.append(job)
            world.broker.submit(job)

    world.env.process(feed())
    world.run(steps=1)
    world.finish()
    return world


class ModelKit:
    START = START
    JobSpec = JobSpec
    site = staticmethod(site)
    scenario = staticmethod(scenario)
    build = staticmethod(build)
    run_world = staticmethod(run_world)
    run_jobs = staticmethod(run_jobs)


@pytest.fixture(scope="session")
def model_kit() -> type[ModelKit]:
    return ModelKit
