"""Access programmes: reserved shares lent while idle and reclaimed, quotas, tiers, prices.

A programme (``access.programmes`` in the config) covers tenant classes. At each site it
covers, ``reserved_share`` of every pool (rounded down) is its reserve: while its jobs have
queued demand there, nobody else may start into what it is owed (its reserve less what its
jobs hold, up to what they ask for); while they have none, others borrow it. Queued jobs that
fit into what it is owed start first, ahead of the site's scheduler, whatever that
scheduler's head is: a reserve is a partition of its own. When borrowers hold what such a
job needs, the reserve is reclaimed: ``preempt`` interrupts the borrowers' youngest runs
after ``reclaim_within`` (they keep their last checkpoint and go back to the queue, as after
a failure); ``wait`` lets them end. Jobs of higher ``priority`` tiers queue ahead of lower
ones. A quota bounds the accelerator-hours the programme's runs hold in each period
(:class:`QuotaLedger`); the runs it does not cover are *overflow* runs: outside the
programme, at the list price, behind every other job. Every run is charged its programme's
price per accelerator-hour, or the list price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import simpy

from twin.config.schema_access import Access, Programme
from twin.model.job import Job, JobState

if TYPE_CHECKING:
    from twin.model.factory import Factory, Pool

OVERFLOW_TIER = -(10**6)
"""The tier of overflow jobs: behind every programme's and every other tenant's jobs."""
ENTITLED_DEPTH = 500
"""Queued jobs of a programme an entitled pass looks at (as the backfill depth)."""
QUOTA_TOLERANCE_S = 1e-6


class QuotaLedger:
    """Accelerator-seconds a programme's runs are committed to, per quota period.

    A run is charged, when it starts, its accelerators × the part of its walltime that falls
    in each period it may span (jobs never run past their walltime); when it ends, what it
    did not use is given back. A run starts as the programme's only if every period it spans
    stays within the quota, so no period ever exceeds it.
    """

    def __init__(self, accelerator_hours: float, period_s: float) -> None:
        self.limit_s = accelerator_hours * 3600.0
        self.period_s = period_s
        self.committed: dict[int, float] = {}

    def _parts(
        self, accelerators: int, start_s: float, end_s: float
    ) -> Iterable[tuple[int, float]]:
        """(period, accelerator-seconds) of a run over [start_s, end_s)."""
        first = int(start_s // self.period_s)
        last = math.ceil(end_s / self.period_s) - 1 if end_s > start_s else first
        for k in range(first, max(first, last) + 1):
            lo, hi = max(start_s, k * self.period_s), min(end_s, (k + 1) * self.period_s)
            if hi > lo:
                yield k, accelerators * (hi - lo)

    def allows(self, accelerators: int, start_s: float, end_s: float) -> bool:
        return all(
            self.committed.get(k, 0.0) + part <= self.limit_s + QUOTA_TOLERANCE_S
            for k, part in self._parts(accelerators, start_s, end_s)
        )

    def charge(self, accelerators: int, start_s: float, end_s: float) -> None:
        for k, part in self._parts(accelerators, start_s, end_s):
            self.committed[k] = self.committed.get(k, 0.0) + part

    def refund(self, accelerators: int, start_s: float, planned_end_s: float, end_s: float) -> None:
        """Give back what a run charged for [start, planned end) but did not hold."""
        for k, part in self._parts(accelerators, end_s, planned_end_s):
            self.committed[k] -= part

    def used_s(self, period: int) -> float:
        return self.committed.get(period, 0.0)


class AccessPlan:
    """The scenario's programmes, network-wide: who belongs where, quotas and prices."""

    def __init__(self, env: simpy.Environment, access: Access) -> None:
        self.env = env
        self.access = access
        self.programmes: dict[str, Programme] = access.programmes
        self.programme_of: dict[str, str] = {
            tenant: name for name, p in access.programmes.items() for tenant in p.tenants
        }
        self.quotas: dict[str, QuotaLedger] = {
            name: QuotaLedger(p.quota.accelerator_hours, p.quota.period)
            for name, p in access.programmes.items()
            if p.quota is not None
        }
        self.sites: list[SiteAccess] = []
        self.quota_version = 0
        """Counts charges and refunds of any quota: a site sweeps its queue when it moved."""
        for name, ledger in self.quotas.items():
            env.process(self._release_held_each_period(name, ledger.period_s))

    def tier(self, tenant: str) -> int:
        name = self.programme_of.get(tenant)
        return self.programmes[name].priority if name is not None else 0

    def price(self, programme: str | None) -> float:
        """Per accelerator-hour, of a run charged to ``programme`` (None: the list price)."""
        if programme is not None:
            own = self.programmes[programme].price_eur_per_accelerator_hour
            if own is not None:
                return own
        return self.access.list_price_eur_per_accelerator_hour

    def quota_allows(self, job: Job, start_s: float) -> bool:
        """Whether a run of ``job`` from ``start_s`` to its walltime fits its quota."""
        ledger = self.quotas.get(job.programme) if job.programme else None
        return ledger is None or ledger.allows(
            job.accelerators, start_s, start_s + job.walltime_left_s
        )

    def quota_could_ever(self, job: Job) -> bool:
        """Whether a run of ``job`` fits an empty period (else only overflow can run it)."""
        ledger = self.quotas.get(job.programme) if job.programme else None
        if ledger is None:
            return True
        return job.accelerators * min(job.walltime_left_s, ledger.period_s) <= ledger.limit_s

    def totals(self, online_s: dict[str, float]) -> dict[str, dict]:
        """Per programme, for the run's manifest: its tenants, the accelerators its reserves
        hold, the accelerator-hours they entitle it to over the time each site was online
        (``online_s``), and per quota period the accelerator-hours charged to it (runs still
        going when the run ends: to their walltime)."""
        books: dict[str, dict] = {}
        for name, programme in self.programmes.items():
            reserved = {
                site.factory.id: sum(site.reserved[name].values())
                for site in self.sites
                if name in site.reserved
            }
            entitled_s = sum(n * online_s.get(site, 0.0) for site, n in reserved.items())
            book: dict = {
                "tenants": list(programme.tenants),
                "reserved_accelerators": sum(reserved.values()),
                "entitled_accelerator_hours": entitled_s / 3600.0,
            }
            ledger = self.quotas.get(name)
            if ledger is not None:
                periods = range(max(ledger.committed, default=-1) + 1)
                book["quota_accelerator_hours"] = ledger.limit_s / 3600.0
                book["quota_period_s"] = ledger.period_s
                book["charged_accelerator_hours"] = [ledger.used_s(k) / 3600.0 for k in periods]
            books[name] = book
        return books

    def _release_held_each_period(self, programme: str, period_s: float):
        """At each period boundary, held jobs may try again."""
        while True:
            yield self.env.timeout(period_s - self.env.now % period_s)
            self.release_held(programme)

    def release_held(self, programme: str) -> None:
        """Quota came free: held jobs queue again, queued ones that waited for it may start."""
        for site in self.sites:
            site.release_held(programme)
            if site.factory.online:
                site.factory.release_resources()


class SiteAccess:
    """What each programme is owed and holds at one site, and the passes that honour it."""

    def __init__(self, plan: AccessPlan, factory: Factory) -> None:
        self.plan = plan
        self.factory = factory
        self.reserved: dict[str, dict[str, int]] = {}
        """Programme → pool → reserved accelerators (programmes with a reserve here)."""
        for name, programme in plan.programmes.items():
            if programme.reserved_share <= 0:
                continue
            if programme.sites is not None and factory.id not in programme.sites:
                continue
            self.reserved[name] = {
                kind: math.floor(programme.reserved_share * pool.total + 1e-9)
                for kind, pool in factory.pools.items()
            }
        self.held: dict[str, dict[str, int]] = {n: {} for n in plan.programmes}
        """Accelerators of the runs charged to each programme, per pool."""
        self.queued: dict[str, dict[str, int]] = {n: {} for n in plan.programmes}
        """Accelerators asked for by each programme's queued jobs, per pool."""
        self.waiting: dict[str, list[Job]] = {n: [] for n in self.reserved}
        """Each reserved programme's queued jobs here, in queueing order (pruned lazily)."""
        self.on_hold: dict[str, list[Job]] = {n: [] for n in plan.quotas}
        """Jobs held out of the queue by their programme's quota (overflow ``wait``)."""
        self._reclaims_due: set[int] = set()
        self._swept = 0
        """The quota version this site's queue was last swept at."""
        plan.sites.append(self)

    # ------------------------------------------------------------ what is owed

    def owed(self, programme: str, pool: str) -> int:
        """What ``programme`` is owed on ``pool`` now: its reserve less what it holds, up to
        what its queued jobs ask for (nothing while it has no queued demand)."""
        reserve = self.reserved.get(programme, {}).get(pool, 0)
        gap = reserve - self.held[programme].get(pool, 0)
        return max(0, min(gap, self.queued[programme].get(pool, 0)))

    def charged_to(self, job: Job) -> str | None:
        """The programme a run of ``job`` starting now is charged to (None: overflow or no
        programme)."""
        if job.programme is None or job.overflow:
            return None
        return job.programme if self.plan.quota_allows(job, self.factory.env.now) else None

    def admits(self, job: Job, pool: Pool) -> bool:
        """Whether starting ``job`` on ``pool`` now leaves every other programme what it
        is owed there, and its own quota (overflow ``wait``) lets it run."""
        mine = self.charged_to(job)
        if job.programme is not None and mine is None and not job.overflow:
            quota = self.plan.programmes[job.programme].quota
            if quota is not None and quota.overflow == "wait":
                return False  # it waits in the queue until the quota allows it
        protected = 0
        for name in self.reserved:
            if name != mine:
                protected += self.owed(name, pool.accelerator)
        return pool.free - job.accelerators >= protected

    # ------------------------------------------------------------ bookkeeping

    def job_queued(self, job: Job, sign: int) -> None:
        """A job of a programme joined (+1) or left (−1) this site's queue."""
        if job.programme is None or job.overflow:
            return
        per_pool = self.queued[job.programme]
        per_pool[job.accelerator] = per_pool.get(job.accelerator, 0) + sign * job.accelerators
        if sign > 0 and job.programme in self.waiting:
            self.waiting[job.programme].append(job)

    def run_started(self, job: Job) -> None:
        """Charge the run to its programme (quota, held accelerators) or to overflow."""
        now = self.factory.env.now
        job.charged_programme = self.charged_to(job)
        job.price_eur_per_accelerator_hour = self.plan.price(job.charged_programme)
        if job.charged_programme is None:
            return
        per_pool = self.held[job.charged_programme]
        per_pool[job.accelerator] = per_pool.get(job.accelerator, 0) + job.accelerators
        ledger = self.plan.quotas.get(job.charged_programme)
        if ledger is not None:
            ledger.charge(job.accelerators, now, job.planned_end_s)
            self.plan.quota_version += 1

    def run_ended(self, job: Job) -> None:
        """Give back the run's accelerators and the quota it did not use."""
        programme = job.charged_programme
        job.charged_programme = None
        if programme is None:
            return
        self.held[programme][job.accelerator] -= job.accelerators
        ledger = self.plan.quotas.get(programme)
        if ledger is not None:
            now = self.factory.env.now
            ledger.refund(job.accelerators, job.segment_start_s, job.planned_end_s, now)
            self.plan.quota_version += 1
            if now < job.planned_end_s:  # after the caller's own release, not inside it
                plan = self.plan
                self.factory.env.timeout(0).callbacks.append(lambda _: plan.release_held(programme))

    # ------------------------------------------------------------ quota

    def divert(self, job: Job) -> bool:
        """Before ``job`` joins the queue: a programme job over its quota is held (True:
        do not queue it) or becomes an overflow job (low_priority) behind everyone."""
        if job.programme is None or job.overflow or job.programme not in self.plan.quotas:
            return False
        if self.plan.quota_allows(job, self.factory.env.now):
            return False
        quota = self.plan.programmes[job.programme].quota
        assert quota is not None
        if quota.overflow == "low_priority" or not self.plan.quota_could_ever(job):
            job.overflow = True
            job.tier = OVERFLOW_TIER
            return False
        self.on_hold[job.programme].append(job)
        job.state = JobState.HELD
        return True

    def held_jobs(self) -> list[Job]:
        """The jobs held out of this site's queue by a quota now."""
        return [job for held in self.on_hold.values() for job in held if job.state is JobState.HELD]

    def sweep_quota(self) -> None:
        """Queued programme jobs whose quota was spent since they queued are held (or become
        overflow jobs), so that none waits at the head of a queue for quota."""
        plan = self.plan
        if not plan.quotas or self._swept == plan.quota_version:
            return
        self._swept = plan.quota_version
        now = self.factory.env.now
        spent = [
            job
            for job in self.factory.queue
            if job.programme in plan.quotas and not job.overflow and not plan.quota_allows(job, now)
        ]
        for job in spent:
            self.factory.divert_queued(job)

    def release_held(self, programme: str) -> None:
        """Held jobs of ``programme`` try to join the queue again (in the order held)."""
        held = self.on_hold.get(programme)
        if not held:
            return
        self.on_hold[programme] = []
        for job in held:
            if job.state is JobState.HELD:
                self.factory.requeue_held(job)

    # ------------------------------------------------------------ passes

    def start_entitled(self) -> None:
        """Start queued programme jobs that fit into what their programme is owed here, in
        queueing order, ahead of the scheduler; ask for a reclaim where borrowers hold it."""
        self.sweep_quota()
        factory = self.factory
        for name, waiting in self.waiting.items():
            if not waiting:
                continue
            seen: set[int] = set()
            kept = []
            for job in waiting:  # a job requeued after an interruption appears twice
                if job.id not in seen and self._queued_here(job):
                    seen.add(job.id)
                    kept.append(job)
            self.waiting[name] = kept
            for job in kept[:ENTITLED_DEPTH]:
                if job.state is not JobState.QUEUED:
                    continue
                reserve = self.reserved[name].get(job.accelerator, 0)
                gap = reserve - self.held[name].get(job.accelerator, 0)
                if job.accelerators > gap or self.charged_to(job) != name:
                    continue
                if factory.fits_now(job):
                    factory.start(job)
                elif self.plan.programmes[name].reclaim == "preempt":
                    self._reclaim_later(job, name)

    def _queued_here(self, job: Job) -> bool:
        return job.state is JobState.QUEUED and job.site == self.factory.id and not job.overflow

    def _reclaim_later(self, job: Job, programme: str) -> None:
        """Preempt borrowers for ``job`` once the grace has passed, if it still waits."""
        if job.id in self._reclaims_due:
            return
        self._reclaims_due.add(job.id)
        grace_s = self.plan.programmes[programme].reclaim_within
        env = self.factory.env
        env.timeout(grace_s).callbacks.append(lambda _: self._reclaim(job, programme))

    def _reclaim(self, job: Job, programme: str) -> None:
        self._reclaims_due.discard(job.id)
        factory = self.factory
        if job.state is not JobState.QUEUED or job.site != factory.id or not factory.online:
            return
        gap = self.reserved[programme].get(job.accelerator, 0) - self.held[programme].get(
            job.accelerator, 0
        )
        if job.accelerators > gap or factory.fits_now(job):
            factory.release_resources()
            return
        for borrower in self._borrowers(programme, job.accelerator):
            factory.preempt(borrower)
            if factory.fits_now(job):
                break
        factory.release_resources()

    def _borrowers(self, programme: str, pool: str) -> list[Job]:
        """Runs on ``pool`` that hold what ``programme`` is owed: those of no programme (or
        overflow) and those of programmes beyond their own reserve, youngest first."""
        held = dict(self.held_on(pool))
        runs = [job for job in self.factory.running.values() if job.accelerator == pool]
        runs.sort(key=lambda job: (-job.segment_start_s, -job.id))
        chosen = []
        for run in runs:
            other = run.charged_programme
            if other == programme:
                continue
            if other is not None:
                reserve = self.reserved.get(other, {}).get(pool, 0)
                if held[other] - run.accelerators < reserve:
                    continue  # it runs within its own programme's reserve
                held[other] -= run.accelerators
            chosen.append(run)
        return chosen

    def held_on(self, pool: str) -> Iterable[tuple[str, int]]:
        return ((name, per_pool.get(pool, 0)) for name, per_pool in self.held.items())
