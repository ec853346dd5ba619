"""One service at one site: its replicas (llm banks or single servers), scaling and
draining, and each window's arrivals served through the queueing kernels."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from twin.config.schema import Service
from twin.kernels.batching_bank import ReplicaBank
from twin.kernels.completions import Pending, complete, llm_served
from twin.kernels.dealing import REGION_BITS, deal
from twin.kernels.queueing import (
    N_STATS,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_GAP_SUM,
    STAT_GAPS,
    STAT_ITERATIONS,
    STAT_PREEMPTIONS,
    BatchingParams,
    BatchingResult,
    fcfs_multiserver_limited,
    make_queue_state,
)
from twin.kernels.sketch import BUCKETS, sketch, sparse
from twin.kernels.window_stats import categorical, percentiles_ms
from twin.model.factory import Factory, Pool
from twin.model.fluid import FluidWindow
from twin.model.iteration import IterationModel
from twin.model.paged_kv import kv_paging
from twin.model.request_trace import TracedRequests
from twin.trace.sketches import quantiles_s

if TYPE_CHECKING:
    from twin.model.inference import ServiceModel

_NO_TIMES = np.zeros(0)
_NO_IDS = np.zeros(0, dtype=np.int64)
NO_REQUESTS = TracedRequests(_NO_TIMES, _NO_IDS, _NO_IDS, _NO_IDS, _NO_TIMES)
"""A window with no traced requests."""


# ---------------------------------------------------------------- per-window results


@dataclass
class WindowResult:
    """What one service × site did in one window (latencies in seconds, RTT included)."""

    arrivals: int = 0
    arrival_regions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dropped: int = 0
    dropped_regions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    served_regions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    latency: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ttft: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tpot: np.ndarray = field(default_factory=lambda: np.zeros(0))
    missed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    in_system: int = 0
    mean_batch: float = math.nan
    busy: float = 0.0
    prompt_tokens: int | None = None
    """Σ prompt tokens of the window's arrivals (llm)."""
    output_tokens: int | None = None
    """Σ output tokens of the window's arrivals (llm)."""
    preemptions: int | None = None
    """Running requests preempted for want of KV blocks (llm, paged KV; else None)."""
    tbt: TokenGaps | None = None
    """The gaps between the output tokens produced in the window (llm; else None)."""
    sched_delay: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Arrival to first admission of each served request [s] (llm; no round trip)."""


_MEDIAN_AND_P99 = np.array([50.0, 99.0])
RECORDED_QUANTILES = (_MEDIAN_AND_P99, _MEDIAN_AND_P99, np.array([50.0, 95.0, 99.0]))
"""The percentiles recorded of TTFT, TPOT and latency (the columns of inference.arrow)."""
NO_SKETCHES = (None,) * 10
"""The sketch columns of a window with no latencies to count (``fluid``)."""
NO_MEANS = (None,) * 9
"""The means, TBT and scheduling-delay columns of a window without them (``fluid``)."""


def _mean_ms(values: np.ndarray) -> float | None:
    """The mean of the finite values [s], in ms; None if there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) * 1000 if len(finite) else None


def latency_columns(result: WindowResult) -> tuple:
    """The latency columns of a window's row of inference.arrow: the recorded percentiles of
    TTFT, TPOT and latency [ms]; their means; TBT's median, 99th percentile (from its sketch)
    and mean; the scheduling delay's median, 99th percentile and mean; then the sketches of
    TTFT, TPOT, latency, TBT and scheduling delay (bins, counts; None where empty)."""
    sched = result.sched_delay
    latencies = (result.ttft, result.tpot, result.latency)
    recorded = percentiles_ms((*latencies, sched), (*RECORDED_QUANTILES, _MEDIAN_AND_P99))
    columns: list = recorded[:-2]
    columns += [_mean_ms(v) for v in latencies]
    gaps = result.tbt
    tbt_dense = gaps.dense if gaps is not None else None
    if gaps is not None and gaps.gaps:
        p50, p99 = quantiles_s(tbt_dense, (0.5, 0.99))
        columns += [p50 * 1000, p99 * 1000, gaps.sum_s / gaps.gaps * 1000]
    else:
        columns += [None, None, None]
    columns += [*recorded[-2:], _mean_ms(sched)]
    for values in (result.ttft, result.tpot, result.latency):
        bins, counts = sketch(values)
        columns += (bins, counts) if len(bins) else (None, None)
    pair = sparse(tbt_dense) if tbt_dense is not None else None
    columns += pair if pair is not None else (None, None)
    bins, counts = sketch(sched)
    columns += (bins, counts) if len(bins) else (None, None)
    return tuple(columns)


# ---------------------------------------------------------------- replicas at one site


def _bank(service: Service, model: IterationModel | None, prefilled: bool) -> ReplicaBank:
    """An empty bank for the llm replicas of ``service`` on a pool with ``model``
    (``prefilled``: a disaggregated decode pool, whose requests arrive with their KV)."""
    assert model is not None
    max_queue = service.max_queue
    return ReplicaBank(
        BatchingParams(
            service.scheduler,
            model.c0,
            model.c_pf,
            model.c_b,
            model.c_kv,
            service.max_batch,
            model.kv_capacity_tokens,
            service.token_budget,
            -1 if max_queue is None else max_queue,
            **kv_paging(service),
            iteration=model.packed,
            prefilled=prefilled,
        ),
    )


@dataclass
class TokenGaps:
    """The gaps between output tokens a site's replicas produced in a window: their dense
    histogram (int64, BUCKETS long), their number and their sum [s] (for the exact mean)."""

    dense: np.ndarray = field(default_factory=lambda: np.zeros(BUCKETS, dtype=np.int64))
    gaps: int = 0
    sum_s: float = 0.0


@dataclass
class ReplicaStep:
    """What a site's llm replicas did in one window, before any latency bookkeeping."""

    completed: BatchingResult
    """The completions at the replicas (no round trip) and the queue-limit drops."""
    slots: np.ndarray
    """The bank slot of each completion (int64)."""
    dropped_regions: np.ndarray
    """Regions of every request dropped: too big, nowhere to go, or by the queue limit."""
    mean_batch: float
    busy: float
    in_system: int
    tbt: TokenGaps


class ServiceSite:
    """The replicas of one service at one site, their carried kernel state, and its process.

    ``llm`` replicas are slots of a :class:`~twin.kernels.batching_bank.ReplicaBank`, stepped
    together each window (on numba's threads). Scaling down *drains* them:
    :meth:`scale_to` moves surplus replicas to :attr:`draining`, where they get no new
    arrivals but keep being advanced every window until they are empty; an empty draining
    replica gives its accelerators back at once (checked at each window end and at every
    scaling decision). Only the active replicas (:attr:`count`) take arrivals and count as
    routing capacity. ``single`` replicas are servers of one FCFS queue; one is removed only
    when enough servers are idle.
    """

    def __init__(
        self,
        owner: ServiceModel,
        factory: Factory,
        column: int,
        replicas: int,
        pool: Pool,
        iteration: IterationModel | None,
        service: Service | None = None,
        prefilled: bool = False,
    ) -> None:
        self.owner = owner
        self.service = service or owner.service
        """What the replicas are (the owner's service, or a disaggregated prefill pool)."""
        self.factory = factory
        self.column = column
        """Index of the site in the scenario (columns of the RTT matrix)."""
        self.index = 0
        """Index among the service's hosting sites."""
        self.wanted = replicas
        self.pool = pool
        """The pool replicas take accelerators from (see :func:`choose_pool`)."""
        self.iteration = iteration
        self.bank = (
            _bank(self.service, iteration, prefilled) if self.service.kind == "llm" else None
        )
        """The carried state of the site's llm replicas."""
        self.replicas: list[int] = []
        """Active llm replicas (bank slots): they take the arrivals, round robin."""
        self.draining: list[int] = []
        """llm replicas scaled away that still finish their requests (no new arrivals)."""
        self.count = 0
        """Active replicas."""
        self.free_at = np.zeros(0)
        self.queue_state = make_queue_state(self.service.max_queue)
        self.pending = Pending(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
        """``single``: requests served and still in service (completing in a later window)."""
        self.rtt_s = np.ascontiguousarray(owner.rtt[:, column])
        """Round trip from each region to this site [s]."""
        self.next_id = 0
        self.next_replica = 0
        self.delay_s = 0.0
        self.recent_rps = 0.0
        self._stats_seen = np.zeros(N_STATS)
        """Σ of the stats of every llm replica at the last window end (released ones too)."""
        self._stats_released = np.zeros(N_STATS)
        """Σ of the stats of the llm replicas released so far."""
        self.fluid = owner.fluid.site(self) if owner.fluid is not None else None
        """The carried state of the ``fluid`` fidelity (None: ``request``)."""
        self.preemptions: int | None = None
        """Preemptions of the site's llm replicas in the last window (paged KV; else None)."""
        self.lost = np.zeros(len(owner.regions), dtype=np.int64)
        """Requests in flight here when the site went down, per region: dropped, and
        reported with the next window."""

    # ------------------------------------------------------------ replicas and accelerators

    def scale_to(self, target: int) -> None:
        """Hold accelerators for ``target`` active replicas, as far as the site can give them
        now; surplus llm replicas drain (see the class docstring)."""
        size = self.service.accelerators_per_replica
        while self.count < target and self.draining:
            self.replicas.append(self.draining.pop())  # already holds its accelerators
            self.count += 1
        while self.count < target and self.factory.reserve(self.pool, size):
            self._add_replica()
        if self.service.kind == "single":
            while self.count > target and self._remove_idle_servers():
                self.factory.release(self.pool, size)
            return
        if self.count > target:
            # drain the replicas with the least work left (the latest on ties)
            bank = self.bank
            assert bank is not None
            load = [bank.n_running(r) + bank.n_waiting(r) for r in self.replicas]
            order = sorted(range(self.count), key=lambda k: (load[k], -k))
            leaving = set(order[: self.count - target])
            self.draining += [r for k, r in enumerate(self.replicas) if k in leaving]
            self.replicas = [r for k, r in enumerate(self.replicas) if k not in leaving]
            self.count = target
        self.release_drained()

    def reopen(self) -> None:
        """The site is open (again): hold the replicas wanted."""
        self.scale_to(self.wanted)

    def release_drained(self) -> None:
        """Give back the accelerators of every draining replica that is empty."""
        if not self.draining:
            return
        bank = self.bank
        assert bank is not None
        keep = []
        for replica in self.draining:
            if bank.n_running(replica) or bank.n_waiting(replica):
                keep.append(replica)
            else:
                self._stats_released += bank.stats[replica]
                bank.remove(replica)
                self.factory.release(self.pool, self.service.accelerators_per_replica)
        self.draining = keep

    def lose_all(self) -> None:
        """The site went down: every request here is dropped (counted in :attr:`lost`) and
        the replicas are gone, their accelerators given back. They come back when the site
        does (it scales to :attr:`wanted` again, and the autoscaler resizes)."""
        regions = len(self.lost)
        size = self.service.accelerators_per_replica
        held = self.count
        if self.fluid is not None:
            self.lost += self.fluid.lose_all(regions)
        elif self.service.kind == "single":
            self.lost += np.bincount(self.pending.region, minlength=regions)
            self.pending = Pending(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
            self.free_at = np.zeros(0)
            self.queue_state = make_queue_state(self.service.max_queue)
        if self.bank is not None:
            mask = (1 << REGION_BITS) - 1
            for replica in self.replicas + self.draining:
                if self.fluid is None:
                    ids = self.bank.request_ids(replica)
                    self.lost += np.bincount(ids & mask, minlength=regions)
                self._stats_released += self.bank.stats[replica]
                self.bank.remove(replica)
            held += len(self.draining)
            self.replicas, self.draining = [], []
        self.count = 0
        for _ in range(held):
            self.factory.release(self.pool, size)

    def _add_replica(self) -> None:
        self.count += 1
        if self.service.kind == "single":
            servers = np.full(self.service.servers_per_replica, self.factory.env.now)
            self.free_at = np.concatenate([self.free_at, servers])
            return
        assert self.bank is not None
        self.replicas.append(self.bank.add())

    def _remove_idle_servers(self) -> bool:
        """Remove one ``single`` replica's servers if that many are idle now."""
        now = self.factory.env.now
        per = self.service.servers_per_replica
        idle = np.flatnonzero(self.free_at <= now)
        if len(idle) < per or self.count == 0:
            return False
        if self.count == 1 and len(self.pending.done_s):
            return False  # its completions are reported by the next window
        self.free_at = np.delete(self.free_at, idle[:per])
        self.count -= 1
        return True

    def in_system_by_region(self, regions: int) -> np.ndarray:
        """:meth:`in_system` per demand region (fluid: apportioned by the latest shares)."""
        if self.fluid is not None:
            return self.fluid.in_system_by_region(regions)
        if self.service.kind == "single":
            return np.bincount(self.pending.region, minlength=regions)
        assert self.bank is not None
        mask = (1 << REGION_BITS) - 1
        counts = np.zeros(regions, dtype=np.int64)
        for replica in self.replicas + self.draining:
            counts += np.bincount(self.bank.request_ids(replica) & mask, minlength=regions)
        return counts

    def in_system(self) -> int:
        """Requests accepted here and not yet completed (llm: waiting or running)."""
        if self.fluid is not None:
            return self.fluid.in_system
        if self.service.kind == "single":
            return len(self.pending.done_s)
        bank = self.bank
        assert bank is not None
        return bank.in_system(self.replicas + self.draining)

    def capacity_rps(self) -> float:
        """Requests/s the active replicas complete when saturated (for routing)."""
        owner = self.owner
        if self.count == 0:
            return 0.0
        if self.service.kind == "single":
            return self.count * self.service.servers_per_replica / owner.mean_service_s
        return self.count * owner.replica_rps(self)

    # ------------------------------------------------------------ one window

    def window(
        self,
        start: float,
        end: float,
        region_rps: np.ndarray,
        traced: TracedRequests | None = None,
    ) -> WindowResult | FluidWindow:
        """Draw the window's arrivals from the per-region rates and serve them (under
        ``fluid``: the count only, through :mod:`twin.model.fluid`); a traced service's
        ``traced`` requests come with their times, regions and lengths instead."""
        if traced is None:
            rng = self.owner.rng
            total = float(region_rps.sum())
            count = int(rng.poisson(total * (end - start))) if total > 0 else 0
            if self.fluid is not None:
                return self.fluid.window(self, start, end, region_rps, count)
            arrivals = np.sort(rng.uniform(start, end, count))
            cumulative = np.cumsum(region_rps) / total if total > 0 else np.ones(1)
            regions = categorical(cumulative, rng.random(count))
        else:
            arrivals, regions, count = traced.arrival_s, traced.region, len(traced)
        self.recent_rps = count / (end - start)
        if self.service.kind == "llm":
            result = self._serve_llm(arrivals, regions, end, traced)
        elif self.count == 0:
            result = WindowResult(arrivals=count, dropped=count, dropped_regions=regions)
        else:
            result = self._serve_single(arrivals, regions, end, traced)
        result.arrival_regions = regions
        return result

    def _serve_single(
        self,
        arrivals: np.ndarray,
        regions: np.ndarray,
        end: float,
        traced: TracedRequests | None,
    ) -> WindowResult:
        owner = self.owner
        service_s = owner.service_sampler(len(arrivals)) if traced is None else traced.service_s
        max_wait = self.service.timeout_s if self.service.timeout_s is not None else math.inf
        wait, served = fcfs_multiserver_limited(
            arrivals,
            service_s,
            self.free_at,
            max_queue=self.service.max_queue,
            max_wait=max_wait,
            queue_state=self.queue_state,
        )
        slo = self.service.slo.latency_s
        completed = complete(
            self.pending,
            arrivals,
            wait,
            service_s,
            served,
            regions,
            self.rtt_s,
            end,
            slo if slo is not None else math.inf,
        )
        self.pending = completed.pending
        waits = completed.waits_s
        # no arrivals: the wait one arriving now would see (the backlog still queued)
        self.delay_s = (
            float(waits.mean()) if waits.size else max(0.0, float(self.free_at.min()) - end)
        )
        busy = float(completed.service_s.sum()) / (len(self.free_at) * owner.window_s)
        return WindowResult(
            arrivals=len(arrivals),
            dropped=len(completed.dropped_regions),
            dropped_regions=completed.dropped_regions,
            served_regions=completed.regions,
            latency=completed.latency_s,
            missed=completed.missed,
            in_system=len(self.pending.done_s),
            busy=min(1.0, busy),
        )

    def _serve_llm(
        self,
        arrivals: np.ndarray,
        regions: np.ndarray,
        end: float,
        traced: TracedRequests | None,
    ) -> WindowResult:
        """Serve the window's requests (see :meth:`step_replicas`) and add the round trips
        and SLO misses. Lengths: the trace's pairs, or drawn (also for requests with nowhere
        to go)."""
        n = len(arrivals)
        prompt, output = self.draw_lengths(n, traced)
        tokens = (int(prompt.sum()), int(output.sum()))
        step = self.step_replicas(arrivals, prompt, output, regions, end)
        completed = step.completed
        slo = self.service.slo
        done = llm_served(
            completed.ids,
            completed.ttft,
            completed.tpot,
            completed.e2e,
            self.rtt_s,
            REGION_BITS,
            math.inf if slo.ttft_s is None else slo.ttft_s,
            math.inf if slo.tpot_s is None else slo.tpot_s,
        )
        if len(completed.ttft):
            self.delay_s = float(completed.ttft.mean())
        return WindowResult(
            arrivals=n,
            dropped=len(step.dropped_regions),
            dropped_regions=step.dropped_regions,
            served_regions=done.regions,
            latency=done.latency_s,
            ttft=done.ttft_s,
            tpot=completed.tpot,
            missed=done.missed,
            in_system=step.in_system,
            mean_batch=step.mean_batch,
            busy=step.busy,
            prompt_tokens=tokens[0],
            output_tokens=tokens[1],
            preemptions=self.preemptions,
            tbt=step.tbt,
            sched_delay=completed.sched_delay,
        )

    def draw_lengths(self, n: int, traced: TracedRequests | None) -> tuple[np.ndarray, np.ndarray]:
        """Prompt and output tokens of the window's ``n`` requests (int64, at least 1)."""
        if traced is not None:
            return traced.prompt, traced.output
        if not n:
            return _NO_IDS, _NO_IDS
        prompt, output = self.owner.lengths(n)
        prompt = np.maximum(1, np.rint(prompt)).astype(np.int64)
        output = np.maximum(1, np.rint(output)).astype(np.int64)
        return prompt, output

    def step_replicas(
        self,
        arrivals: np.ndarray,
        prompt: np.ndarray,
        output: np.ndarray,
        regions: np.ndarray,
        end: float,
    ) -> ReplicaStep:
        """Deal the requests round robin over the active replicas (numbered from
        :attr:`next_id`) and advance every replica (draining too) to ``end``. Drops:
        requests that can never fit a replica's KV cache (or that find no active replica),
        and those the kernel drops by the waiting-queue limit."""
        owner = self.owner
        n = len(arrivals)
        active = self.replicas
        n_active = len(active)
        dropped_parts = []
        if n and n_active:
            # request i goes to active replica (next_replica + i) % n_active, each replica's
            # requests one slice
            first = self.next_replica % n_active
            self.next_replica = (first + n) % n_active
            assert self.iteration is not None
            dealt = deal(
                arrivals,
                prompt,
                output,
                regions,
                self.next_id,
                first,
                n_active,
                self.bank.params.request_capacity_tokens,  # paged: its whole blocks
            )
            if len(dealt.too_big):
                dropped_parts.append(dealt.too_big)
            arrivals, prompt, output, ids, counts = dealt[:5]
        else:
            if n:
                dropped_parts.append(regions)  # no active replica: nowhere to go
            counts = np.zeros(n_active, dtype=np.int64)
            arrivals, prompt, output, ids = _NO_TIMES, _NO_IDS, _NO_IDS, _NO_IDS
        self.next_id += n
        # draining replicas get no new arrivals: they only finish their requests
        replicas = active + self.draining if self.draining else active
        counts = np.concatenate([counts, np.zeros(len(self.draining), dtype=np.int64)])
        bank = self.bank
        assert bank is not None
        mask = (1 << REGION_BITS) - 1
        if replicas:
            stepped = bank.step(replicas, counts, arrivals, prompt, output, ids, end)
            tbt = bank.take_tbt(replicas)
            completed = stepped.result
            slots = np.repeat(np.asarray(replicas, dtype=np.int64), stepped.done)
            if len(completed.dropped_ids):
                dropped_parts.append(completed.dropped_ids & mask)
        else:
            completed = BatchingResult(_NO_IDS, *([_NO_TIMES] * 6))
            slots = _NO_IDS
            tbt = np.zeros(BUCKETS, dtype=np.int64)
        dropped_regions = np.concatenate(dropped_parts) if dropped_parts else _NO_IDS
        # per-window iteration statistics and requests in the system: one read per replica
        held = len(replicas)
        if held:
            stats = np.add.reduce(bank.stats[replicas]) + self._stats_released
            in_system = bank.in_system(replicas)
        else:
            stats, in_system = self._stats_released.copy(), 0
        delta = stats - self._stats_seen
        self._stats_seen = stats
        paged = self.service.kv_admission == "paged"
        self.preemptions = int(delta[STAT_PREEMPTIONS]) if paged else None
        iterations = delta[STAT_ITERATIONS]
        step = ReplicaStep(
            completed,
            slots,
            dropped_regions,
            mean_batch=delta[STAT_BATCH_SUM] / iterations if iterations else math.nan,
            busy=min(1.0, delta[STAT_BUSY_S] / (held * owner.window_s)) if held else 0.0,
            in_system=in_system,
            tbt=TokenGaps(tbt, int(delta[STAT_GAPS]), float(delta[STAT_GAP_SUM])),
        )
        self.release_drained()
        return step
