"""Training/batch jobs and their life cycle."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from twin.model.checkpointing import Segment


class JobState(str, Enum):
    """Where a job is in its life. The last four are terminal: each job ends in exactly one."""

    SUBMITTED = "submitted"
    STAGING = "staging"
    QUEUED = "queued"
    HELD = "held"
    """Out of the queue: its programme's quota is spent until the next period."""
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.REJECTED})


@dataclass(slots=True, eq=False)
class Job:
    """A training or batch job: what it asks for, and what happened to it."""

    id: int
    tenant: str
    accelerators: int
    work_s: float
    """Run time on a speed-1.0 accelerator."""
    walltime_factor: float
    submit_s: float
    dataset_gb: float = 0.0
    origin: str | None = None
    dataset: int | None = None
    """Catalogue id of its dataset (None: a dataset of its own, never cached elsewhere)."""
    fail_fraction: float | None = None
    """If set, the job fails after this fraction of its run."""
    patience_s: float | None = None
    allowed_types: tuple[str, ...] | None = None
    checkpoint_gb: float = 0.0
    checkpoint_interval_s: float | None = None
    """Compute between checkpoints (None: none; for ``young_daly`` set when it starts)."""
    checkpoint_young_daly: bool = False
    """Whether the interval is Young's √(2CM) for the accelerators it runs on."""
    checkpoint_cost_s: float = 0.0
    """The stall of one checkpoint (its size over the storage write bandwidth)."""
    trace_job: int | None = None
    """Its job number in the trace it was replayed from (None: a synthetic job)."""
    site_pin: tuple[str, ...] | None = None
    """The only sites it may run at (a trace replayed on its own machine); None: any."""

    programme: str | None = None
    """The access programme its tenant belongs to (None: none)."""
    tier: int = 0
    """Its priority tier: the queue serves higher tiers first (its programme's priority)."""
    overflow: bool = False
    """Over its programme's quota (overflow low_priority): runs outside it, behind all."""
    charged_programme: str | None = None
    """The programme its current run is charged to (None: none, or an overflow run)."""
    price_eur_per_accelerator_hour: float | None = None
    """What its current run pays per accelerator-hour (None: no access pricing)."""
    spend_eur: float = 0.0
    """What its runs paid: accelerator-hours × the price of each run."""
    preemptions: int = 0
    """Times a programme reclaiming its reserve interrupted it (of ``restarts``)."""
    deadline_s: float | None = None
    """The latest start of a deferrable job (submission + slack; None: not deferrable)."""
    deferred_s: float | None = None
    """How long the start policy held it before handing it to a site (None: not held)."""

    state: JobState = JobState.SUBMITTED
    reason: str | None = None
    site: str | None = None
    accelerator: str | None = None
    speed: float = 1.0
    staging_s: float | None = None
    """Time spent waiting for the dataset to reach the site (None if never staged)."""
    start_s: float | None = None
    end_s: float | None = None
    reserved_start_s: float | None = None
    """The first start time a backfilling scheduler reserved for it (None if never head)."""
    energy_mwh: float = 0.0
    co2_t: float = 0.0
    cost_eur: float = 0.0
    # under faults: the work its checkpoints kept, and where its accelerators' time went
    saved_work_s: float = 0.0
    """Reference work (speed-1.0 seconds) kept by completed checkpoints of earlier runs."""
    restarts: int = 0
    """Times it was interrupted (by an accelerator failure or a site outage) and requeued."""
    restart_overhead_s: float = 0.0
    """What its next start pays before it progresses (set when it is interrupted)."""
    busy_s: float = 0.0
    """Wall time it held its accelerators, over all its runs."""
    useful_s: float = 0.0
    """Of ``busy_s``: compute that counted."""
    lost_work_s: float = 0.0
    """Of ``busy_s``: compute lost to interruptions (since the last checkpoint)."""
    checkpoint_s: float = 0.0
    """Of ``busy_s``: stalled writing checkpoints."""
    restart_s: float = 0.0
    """Of ``busy_s``: restart overheads."""
    segment: Segment | None = None
    """The plan of its current run (while running)."""
    segment_start_s: float = 0.0
    run_token: int = 0
    """Counts its runs, so that a timer of an interrupted run can tell it is stale."""
    planned_end_s: float = 0.0
    """When its current run must end at the latest (start + planned time × walltime
    factor): what backfilling reservations plan with."""

    @property
    def target_work_s(self) -> float:
        """Reference work until it ends (shorter than ``work_s`` if it fails part-way)."""
        return self.work_s * self.fail_fraction if self.fail_fraction is not None else self.work_s

    def plan(self, as_requested: bool = False) -> Segment:
        """Its run from a start now on its accelerator, if nothing interrupts it; with
        ``as_requested``, the run of all its remaining work as its owner asked for it
        (what schedulers know: not that it will fail part-way)."""
        interval = self.checkpoint_interval_s
        work = self.work_s if as_requested else self.target_work_s
        return Segment(
            self.restart_overhead_s,
            max(0.0, work - self.saved_work_s) / self.speed,
            math.inf if interval is None else interval,
            self.checkpoint_cost_s,
        )

    @property
    def walltime_s(self) -> float:
        """The walltime it requested on its accelerator: a whole run's plan (checkpoint
        stalls included) × the walltime factor."""
        full = self.work_s / self.speed
        if self.checkpoint_cost_s == 0.0:
            return full * self.walltime_factor
        interval = self.checkpoint_interval_s
        plan = Segment(
            0.0, full, math.inf if interval is None else interval, self.checkpoint_cost_s
        )
        return plan.duration_s * self.walltime_factor

    @property
    def walltime_left_s(self) -> float:
        """What schedulers plan a start now with: the walltime it requested, or after an
        interruption its remaining plan (restart overhead included) × the walltime factor."""
        if not self.restarts:
            return self.walltime_s
        return self.plan(as_requested=True).duration_s * self.walltime_factor

    @property
    def goodput(self) -> float | None:
        """Share of the time it held accelerators that did useful work (None if it never ran)."""
        return self.useful_s / self.busy_s if self.busy_s > 0 else None

    @property
    def wait_s(self) -> float | None:
        """Time waiting for a site and in its queue: time before start, less staging."""
        until = self.start_s
        if until is None and self.state is JobState.CANCELLED:
            until = self.end_s
        if until is None:
            return None
        return until - self.submit_s - (self.staging_s or 0.0)
