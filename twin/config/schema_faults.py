"""The ``faults:`` section of a scenario: accelerator failures, site outages, link cuts.

At the scale Europe is building, failure is the normal state (Meta's Llama 3 405B run on
16,384 H100 saw 419 unplanned interruptions in 54 days, one every 3 hours). Defaults come
from that run; where no public figure exists (repair and restart times) the default is a
stated assumption a user can override. Cross-references (site ids, countries, link ends,
accelerator types) are checked in :mod:`twin.config.validate_faults`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from twin.config.schema_base import Distribution, Duration, Identifier, StrictModel
from twin.config.units import MAX_DURATION_S, parse_duration_s, parse_timestamp

LLAMA3_RATE_PER_HOUR = 419 / (54 * 24 * 16_384)
"""Unplanned interruptions per GPU-hour of Meta's Llama 3 405B pre-training run (419 on
16,384 H100 over 54 days; "The Llama 3 Herd of Models", 2024): about 2.0e-5, an MTBF of
about 50,700 GPU-hours."""


def offset_or_moment(value: object) -> object:
    """A fault's start: a duration after the scenario start (``2d``, seconds) or an ISO
    date-time (UTC unless it says otherwise)."""
    try:
        return parse_duration_s(value)
    except ValueError:
        pass
    try:
        moment = parse_timestamp(value)
    except ValueError:
        raise ValueError(
            "expected a time after the scenario start such as 2d or 36h, or an ISO date-time "
            f"such as 2026-12-03T18:00:00Z, got {value!r}"
        ) from None
    assert isinstance(moment, dt.datetime)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


When = Annotated[
    float | dt.datetime,
    BeforeValidator(offset_or_moment),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
                {"type": "string"},
            ],
            "description": "a time after the scenario start (2d, 36h, seconds) or an ISO date-time",
        }
    ),
]
"""When a scheduled fault begins: seconds after the scenario start, or a date-time."""

Rate = Annotated[float, Field(ge=0, le=1.0)]
"""Failures per accelerator-hour."""


class AcceleratorFailures(StrictModel):
    """Accelerators of running jobs fail at a rate per accelerator-hour; a job of N
    accelerators is interrupted at N × the rate."""

    rate_per_hour: Rate = Field(
        LLAMA3_RATE_PER_HOUR,
        description="failures per accelerator-hour of a running job (default 2.0e-5: Llama 3 "
        "405B, 419 interruptions on 16,384 H100 in 54 days)",
    )
    by_type: dict[str, Rate] = Field(
        default_factory=dict, description="accelerator type → its own rate per hour"
    )
    repair: Distribution | None = Field(
        None,
        description="how long a failed accelerator is out of service; default 1 day (an "
        "assumption: swap, burn-in and return)",
    )
    spare_share: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0,
        description="hot spares per installed accelerator at each site: a failed accelerator "
        "is replaced at once while spares last",
    )

    def rate_of(self, accelerator: str) -> float:
        """The failure rate per hour of one accelerator type."""
        return self.by_type.get(accelerator, self.rate_per_hour)


class ScheduledOutage(StrictModel):
    """A known outage: one site, or every site of a country (a grid event)."""

    site: Identifier | None = Field(None, description="the site that goes down")
    country: str | None = Field(
        None, min_length=2, max_length=2, description="every site of this country goes down"
    )
    start: When = Field(description="when it begins: after the scenario start, or a date-time")
    duration: Duration = Field(gt=0, description="how long it lasts")


class RandomOutages(StrictModel):
    """Outages that strike at random: up times exponential with mean ``mtbf``, repairs drawn
    from ``mttr``. One process per site, or per country when ``country`` is given (all its
    sites go down together)."""

    sites: list[Identifier] | None = Field(
        None, description="the sites it strikes (each on its own); default every site"
    )
    country: str | None = Field(
        None, min_length=2, max_length=2, description="strike this country's sites together"
    )
    mtbf: Duration = Field(gt=0, description="mean time between outages of one target")
    mttr: Distribution = Field(description="how long an outage lasts, s")


class SiteOutages(StrictModel):
    """Whole-site outages (power, cooling, grid): running jobs are interrupted as by a
    failure, inference replicas there go away."""

    scheduled: list[ScheduledOutage] = Field(default_factory=list, description="known outages")
    random: list[RandomOutages] = Field(default_factory=list, description="random outages")
    queued: Literal["wait", "move"] = Field(
        "move",
        description="what happens to the jobs queued at a site that goes down, and to those "
        "it interrupts: move (back to the broker, placed on a site that is up) or wait (stay "
        "in its queue until it returns)",
    )


class ScheduledCut(StrictModel):
    """A known cut of one link (both directions)."""

    link: str = Field(
        max_length=140, description="the link, as its two ends joined by ~ (A~B or B~A)"
    )
    start: When = Field(description="when it begins: after the scenario start, or a date-time")
    duration: Duration = Field(gt=0, description="how long until it is repaired")


class RandomCuts(StrictModel):
    """Fibre cuts at a rate per km of fibre: a link of L km is cut at L × the rate."""

    rate_per_1000km_year: Annotated[float, Field(gt=0, le=1e4)] = Field(
        description="cuts per 1,000 km of fibre per year"
    )
    repair: Distribution | None = Field(
        None, description="how long a cut takes to repair, s; default 12 hours (an assumption)"
    )
    links: list[str] | None = Field(
        None, description="the links it strikes (A~B); default every link"
    )


class LinkCuts(StrictModel):
    """Link cuts: routes are recomputed; flows crossing a cut continue on a new route with
    their remaining bytes, or wait until a route returns."""

    scheduled: list[ScheduledCut] = Field(default_factory=list, description="known cuts")
    random: RandomCuts | None = Field(None, description="random fibre cuts")


class Faults(StrictModel):
    """What breaks, and how often. Every part is optional; none given, nothing fails."""

    accelerators: AcceleratorFailures | None = Field(
        None, description="accelerator failures interrupting running jobs"
    )
    sites: SiteOutages | None = Field(None, description="whole-site outages")
    links: LinkCuts | None = Field(None, description="link cuts")
    restart_overhead: Duration = Field(
        600.0,
        description="time an interrupted job spends on restart (re-launch, reload the last "
        "checkpoint) before it progresses again; default 10 minutes (an assumption)",
    )
    seed_offset: Annotated[int, Field(ge=0, le=2**31)] = Field(
        0,
        description="draw a different fault history from the same scenario seed (the "
        "workload stays the same)",
    )

    @property
    def any(self) -> bool:
        """Whether anything can fail."""
        return any(part is not None for part in (self.accelerators, self.sites, self.links))


__all__ = [
    "LLAMA3_RATE_PER_HOUR",
    "AcceleratorFailures",
    "Faults",
    "LinkCuts",
    "RandomCuts",
    "RandomOutages",
    "ScheduledCut",
    "ScheduledOutage",
    "SiteOutages",
]
