"""Per-factory schedulers, chosen by name: who in a factory's queue starts, and when.

Each factory owns one scheduler instance. The factory calls :meth:`Scheduler.on_submit` when a
job joins its queue and :meth:`Scheduler.on_release` when resources free up (a job ends, a job
leaves the queue, the site opens); the scheduler starts jobs with ``factory.start(job)``.
Adding a policy is one class and one line in :data:`SCHEDULERS`.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING

from twin.config.schema import TenantClass
from twin.model.job import Job, JobState

if TYPE_CHECKING:
    from twin.model.factory import Factory

RESERVATION_TOLERANCE = 1e-9
BACKFILL_DEPTH = 500
"""Queued jobs a backfill pass looks at behind the head (as Slurm's ``bf_max_job_test``):
it bounds the work of one pass however long the queue grows."""


class Scheduler:
    """Base: start queue heads in order while they fit (strict FCFS).

    The order a scheduler serves the queue in is :meth:`candidates` (submission order
    here); a policy that orders differently overrides it rather than sorting the queue, so
    the cost of a decision does not grow with the queue's length.
    """

    def __init__(self, tenants: dict[str, TenantClass]) -> None:
        self.tenants = tenants
        self.tiers: dict[str, int] = {}
        """Each tenant's priority tier (its access programme's; 0 without one): the
        factory keeps its queue in tier order, policies with an order of their own use it."""

    def on_submit(self, factory: Factory, job: Job) -> None:
        if self.head(factory) is job:
            self.schedule(factory)

    def on_release(self, factory: Factory) -> None:
        self.schedule(factory)

    def on_requeue(self, factory: Factory, job: Job) -> None:
        """An interrupted job is back in the queue (the factory lets the scheduler act
        afterwards); policies that keep their own order of the queue take it back."""

    def schedule(self, factory: Factory) -> None:
        self.start_heads(factory)

    def candidates(self, factory: Factory, count: int) -> Iterable[Job]:
        """The first ``count`` queued jobs in the order this policy serves them (lazily: a
        pass that stops early builds no more)."""
        return factory.queue[:count]

    def head(self, factory: Factory) -> Job | None:
        return next(iter(self.candidates(factory, 1)), None)

    def start_heads(self, factory: Factory) -> None:
        """Start the head of the order while it fits."""
        while (head := self.head(factory)) is not None and factory.fits_now(head):
            factory.start(head)


class FCFS(Scheduler):
    """First come, first served: nobody overtakes the head of the queue."""


class Greedy(Scheduler):
    """Backfilling with no reservation: every queued job that fits starts, in submission
    order (Batsim's ``filler``; what AccaSim 1.1.3's ``EASYBackfilling`` does). Nothing
    protects the head, so a wide job may wait as long as narrower ones keep arriving: the
    risk EASY's reservation removes, kept to measure what that guarantee costs.

    It decides once per instant, after every submission and end at that instant: decided
    per event, a later job could take accelerators freed by the first of two simultaneous
    ends before an earlier one saw both, and the schedule would hang on the order the
    simulator happens to process simultaneous events in.
    """

    def __init__(self, tenants: dict[str, TenantClass]) -> None:
        super().__init__(tenants)
        self._pass_due = False

    def on_submit(self, factory: Factory, job: Job) -> None:
        self.on_release(factory)

    def on_release(self, factory: Factory) -> None:
        if not self._pass_due:  # one pass, after the events already due at this instant
            self._pass_due = True
            factory.env.timeout(0).callbacks.append(lambda _: self._pass(factory))

    def _pass(self, factory: Factory) -> None:
        self._pass_due = False
        self.schedule(factory)

    def schedule(self, factory: Factory) -> None:
        pools = factory.pools.values()
        for job in list(self.candidates(factory, len(factory.queue))):
            if not any(pool.free for pool in pools):  # only a start takes accelerators
                break
            if factory.fits_now(job):
                factory.start(job)


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
        if self.head(factory) is job:
            self.schedule(factory)
        elif factory.fits_now(job):
            head = self.head(factory)
            if head is not None and self._may_backfill(
                factory, job, self._reservation_for(factory, head)
            ):
                factory.start(job)

    def schedule(self, factory: Factory) -> None:
        self._reservation = None
        self.start_heads(factory)
        if len(factory.queue) < 2:
            return
        order = iter(self.candidates(factory, BACKFILL_DEPTH + 1))
        head = next(order, None)
        if head is None:
            return
        pools = factory.pools.values()
        if not any(pool.free for pool in pools):
            return
        for job in order:  # the head stays put: backfilled jobs never are the head
            if not factory.fits_now(job):
                continue
            if self._may_backfill(factory, job, self._reservation_for(factory, head)):
                factory.start(job)
                if not any(pool.free for pool in pools):  # only a start takes accelerators
                    break

    def _reservation_for(self, factory: Factory, head: Job) -> Reservation:
        """The head's reservation, computed once per release (arrivals keep it)."""
        if self._reservation is None or self._reservation.head is not head:
            self._reservation = reserve(factory, head)
            if head.reserved_start_s is None:
                head.reserved_start_s = self._reservation.start_s
        return self._reservation

    @staticmethod
    def _may_backfill(factory: Factory, job: Job, reservation: Reservation) -> bool:
        if factory.env.now + job.walltime_left_s <= reservation.start_s + RESERVATION_TOLERANCE:
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
    for end_s, _, job in factory.running_ends:
        if free >= head.accelerators and headroom >= need_power * (1 - RESERVATION_TOLERANCE):
            break
        start_s = end_s
        if job.accelerator == head.accelerator:
            free += job.accelerators
        headroom += factory.extra_power_w(job)
    return Reservation(head, start_s, free - head.accelerators, headroom - need_power)


FAIR_SHARE_HALF_LIFE_S = 86400.0
"""Usage older than this counts half as much (Slurm's PriorityDecayHalfLife, 1 day)."""


class FairShare(EasyBackfill):
    """Fair share with EASY backfilling: the queue is served in order of each tenant class's
    recent use of this factory (accelerator-seconds, decaying with a one-day half-life)
    divided by its weight, then of submission; the head of that order gets the EASY
    reservation.

    Each tenant's queued jobs are kept in submission order (a job that waited for its data
    joins at its submission's place), so the order is the tenants' queues one after another,
    by priority (tenants of equal priority merged by submission): a decision reads the first
    jobs of that order and never sorts the whole queue.
    """

    def __init__(self, tenants: dict[str, TenantClass]) -> None:
        super().__init__(tenants)
        self.usage = dict.fromkeys(tenants, 0.0)
        self._decayed_at = 0.0
        self._waiting: dict[str, list[Job]] = {}
        self._groups: list[list[str]] = []
        """Tenants with queued jobs by priority, equal priorities together (set per pass)."""

    def on_submit(self, factory: Factory, job: Job) -> None:
        self._wait(job)
        self.schedule(factory)

    def on_requeue(self, factory: Factory, job: Job) -> None:
        self._wait(job)

    def _wait(self, job: Job) -> None:
        """Into its tenant's queue (overflow jobs: the overflow queue), by submission."""
        if job.overflow:  # it went over its programme's quota: out of its tenant's queue
            mine = self._waiting.get(job.tenant, [])
            at = bisect.bisect_left(mine, _submission(job), key=_submission)
            if at < len(mine) and mine[at] is job:
                del mine[at]
        waiting = self._waiting.setdefault(OVERFLOW_GROUP if job.overflow else job.tenant, [])
        at = bisect.bisect_left(waiting, _submission(job), key=_submission)
        if at < len(waiting) and waiting[at] is job:
            return  # requeued before a pass pruned its entry: it is still there
        waiting.insert(at, job)

    def schedule(self, factory: Factory) -> None:
        self._charge_running(factory)
        # priorities hold still during a pass (usage is charged at its start only)
        ranked = sorted(self._waiting, key=self.rank)
        self._groups = [list(group) for _, group in groupby(ranked, key=self.rank)]
        super().schedule(factory)

    def _prune(self) -> None:
        """Drop the jobs at the front of each tenant's queue that started or left since."""
        for waiting in self._waiting.values():
            gone = 0
            while gone < len(waiting) and waiting[gone].state is not JobState.QUEUED:
                gone += 1
            del waiting[:gone]

    def head(self, factory: Factory) -> Job | None:
        """The first job :meth:`candidates` would give, without merging the queues: the
        earliest submission at the fronts of the first group's queues."""
        self._prune()
        waiting = self._waiting
        for group in self._groups:
            fronts = [waiting[tenant][0] for tenant in group if waiting[tenant]]
            if fronts:
                return fronts[0] if len(fronts) == 1 else min(fronts, key=_submission)
        return None

    def candidates(self, factory: Factory, count: int) -> Iterator[Job]:
        chosen = 0
        self._prune()
        for group in self._groups:
            queues = [self._waiting[tenant] for tenant in group if self._waiting[tenant]]
            if not queues:
                continue
            merged = heapq.merge(*queues, key=_submission) if len(queues) > 1 else queues[0]
            for job in merged:
                if job.state is JobState.QUEUED:
                    yield job
                    chosen += 1
                    if chosen == count:
                        return

    def priority(self, tenant: str) -> float:
        """Recent use over weight: the lower, the sooner the tenant's jobs are served."""
        weight = self.tenants[tenant].weight if tenant in self.tenants else 1.0
        return self.usage.get(tenant, 0.0) / weight

    def rank(self, group: str) -> tuple[int, float]:
        """Where a queue of jobs is served: by priority tier (higher first; overflow jobs
        last), then by :meth:`priority`."""
        if group == OVERFLOW_GROUP:
            return (10**9, 0.0)
        return (-self.tiers.get(group, 0), self.priority(group))

    def _charge_running(self, factory: Factory) -> None:
        """Decay past usage to now and add what running jobs used since the last call."""
        now = factory.env.now
        decayed_at = self._decayed_at
        elapsed = now - decayed_at
        if elapsed <= 0:
            return
        decay = 0.5 ** (elapsed / FAIR_SHARE_HALF_LIFE_S)
        usage = self.usage
        for tenant in usage:
            usage[tenant] *= decay
        # Each tenant's running jobs in the order they started: the same additions, in the
        # same order, as over all running jobs (the hot loop: max() and lookups inlined).
        for tenant, jobs in factory.running_by_tenant.items():
            if not jobs:
                continue
            used = usage.get(tenant, 0.0)
            for job in jobs.values():
                start = job.start_s or now
                since = decayed_at if decayed_at > start else start  # max(start, decayed_at)
                used = used + job.accelerators * (now - since)
            usage[tenant] = used
        self._decayed_at = now


OVERFLOW_GROUP = "~overflow"
"""The queue of jobs over their programme's quota, served after every tenant's."""


def _submission(job: Job) -> tuple[float, int]:
    return (job.submit_s, job.id)


SCHEDULERS: dict[str, type[Scheduler]] = {
    "fcfs": FCFS,
    "easy_backfill": EasyBackfill,
    "greedy": Greedy,
    "fair_share": FairShare,
}
"""Scheduler classes by the name used in ``policies.scheduler``."""
