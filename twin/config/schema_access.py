"""The ``access:`` section of a scenario: access programmes for "not just the biggest".

An access programme (e.g. EuroHPC's AI Factories calls for start-ups and academia) covers
some tenant classes and may give them a reserved share of sites' accelerators (guaranteed,
lent to others while idle, reclaimed within a stated time), a quota of accelerator-hours per
period, a priority tier and a price per accelerator-hour. Cross-references (tenants, sites)
are checked in :mod:`twin.config.validate_access`; the model is :mod:`twin.model.access`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from twin.config.schema_base import Duration, Identifier, StrictModel


class Quota(StrictModel):
    """Accelerator-hours a programme may use per period (Slurm's GrpTRESMins per QOS)."""

    accelerator_hours: float = Field(
        gt=0, le=1e12, description="accelerator-hours its jobs may hold per period"
    )
    period: Duration = Field(
        30 * 86400.0, description="length of a quota period, counted from the scenario start"
    )
    overflow: Literal["wait", "low_priority"] = Field(
        "wait",
        description="a job that would exceed the quota: wait for the next period (wait) or "
        "run now outside the programme, after every other job, at the list price "
        "(low_priority)",
    )


class Programme(StrictModel):
    """An access programme: the tenant classes it covers and what it grants them."""

    tenants: list[Identifier] = Field(
        min_length=1, max_length=1000, description="tenant classes whose jobs it covers"
    )
    reserved_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="share of each covered site's accelerators (each pool, rounded down) "
        "reserved for its jobs: lent to others while it has no queued demand",
    )
    sites: list[Identifier] | None = Field(
        None, max_length=10_000, description="sites the reserve holds at; default every site"
    )
    reclaim: Literal["preempt", "wait"] = Field(
        "preempt",
        description="how lent accelerators come back when its jobs queue: preempt the "
        "borrowers' youngest jobs (they keep their last checkpoint and are requeued), or "
        "wait for them to end (no new borrowing meanwhile)",
    )
    reclaim_within: Duration = Field(
        0.0, description="grace the borrowers get before they are preempted (reclaim preempt)"
    )
    priority: int = Field(
        0,
        ge=-1000,
        le=1000,
        description="priority tier: jobs of higher tiers are served first at every site",
    )
    quota: Quota | None = Field(None, description="accelerator-hours per period, if limited")
    price_eur_per_accelerator_hour: float | None = Field(
        None,
        ge=0,
        le=1e6,
        description="what its tenants pay per accelerator-hour (a subsidy below the list "
        "price); default the list price",
    )


class Access(StrictModel):
    """Access programmes, and the list price others pay."""

    policy: Literal["reserve"] = Field(
        "reserve", description="how programmes are honoured (reserve: reserve, lend, reclaim)"
    )
    list_price_eur_per_accelerator_hour: float = Field(
        2.0,
        ge=0,
        le=1e6,
        description="price per accelerator-hour outside programmes (estimate: cloud H100 "
        "on-demand rates in 2025 were €2–4)",
    )
    programmes: dict[Identifier, Programme] = Field(
        default_factory=dict, max_length=1000, description="programme id → programme"
    )
