"""Training/batch jobs and their life cycle."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class JobState(str, Enum):
    """Where a job is in its life. The last four are terminal: each job ends in exactly one."""

    SUBMITTED = "submitted"
    STAGING = "staging"
    QUEUED = "queued"
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

    @property
    def run_s(self) -> float:
        """How long it runs once started on its accelerator (shorter if it fails)."""
        full = self.work_s / self.speed
        return full * self.fail_fraction if self.fail_fraction is not None else full

    @property
    def walltime_s(self) -> float:
        """The walltime it requested on its accelerator: what schedulers plan with."""
        return self.work_s / self.speed * self.walltime_factor

    @property
    def wait_s(self) -> float | None:
        """Time waiting for a site and in its queue: time before start, less staging."""
        until = self.start_s
        if until is None and self.state is JobState.CANCELLED:
            until = self.end_s
        if until is None:
            return None
        return until - self.submit_s - (self.staging_s or 0.0)
