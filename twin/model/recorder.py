"""What the model reports, as an observer: the model calls these hooks, a recorder stores them.

The base class ignores everything (for benchmarks and experiments that need no trace);
:class:`TraceRecorder` streams rows into a run directory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.model.job import Job
from twin.trace.writer import RunWriter

if TYPE_CHECKING:
    from twin.model.network import Transfer


class Recorder:
    """No-op hooks; subclasses record what they need."""

    def event(
        self,
        time_s: float,
        kind: str,
        site: str | None = None,
        job: int | None = None,
        link: str | None = None,
        value: float | None = None,
    ) -> None:
        """A discrete event happened."""

    def job_ended(self, job: Job) -> None:
        """A job reached a terminal state (or the run ended with it still in the system)."""

    def site_sample(self, row: tuple) -> None:
        """One telemetry row of a site, in the order of ``twin.trace.schema.SITES``."""

    def transfer_ended(self, transfer: Transfer) -> None:
        """A transfer was delivered (or the run ended with it in flight)."""

    def link_sample(self, row: tuple) -> None:
        """One telemetry row of a link direction, in the order of ``twin.trace.schema.LINKS``."""

    def inference_sample(self, row: tuple) -> None:
        """One window of a service at a site, in the order of ``twin.trace.schema.INFERENCE``."""

    def region_sample(self, row: tuple) -> None:
        """One interval of a service's demand from a region (``INFERENCE_REGIONS`` order)."""

    def fault(self, row: tuple) -> None:
        """One fault as it begins, in the order of ``twin.trace.schema.FAULTS``."""


class TraceRecorder(Recorder):
    """Streams the model's reports into a run directory."""

    def __init__(self, writer: RunWriter) -> None:
        self.writer = writer

    def event(self, time_s, kind, site=None, job=None, link=None, value=None) -> None:
        self.writer.append("events", (time_s, kind, site, job, link, value))

    def job_ended(self, job: Job) -> None:
        self.writer.append(
            "jobs",
            (
                job.id,
                job.tenant,
                job.state.value,
                job.reason,
                job.site,
                job.accelerator,
                job.accelerators,
                job.submit_s,
                job.start_s,
                job.end_s,
                job.wait_s,
                job.staging_s,
                (job.end_s - job.start_s)
                if job.start_s is not None and job.end_s is not None
                else None,
                job.work_s,
                job.walltime_s if job.accelerator else None,
                job.dataset_gb,
                job.origin,
                job.energy_mwh,
                job.co2_t,
                job.cost_eur,
                job.restarts,
                job.busy_s,
                job.useful_s,
                job.lost_work_s,
                job.checkpoint_s,
                job.restart_s,
                job.goodput,
                job.trace_job,
                job.programme,
                job.preemptions,
                job.spend_eur if job.price_eur_per_accelerator_hour is not None else None,
                job.deadline_s,
                job.deferred_s,
            ),
        )

    def site_sample(self, row: tuple) -> None:
        self.writer.append("sites", row)

    def transfer_ended(self, transfer: Transfer) -> None:
        delivered = transfer.end_s is not None
        sending_s = (transfer.drained_s or 0.0) - transfer.submit_s
        self.writer.append(
            "transfers",
            (
                transfer.id,
                transfer.kind,
                transfer.job,
                transfer.source,
                transfer.destination,
                transfer.bytes,
                transfer.submit_s,
                transfer.end_s,
                transfer.end_s - transfer.submit_s if delivered else None,
                transfer.route.latency_s,
                8e-9 * transfer.bytes / sending_s if delivered and sending_s > 0 else None,
                transfer.route.label,
                "delivered" if delivered else "in_flight",
                transfer.reroutes,
                transfer.stalled_s,
                transfer.label,
            ),
        )

    def link_sample(self, row: tuple) -> None:
        self.writer.append("links", row)

    def inference_sample(self, row: tuple) -> None:
        self.writer.append("inference", row)

    def region_sample(self, row: tuple) -> None:
        self.writer.append("inference_regions", row)

    def fault(self, row: tuple) -> None:
        self.writer.append("faults", row)
