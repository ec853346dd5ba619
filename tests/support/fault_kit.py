"""Small scenarios with faults, hand-made jobs, and a recorder that keeps what a run reports
in lists: what the faults tests (tests/model/test_faults.py,
tests/validation/test_faults_theory.py) build their runs from."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import simpy
from config_kit import ACCELERATORS, START
from config_kit import site as site  # re-exported for the faults tests

from twin.config import Scenario, validate_scenario
from twin.model.job import Job
from twin.model.recorder import Recorder
from twin.model.world import World, check_policies
from twin.trace.schema import FAULTS, SITES

HOUR = 3600.0
DAY = 86400.0


def scenario(
    sites: list[dict[str, Any]],
    faults: dict[str, Any] | None = None,
    *,
    horizon: float = DAY,
    seed: int = 0,
    interval: float | None = None,
    placement: str = "lowest_carbon",
    training: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A scenario as config data; one telemetry sample at the end unless ``interval``."""
    data: dict[str, Any] = {
        "name": "faults",
        "start": START,
        "horizon": horizon,
        "seed": seed,
        "accelerators": ACCELERATORS,
        "sites": sites,
        "tenants": {"academia": {"share": 1.0}},
        "policies": {"scheduler": "fcfs", "placement": placement},
        "telemetry": {"interval": interval or horizon},
    }
    if faults is not None:
        data["faults"] = faults
    if training is not None:
        data["workloads"] = {"training": training}
    return data


def build(data: dict[str, Any]) -> Scenario:
    return validate_scenario(data, checks=(check_policies,))


def job(
    number: int,
    accelerators: int,
    work_s: float,
    *,
    interval_s: float | None = None,
    cost_s: float = 0.0,
    young_daly: bool = False,
    allowed: tuple[str, ...] | None = None,
) -> Job:
    """A job submitted at time 0 (checkpoints every ``interval_s`` of compute, each a stall of
    ``cost_s``)."""
    return Job(
        id=number,
        tenant="academia",
        accelerators=accelerators,
        work_s=work_s,
        walltime_factor=1.0,
        submit_s=0.0,
        allowed_types=allowed,
        checkpoint_interval_s=interval_s,
        checkpoint_cost_s=cost_s,
        checkpoint_young_daly=young_daly,
    )


@dataclass
class Log(Recorder):
    """Everything a run reports, in lists (site samples and faults as dicts by column)."""

    events: list[tuple[float, str, str | None, int | None, float | None]] = field(
        default_factory=list
    )
    samples: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)

    def event(self, time_s, kind, site=None, job=None, link=None, value=None) -> None:
        self.events.append((time_s, kind, site, job, value))

    def site_sample(self, row: tuple) -> None:
        self.samples.append(dict(zip(SITES.names, row, strict=True)))

    def fault(self, row: tuple) -> None:
        self.faults.append(dict(zip(FAULTS.names, row, strict=True)))

    def of(self, kind: str, job: int | None = None) -> list[tuple]:
        """The events of one kind (of one job), in order."""
        return [e for e in self.events if e[1] == kind and (job is None or e[3] == job)]


def run(data: dict[str, Any] | Scenario, jobs: Sequence[Job] = ()) -> tuple[World, Log]:
    """Run the scenario to its horizon with ``jobs`` submitted at time 0, in order (once the
    sites open at time 0 have opened)."""
    log = Log()
    world = World(data if isinstance(data, Scenario) else build(data), log)

    def feed() -> Iterator[simpy.Event]:
        for item in jobs:
            world.jobs.append(item)
            world.broker.submit(item)
        yield world.env.timeout(0)

    world.env.process(feed())
    world.run(steps=1)
    world.finish()
    return world, log
