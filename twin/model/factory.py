"""A factory (site): accelerator pools behind a facility power cap, a queue and a scheduler.

Facility power is ``(idle_w × idle accelerators + tdp_w × busy accelerators) × PUE``. A job
starts only if its accelerators are free *and* its extra power fits under the cap; otherwise
it waits in the queue, and the site's scheduler decides who starts when resources free up.
Energy, CO2 and cost are integrated exactly between changes of power over the site's grid
series (:mod:`twin.model.grid`: constants, daily profiles or hourly years of carbon intensity
and price); the cap itself may follow a schedule (:mod:`twin.model.power_cap`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import simpy

from twin.config.schema import Accelerator, Site
from twin.model.calendar import Calendar
from twin.model.checkpointing import Progress, completed, interrupted, young_daly_interval_s
from twin.model.grid import SiteGrid
from twin.model.job import Job, JobState
from twin.model.recorder import Recorder

if TYPE_CHECKING:
    from twin.model.access import SiteAccess
    from twin.model.schedulers import Scheduler


class StartListener(Protocol):
    def job_started(self, job: Job, factory: Factory) -> None: ...


class FailureSource(Protocol):
    """What a factory asks of the fault model (:class:`twin.model.faults.FaultModel`)."""

    def failure_rate_per_s(self, accelerator: str) -> float: ...

    def time_to_failure_s(self, job: Job) -> float: ...

    def restart_overhead_s(self) -> float: ...

    def accelerator_failed(self, job: Job, factory: Factory, pool: Pool, lost_s: float) -> None: ...


J_PER_MWH = 3.6e9
J_PER_KWH = 3.6e6
POWER_TOLERANCE = 1e-9


@dataclass
class Pool:
    """Accelerators of one type at a site."""

    accelerator: str
    spec: Accelerator
    total: int
    free: int
    idle_facility_w: float
    """Facility power of one idle accelerator (idle_w × PUE)."""
    busy_extra_w: float
    """Extra facility power when one accelerator is busy ((tdp_w − idle_w) × PUE)."""
    busy_facility_w: float
    """Facility power of one busy accelerator (tdp_w × PUE): what a job is charged."""
    largest_job: int = 0
    """Most accelerators one job can hold here: pool size, or fewer if the power cap binds."""
    waiting: int = 0
    """Accelerators asked for by jobs queued or staging for this pool."""
    broken: int = 0
    """Accelerators out of service until repaired (neither free nor busy)."""
    spares: int = 0
    """Hot spares left to replace a failed accelerator at once."""

    def load(self) -> float:
        """Accelerators busy, broken or waited for, per accelerator of the pool."""
        return (self.total - self.free + self.waiting) / self.total

    @property
    def busy(self) -> int:
        return self.total - self.free - self.broken


class EnergyMeter:
    """Integrates facility power, busy accelerators, CO2, cost and the time the draw is over
    the power cap, exactly, over the site's grid series."""

    def __init__(self, grid: SiteGrid) -> None:
        self.carbon = grid.carbon
        self.price = grid.price
        carbon, price = self.carbon.constant, self.price.constant
        self._constant = (carbon, price) if carbon is not None and price is not None else None
        """Carbon intensity and price when neither follows a series (the common case,
        integrated inline: the same arithmetic as :meth:`StepSeries.integral`)."""
        self.cap_w = grid.cap_mw.value(0.0) * 1e6
        self.last_s = 0.0
        self.power_w = 0.0
        self.busy = 0
        self.energy_j = 0.0
        self.co2_g = 0.0
        self.cost_eur = 0.0
        self.busy_accelerator_s = 0.0
        self.over_cap_s = 0.0

    def update(self, now: float, power_w: float, busy: int) -> None:
        """Account the time since the last update at the old level, then switch to the new."""
        self.advance(now)
        self.power_w = power_w
        self.busy = busy

    def set_cap(self, now: float, cap_w: float) -> None:
        """The power cap changes now (the time before it counted against the old cap)."""
        self.advance(now)
        self.cap_w = cap_w

    def advance(self, now: float) -> None:
        dt = now - self.last_s
        if dt <= 0.0:
            return
        power_w = self.power_w
        if power_w > 0.0:
            self.energy_j += power_w * dt
            if self._constant is not None:
                carbon, price = self._constant
                self.co2_g += power_w / J_PER_KWH * (carbon * dt)
                self.cost_eur += power_w / J_PER_MWH * (price * dt)
            else:
                self.co2_g += power_w / J_PER_KWH * self.carbon.integral(self.last_s, now)
                self.cost_eur += power_w / J_PER_MWH * self.price.integral(self.last_s, now)
            if power_w > self.cap_w * (1 + POWER_TOLERANCE):
                self.over_cap_s += dt
        self.busy_accelerator_s += self.busy * dt
        self.last_s = now


class Factory:
    """A site: pools, power cap, queue, running jobs; its scheduler picks who starts."""

    def __init__(
        self,
        env: simpy.Environment,
        site: Site,
        catalogue: dict[str, Accelerator],
        calendar: Calendar,
        scheduler: Scheduler,
        recorder: Recorder,
        grid: SiteGrid,
    ) -> None:
        self.env = env
        self.site = site
        self.id = site.id
        self.calendar = calendar
        self.scheduler = scheduler
        self.recorder = recorder
        self.pools: dict[str, Pool] = {}
        for pool in site.pools:
            spec = catalogue[pool.accelerator]
            existing = self.pools.get(pool.accelerator)
            count = pool.count + (existing.total if existing else 0)
            self.pools[pool.accelerator] = Pool(
                accelerator=pool.accelerator,
                spec=spec,
                total=count,
                free=count,
                idle_facility_w=spec.idle_power_w * site.pue,
                busy_extra_w=(spec.tdp_w - spec.idle_power_w) * site.pue,
                busy_facility_w=spec.tdp_w * site.pue,
            )
        self._pool_list = list(self.pools.values())
        self.total_accelerators = sum(p.total for p in self.pools.values())
        self.busy_accelerators = 0
        self.grid = grid
        self.cap_mw = grid.cap_mw.value(0.0)
        """The facility power cap in effect now (it may follow a schedule: see
        :mod:`twin.model.power_cap`)."""
        self.cap_w = self.cap_mw * 1e6
        self.idle_w = sum(p.total * p.idle_facility_w for p in self.pools.values())
        peak_w = grid.peak_cap_mw * 1e6
        for pool in self.pools.values():
            headroom = peak_w * (1 + POWER_TOLERANCE) - self.idle_w
            by_power = int(headroom // pool.busy_extra_w) if pool.busy_extra_w > 0 else pool.total
            pool.largest_job = max(0, min(pool.total, by_power))
        self._pools_by_speed = sorted(
            self.pools.values(), key=lambda pool: (-pool.spec.speed, pool.accelerator)
        )
        self.power_w = 0.0
        self.online = False
        self.queue: list[Job] = []
        self.queued_accelerators = 0
        self.staging: dict[int, Job] = {}
        """Jobs placed here whose datasets are still on their way."""
        self.staging_accelerators = 0
        self.start_listeners: list[StartListener] = []
        self.open_listeners: list[Callable[[Factory], None]] = []
        """Called when the site opens, and again whenever it comes back from an outage."""
        self.down_listeners: list[Callable[[Factory], None]] = []
        """Called when the site goes down (an outage)."""
        self.faults: FailureSource | None = None
        self.move_when_down: Callable[[Job], None] | None = None
        """Where jobs queued at (or interrupted by) an outage of this site go, if they move
        rather than wait for it (the broker places them again)."""
        self.opened = False
        self.up_since_s = 0.0
        """When it last came online (opened, or back from an outage)."""
        """Whether its opening time has come (it may still be down: an outage)."""
        self.outages = 0
        """Outages under way here (they may overlap: the site is down while any is)."""
        self.down_s = 0.0
        """Time it was down, before the current outage."""
        self._down_since: float | None = None
        """When the current outage took it down (None: up, or not open yet)."""
        self.reserved_accelerators = 0
        """Accelerators held by standing reservations (inference replicas)."""
        self.running: dict[int, Job] = {}
        self.running_by_tenant: dict[str, dict[int, Job]] = {}
        """The running jobs of each tenant, in the order they started (as in ``running``)."""
        self.running_ends: list[tuple[float, int, Job]] = []
        """The running jobs as (start + walltime, id, job), sorted: when each must end at the
        latest (what a backfilling reservation plans with), kept in order as jobs start and
        end rather than sorted per decision."""
        self.meter = EnergyMeter(grid)
        self.access: SiteAccess | None = None
        """The access programmes' reserves, tiers and quotas here (None: no programmes)."""

    # ------------------------------------------------------------ state

    def load(self) -> float:
        """Accelerators busy or asked for by queued or staging jobs, per installed accelerator."""
        demand = self.busy_accelerators + self.queued_accelerators + self.staging_accelerators
        return demand / self.total_accelerators

    def carbon_now(self) -> float:
        return self.carbon_at(self.env.now)

    def price_now(self) -> float:
        return self.price_at(self.env.now)

    def carbon_at(self, time_s: float) -> float:
        """Grid carbon intensity at ``time_s`` (gCO2/kWh)."""
        return self.grid.carbon.value(time_s)

    def price_at(self, time_s: float) -> float:
        """Electricity price at ``time_s`` (EUR/MWh)."""
        return self.grid.price.value(time_s)

    def carbon_integral(self, t0: float, t1: float) -> float:
        """∫ carbon intensity dt over [t0, t1] (gCO2/kWh × s)."""
        return self.grid.carbon.integral(t0, t1)

    def price_integral(self, t0: float, t1: float) -> float:
        """∫ price dt over [t0, t1] (EUR/MWh × s)."""
        return self.grid.price.integral(t0, t1)

    def set_power_cap(self, cap_mw: float) -> None:
        """The facility power cap changes now. Running jobs keep running (a cap below the
        draw only stops new starts until the draw fits; the time over it is metered); a
        higher cap lets queued work start."""
        cap_w = cap_mw * 1e6
        self.meter.set_cap(self.env.now, cap_w)
        raised = cap_w > self.cap_w
        self.cap_mw, self.cap_w = cap_mw, cap_w
        self.recorder.event(self.env.now, "power_cap", site=self.id, value=cap_mw)
        if raised and self.online:
            self.release_resources()

    # ------------------------------------------------------------ feasibility

    def pools_for(self, job: Job) -> list[Pool]:
        """The pools that could ever hold this job here, fastest first."""
        return [
            pool
            for pool in self._pools_by_speed
            if job.accelerators <= pool.largest_job
            and (job.allowed_types is None or pool.accelerator in job.allowed_types)
        ]

    def extra_power_w(self, job: Job) -> float:
        return job.accelerators * self.pools[job.accelerator].busy_extra_w

    def fits_now(self, job: Job) -> bool:
        """Whether the queued job could start at once on its pool."""
        return self.fits_now_on(job, self.pools[job.accelerator])

    def fits_now_on(self, job: Job, pool: Pool) -> bool:
        """Whether the job could start at once on ``pool``: accelerators free, power allows."""
        return (
            self.online
            and pool.free >= job.accelerators
            and self.power_w + job.accelerators * pool.busy_extra_w
            <= self.cap_w * (1 + POWER_TOLERANCE)
            and (self.access is None or self.access.admits(job, pool))
        )

    # ------------------------------------------------------------ life cycle

    def open(self) -> None:
        """The site comes online: idle power starts, queued work may start (when an outage
        holds it down at its opening, once the outage ends)."""
        self.opened = True
        if self.outages > 0:
            return
        self.online = True
        self.up_since_s = self.env.now
        self._power_changed()
        self.recorder.event(
            self.env.now, "site_online", site=self.id, value=self.total_accelerators
        )
        for listener in self.open_listeners:
            listener(self)
        self.release_resources()

    def release_resources(self) -> None:
        """Resources freed up (or the site opened): programme jobs owed a reserve start
        first, then the scheduler decides."""
        if self.access is not None:
            self.access.start_entitled()
        self.scheduler.on_release(self)

    def reserve(self, pool: Pool, count: int) -> bool:
        """Hold ``count`` accelerators of ``pool`` outside the job queue (e.g. an inference
        replica), if they are free and their power fits under the cap now."""
        if not self.online or pool.free < count:
            return False
        if self.power_w + count * pool.busy_extra_w > self.cap_w * (1 + POWER_TOLERANCE):
            return False
        pool.free -= count
        self.busy_accelerators += count
        self.reserved_accelerators += count
        self._power_changed()
        return True

    def release(self, pool: Pool, count: int) -> None:
        """Give back accelerators held by :meth:`reserve`; queued jobs may start."""
        pool.free += count
        self.busy_accelerators -= count
        self.reserved_accelerators -= count
        self._power_changed()
        self.release_resources()

    def submit(self, job: Job, pool: Pool, data_ready: simpy.Event | None = None) -> None:
        """Take a job placed here by the broker: queue it now, or once its data has arrived."""
        job.site = self.id
        job.accelerator = pool.accelerator
        job.speed = pool.spec.speed
        if job.checkpoint_young_daly:
            rate = self.faults.failure_rate_per_s(pool.accelerator) if self.faults else 0.0
            mtbf_s = 1.0 / (job.accelerators * rate) if rate > 0 else math.inf
            interval = young_daly_interval_s(job.checkpoint_cost_s, mtbf_s)
            job.checkpoint_interval_s = None if interval == math.inf else max(60.0, interval)
        pool.waiting += job.accelerators
        self.recorder.event(self.env.now, "place", site=self.id, job=job.id, value=job.accelerators)
        if data_ready is None:
            self._enqueue(job)
            return
        job.state = JobState.STAGING
        self.staging[job.id] = job
        self.staging_accelerators += job.accelerators
        placed_s = self.env.now
        data_ready.callbacks.append(lambda _: self._staged(job, placed_s))

    def _staged(self, job: Job, placed_s: float) -> None:
        del self.staging[job.id]
        self.staging_accelerators -= job.accelerators
        job.staging_s = self.env.now - placed_s
        self.recorder.event(self.env.now, "stage", site=self.id, job=job.id, value=job.staging_s)
        self._enqueue(job)

    def _enqueue(self, job: Job, patience: bool = True) -> None:
        if not self.online and self.outages > 0 and self.move_when_down is not None:
            self.pools[job.accelerator].waiting -= job.accelerators
            job.state = JobState.SUBMITTED
            self.move_when_down(job)  # its data arrived at a site that went down meanwhile
            return
        if self.access is not None and self.access.divert(job):
            if patience and job.patience_s is not None:
                self.env.timeout(job.patience_s).callbacks.append(
                    lambda _: self._lose_patience(job)
                )
            return  # held by its programme's quota
        self._join_queue(job, front=False)
        if patience and job.patience_s is not None:
            self.env.timeout(job.patience_s).callbacks.append(lambda _: self._lose_patience(job))
        if self.access is not None:
            self.access.start_entitled()
        if job.state is JobState.QUEUED:
            self.scheduler.on_submit(self, job)

    def _join_queue(self, job: Job, front: bool) -> None:
        """Into the queue: at the back (or the front) of its priority tier."""
        job.state = JobState.QUEUED
        queue = self.queue
        if self.access is None:
            queue.insert(0 if front else len(queue), job)
        else:
            find = bisect.bisect_left if front else bisect.bisect_right
            queue.insert(find(queue, -job.tier, key=_tier_key), job)
            self.access.job_queued(job, +1)
        self.queued_accelerators += job.accelerators

    def _leave_queue(self, job: Job) -> None:
        self.queue.remove(job)
        self.queued_accelerators -= job.accelerators
        if self.access is not None:
            self.access.job_queued(job, -1)

    def divert_queued(self, job: Job) -> None:
        """A queued job's programme quota is spent: it is held out of the queue, or goes to
        the back of it as an overflow job."""
        self._leave_queue(job)
        assert self.access is not None
        if not self.access.divert(job):
            self._join_queue(job, front=False)
            self.scheduler.on_requeue(self, job)

    def requeue_held(self, job: Job) -> None:
        """A job its programme's quota held may queue again (its patience already runs)."""
        self._enqueue(job, patience=False)

    def start(self, job: Job) -> None:
        """Start a queued job now (the scheduler has checked :meth:`fits_now`): it runs its
        plan (:meth:`Job.plan`) unless an accelerator failure or an outage interrupts it."""
        now = self.env.now
        pool = self.pools[job.accelerator]
        pool.free -= job.accelerators
        pool.waiting -= job.accelerators
        self.busy_accelerators += job.accelerators
        self._power_changed()
        self._leave_queue(job)
        job.state = JobState.RUNNING
        if job.start_s is None:
            job.start_s = now
        segment = job.plan()
        job.segment = segment
        job.segment_start_s = now
        job.run_token += 1
        token = job.run_token
        job.planned_end_s = now + job.walltime_left_s
        if self.access is not None:
            self.access.run_started(job)
        self.running[job.id] = job
        self.running_by_tenant.setdefault(job.tenant, {})[job.id] = job
        bisect.insort(self.running_ends, (job.planned_end_s, job.id, job))
        self.recorder.event(now, "start", site=self.id, job=job.id, value=job.accelerators)
        failure_in_s = math.inf if self.faults is None else self.faults.time_to_failure_s(job)
        if failure_in_s < segment.duration_s:
            self.env.timeout(failure_in_s).callbacks.append(
                lambda _: self._accelerator_failed(job, token)
            )
        else:
            self.env.timeout(segment.duration_s).callbacks.append(
                lambda _: self._finish(job, token)
            )
        for listener in self.start_listeners:
            listener.job_started(job, self)

    def _end_run(self, job: Job, progress: Progress) -> Pool:
        """Take a running job off its accelerators, booking where its run's time went."""
        pool = self.pools[job.accelerator]
        pool.free += job.accelerators
        self.busy_accelerators -= job.accelerators
        self._power_changed()
        del self.running[job.id]
        del self.running_by_tenant[job.tenant][job.id]
        ends = self.running_ends
        del ends[bisect.bisect_left(ends, (job.planned_end_s, job.id))]  # type: ignore[operator]
        job.busy_s += self.env.now - job.segment_start_s
        job.useful_s += progress.useful_s
        job.lost_work_s += progress.lost_s
        job.checkpoint_s += progress.checkpoint_s
        job.restart_s += progress.restart_s
        job.saved_work_s += progress.useful_s * job.speed
        job.run_token += 1
        job.segment = None
        self._charge(job, pool, job.segment_start_s, self.env.now)
        if self.access is not None:
            self.access.run_ended(job)
        return pool

    def _finish(self, job: Job, token: int) -> None:
        if job.run_token != token:
            return  # that run was interrupted
        assert job.segment is not None
        self._end_run(job, completed(job.segment))
        job.saved_work_s = job.target_work_s
        job.end_s = self.env.now
        job.state = JobState.FAILED if job.fail_fraction is not None else JobState.COMPLETED
        self.recorder.event(
            self.env.now, job.state.value, site=self.id, job=job.id, value=job.accelerators
        )
        self.recorder.job_ended(job)
        self.release_resources()

    # ------------------------------------------------------------ faults

    def _accelerator_failed(self, job: Job, token: int) -> None:
        if job.run_token != token:
            return
        pool, progress = self.interrupt(job, "accelerator_failure")
        assert self.faults is not None
        self.faults.accelerator_failed(job, self, pool, progress.lost_s)
        self.release_resources()

    def interrupt(self, job: Job, cause: str) -> tuple[Pool, Progress]:
        """Stop a running job: it keeps the work of its last completed checkpoint, pays a
        restart overhead at its next start, and goes back to the front of this site's queue
        (the next to get a reservation), or to the broker if the site is down and jobs
        move. The caller lets the scheduler act afterwards."""
        assert job.segment is not None
        progress = interrupted(job.segment, self.env.now - job.segment_start_s)
        pool = self._end_run(job, progress)
        job.restarts += 1
        job.restart_overhead_s = self.faults.restart_overhead_s() if self.faults else 0.0
        self.recorder.event(
            self.env.now, f"interrupt_{cause}", site=self.id, job=job.id, value=progress.lost_s
        )
        self._requeue(job, pool, front=True)
        return pool, progress

    def _requeue(self, job: Job, pool: Pool, front: bool) -> None:
        """Back in this queue (no new patience timer), or to the broker when down and moving."""
        if not self.online and self.move_when_down is not None:
            job.state = JobState.SUBMITTED
            self.move_when_down(job)
            return
        pool.waiting += job.accelerators
        self._join_queue(job, front)
        self.scheduler.on_requeue(self, job)

    def preempt(self, job: Job) -> None:
        """Interrupt a running job to give its accelerators back to a programme's reserve
        (as a failure would: it keeps its last checkpoint and is requeued); the caller lets
        the scheduler act afterwards."""
        job.preemptions += 1
        self.interrupt(job, "preemption")

    def break_accelerator(self, pool: Pool) -> bool:
        """One accelerator of ``pool`` fails: a spare takes its place if one is left (True),
        else it is out of service until :meth:`repair` (False)."""
        if pool.spares > 0:
            pool.spares -= 1
            return True
        pool.free -= 1
        pool.broken += 1
        return False

    def repair(self, pool: Pool, spare: bool) -> None:
        """A failed accelerator is back: as a spare again, or in service."""
        if spare:
            pool.spares += 1
            return
        pool.broken -= 1
        pool.free += 1
        self.release_resources()

    def go_down(self) -> bool:
        """An outage begins (or another one while down): the site stops taking work and
        draws no power. True if it was up; then :meth:`stop_work` must follow, once every
        site of the outage is down (so that no job moves to a site about to go down too)."""
        self.outages += 1
        if self.outages > 1 or not self.online:
            return False
        self.online = False
        self._down_since = self.env.now
        self._power_changed()
        for listener in self.down_listeners:  # the broker stops placing here
            listener(self)
        return True

    def stop_work(self) -> list[Job]:
        """Interrupt the running jobs of a site that went down; its queued jobs move to the
        broker if jobs move. Returns the jobs it interrupted."""
        hit = sorted(self.running.values(), key=lambda job: job.id)
        for job in hit:
            self.interrupt(job, "site_outage")
        if self.move_when_down is not None:
            queued = list(self.queue)
            for job in queued:
                self._leave_queue(job)
                self.pools[job.accelerator].waiting -= job.accelerators
                job.state = JobState.SUBMITTED
                self.move_when_down(job)
        self._power_changed()
        self.recorder.event(self.env.now, "site_down", site=self.id, value=len(hit))
        return hit

    def come_back(self) -> None:
        """An outage ends; the site is up again when no other outage holds it down (and it
        has opened: one that opened during the outage opens now)."""
        self.outages -= 1
        if self.outages > 0 or self.online or not self.opened:
            return
        if self._down_since is None:
            self.open()
            return
        self.down_s += self.env.now - self._down_since
        self._down_since = None
        self.online = True
        self.up_since_s = self.env.now
        self._power_changed()
        self.recorder.event(self.env.now, "site_up", site=self.id, value=self.total_accelerators)
        for listener in self.open_listeners:
            listener(self)
        self.release_resources()

    def close_books(self) -> None:
        """The run ends: book the runs still going up to now (their compute so far counts as
        useful: nothing interrupted it; their energy, CO2 and cost so far are charged, as the
        time they held their accelerators is), without ending them."""
        now = self.env.now
        for job in self.running.values():
            assert job.segment is not None
            progress = interrupted(job.segment, now - job.segment_start_s)
            self._charge(job, self.pools[job.accelerator], job.segment_start_s, now)
            job.busy_s += now - job.segment_start_s
            job.useful_s += progress.useful_s + progress.lost_s
            job.checkpoint_s += progress.checkpoint_s
            job.restart_s += progress.restart_s
            job.segment_start_s = now
            job.segment = None

    def downtime_s(self, now: float) -> float:
        """Time it was down up to ``now`` (the current outage included)."""
        current = now - self._down_since if self._down_since is not None else 0.0
        return self.down_s + current

    def _power_changed(self) -> None:
        """Recompute power from the pools (no drift from running sums) and meter the change.
        A site that is down (an outage) draws nothing."""
        if not self.online and self.outages > 0:
            self.power_w = 0.0
            self.meter.update(self.env.now, 0.0, 0)
            return
        pools = self._pool_list
        if len(pools) == 1:  # sum() of one float is that float
            pool = pools[0]
            busy_extra = (pool.total - pool.free - pool.broken) * pool.busy_extra_w
        else:
            busy_extra = sum(
                [(pool.total - pool.free - pool.broken) * pool.busy_extra_w for pool in pools]
            )
        self.power_w = self.idle_w + busy_extra
        self.meter.update(self.env.now, self.power_w, self.busy_accelerators)

    def _charge(self, job: Job, pool: Pool, start_s: float, end_s: float) -> None:
        """Add the energy, CO2 and cost of the job's accelerators over one of its runs."""
        power_w = job.accelerators * pool.busy_facility_w
        job.energy_mwh += power_w * (end_s - start_s) / J_PER_MWH
        carbon = self.carbon_integral(start_s, end_s)
        price = self.price_integral(start_s, end_s)
        job.co2_t += power_w / J_PER_KWH * carbon / 1e6
        job.cost_eur += power_w / J_PER_MWH * price
        if job.price_eur_per_accelerator_hour is not None:
            hours = job.accelerators * (end_s - start_s) / 3600.0
            job.spend_eur += hours * job.price_eur_per_accelerator_hour

    def _lose_patience(self, job: Job) -> None:
        """Patience counts from the job's first queueing at this site (an outage that
        moves it elsewhere starts the count again there)."""
        if job.state not in _PATIENT or job.site != self.id or job.restarts:
            return
        if job.state is JobState.QUEUED:
            self._leave_queue(job)  # a held job is in no queue
        self.pools[job.accelerator].waiting -= job.accelerators
        job.state = JobState.CANCELLED
        job.reason = f"waited longer than its patience of {job.patience_s:.0f} s"
        job.end_s = self.env.now
        self.recorder.event(
            self.env.now, "cancel", site=self.id, job=job.id, value=job.accelerators
        )
        self.recorder.job_ended(job)
        self.release_resources()


_PATIENT = (JobState.QUEUED, JobState.HELD)
"""The states in which a job may lose patience."""


def _tier_key(job: Job) -> int:
    """The queue is kept in order of this: higher priority tiers first."""
    return -job.tier
