"""Per-factory schedulers, chosen by name: who in a factory's queue starts, and when.

Each factory owns one scheduler instance. The factory calls :meth:`Scheduler.on_submit` when a
job joins its queue and :meth:`Scheduler.on_release` when resources free up (a job ends, a job
leaves the queue, the site opens); the scheduler starts jobs with ``factory.start(job)``.
Adding a policy is one class and one line in :data:`SCHEDULERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from twin.config.schema import TenantClass
from twin.model.job import Job

if TYPE_CHECKING:
    from twin.model.factory import Factory

RESERVATION_TOLERANCE = 1e-9
BACKFILL_DEPTH = 1000
"""Queued jobs a backfill pass looks at behind the head (as Slurm's ``bf_max_job_test``):
it bounds the work of one pass however long the queue grows."""


class Scheduler:
    """Base: start queue heads in order while they fit (strict FCFS)."""

    def __init__(self, tenants: dict[str, TenantClass]) -> None:
        self.tenants = tenants

    def on_submit(self, factory: Factory, job: Job) -> None:
        if factory.queue[0] is job:
            self.schedule(factory)

    def on_release(self, factory: Factory) -> None:
        self.schedule(factory)

    def schedule(self, factory: Factory) -> None:
        _start_heads(factory)


def _start_heads(factory: Factory) -> None:
    queue = factory.queue
    while queue and factory.fits_now(queue[0]):
        factory.start(queue[0])


class FCFS(Scheduler):
    """First come, first served: nobody overtakes the head of the queue."""


@dataclass
class Reservation:
    """The head job's guaranteed start and what is left over at that moment for backfilling."""

    head: Job
    start_s: float
    spare_accelerators: int
    """Accelerators of the head's pool still free at ``start_s`` after the head starts."""
    spare_power_w: float
    """Power headroom at ``start_s`` after the head starts."""


class EasyBackfill(Scheduler):
    """EASY backfilling (Lifka 1995; Mu'alem & Feitelson 2001).

    The head of the queue gets a reservation at the earliest time enough accelerators and
    power will be free, planning with the walltimes jobs requested. A later job may start
    out of order (backfill) only if it fits now and either ends, by its walltime, before the
    reservation, or uses only what the head will not need then. Since jobs never run past
    their walltime, the head never starts later than its reservation. A pass looks at the
    first :data:`BACKFILL_DEPTH` jobs behind the head (a job arriving later is still tried
    when it arrives).
    """

    def __init__(self, tenants: dict[str, TenantClass]) -> None:
        super().__init__(tenants)
        self._reservation: Reservation | None = None

    def on_submit(self, factory: Factory, job: Job) -> None:
        if factory.queue[0] is job:
            self.schedule(factory)
        elif factory.fits_now(job):
            reservation = self._reservation_for(factory)
            if reservation is not None and self._may_backfill(factory, job, reservation):
                factory.start(job)

    def schedule(self, factory: Factory) -> None:
        self._reservation = None
        _start_heads(factory)
        if len(factory.queue) < 2:
            return
        for job in factory.queue[1 : BACKFILL_DEPTH + 1]:
            if not any(pool.free for pool in factory.pools.values()):
                break
            if not factory.fits_now(job):
                continue
            reservation = self._reservation_for(factory)
            if reservation is not None and self._may_backfill(factory, job, reservation):
                factory.start(job)

    def _reservation_for(self, factory: Factory) -> Reservation | None:
        """The current head's reservation, computed once per release (arrivals keep it)."""
        if not factory.queue:
            return None
        head = factory.queue[0]
        if self._reservation is None or self._reservation.head is not head:
            self._reservation = reserve(factory, head)
            if head.reserved_start_s is None:
                head.reserved_start_s = self._reservation.start_s
        return self._reservation

    @staticmethod
    def _may_backfill(factory: Factory, job: Job, reservation: Reservation) -> bool:
        if factory.env.now + job.walltime_s <= reservation.start_s + RESERVATION_TOLERANCE:
            return True
        power = factory.extra_power_w(job)
        same_pool = job.accelerator == reservation.head.accelerator
        if power > reservation.spare_power_w * (1 + RESERVATION_TOLERANCE) + RESERVATION_TOLERANCE:
            return False
        if same_pool and job.accelerators > reservation.spare_accelerators:
            return False
        reservation.spare_power_w -= power
        if same_pool:
            reservation.spare_accelerators -= job.accelerators
        return True


def reserve(factory: Factory, head: Job) -> Reservation:
    """When ``head`` can start at the latest, releasing running jobs at their walltime ends."""
    pool = factory.pools[head.accelerator]
    free = pool.free
    headroom = factory.cap_w - factory.power_w
    need_power = factory.extra_power_w(head)
    start_s = factory.env.now
    ends = sorted(factory.running.values(), key=lambda job: (job.start_s + job.walltime_s, job.id))
    for job in ends:
        if free >= head.accelerators and headroom >= need_power * (1 - RESERVATION_TOLERANCE):
            break
        start_s = job.start_s + job.walltime_s
        if job.accelerator == head.accelerator:
            free += job.accelerators
        headroom += factory.extra_power_w(job)
    return Reservation(head, start_s, free - head.accelerators, headroom - need_power)


FAIR_SHARE_HALF_LIFE_S = 86400.0
"""Usage older than this counts half as much (Slurm's PriorityDecayHalfLife, 1 day)."""


class FairShare(EasyBackfill):
    """Fair share with EASY backfilling: the queue is ordered by each tenant class's recent
    use of this factory (accelerator-seconds, decaying with a one-day half-life) divided by
    its weight, then by submission; the head of that order gets the EASY reservation.
    """

    def __init__(self, tenants: dict[str, TenantClass]) -> None:
        super().__init__(tenants)
        self.usage = dict.fromkeys(tenants, 0.0)
        self._decayed_at = 0.0

    def on_submit(self, factory: Factory, job: Job) -> None:
        self.schedule(factory)

    def schedule(self, factory: Factory) -> None:
        self._charge_running(factory)
        factory.queue.sort(key=lambda job: (self.priority(job.tenant), job.submit_s, job.id))
        super().schedule(factory)

    def priority(self, tenant: str) -> float:
        weight = self.tenants[tenant].weight if tenant in self.tenants else 1.0
        return self.usage.get(tenant, 0.0) / weight

    def _charge_running(self, factory: Factory) -> None:
        """Decay past usage to now and add what running jobs used since the last call."""
        now = factory.env.now
        elapsed = now - self._decayed_at
        if elapsed <= 0:
            return
        decay = 0.5 ** (elapsed / FAIR_SHARE_HALF_LIFE_S)
        for tenant in self.usage:
            self.usage[tenant] *= decay
        for job in factory.running.values():
            since = max(job.start_s or now, self._decayed_at)
            self.usage[job.tenant] = self.usage.get(job.tenant, 0.0) + job.accelerators * (
                now - since
            )
        self._decayed_at = now


SCHEDULERS: dict[str, type[Scheduler]] = {
    "fcfs": FCFS,
    "easy_backfill": EasyBackfill,
    "fair_share": FairShare,
}
"""Scheduler classes by the name used in ``policies.scheduler``."""
