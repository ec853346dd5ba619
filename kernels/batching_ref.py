"""Plain-Python twin of the continuous-batching replica (lists and a deque, the same float
operations), against which the compiled kernel is tested.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
from twin.kernels._checks import (
    _as_i64,
)
from twin.kernels.batching import (
    _check_batch_arrivals,
)
from twin.kernels.batching_ref_kv import KVBook
from twin.kernels.batching_state import (
    MODE_VLLM,
    N_STATS,
    STAT_BATCH_MAX,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_COMPLETED,
    STAT_DECODE_TOKENS,
    STAT_DROPPED,
    STAT_GAP_SUM,
    STAT_GAPS,
    STAT_ITERATIONS,
    STAT_KV_MAX,
    STAT_PREEMPTIONS,
    STAT_PREFILL_TOKENS,
    STAT_RUNNING_MAX,
    BatchingParams,
    BatchingResult,
    _validate_params,
)
from twin.kernels.iteration_time import LINEAR, PROFILE, iteration_s, prefill_chunk_s


def _iteration_time(model, P: int, Q: int, cost: float, nd: int, K: int) -> float:
    """The iteration time, written out for the linear model (the kernel's float operations
    in the same order); a profile's through its compiled interpolation, which
    ``tests/kernels/test_iteration_time.py`` checks against ``numpy.interp`` on its own."""
    if model[0] != LINEAR:
        return iteration_s(model, P, Q, cost, nd, K)
    c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp = model[1:8]
    dt = c0 + c_pf * P + c_b * nd + c_kv * K
    if P > 0:
        dt += c_p0 + c_pf2 * Q
    return dt + c_tp * (P + nd)


class BatchingReplicaRef:
    """Plain-Python twin of :class:`BatchingReplica` (lists and a deque, same float ops).

    Same constructor and :meth:`step` API and the same ``stats`` layout; also records the
    per-iteration running-set size and KV reservation in ``trace`` (list of
    ``(start_s, end_s, n_running, kv_used, batch_size)``) and every request's admission time
    (``admitted_at``: id -> start of the iteration that admitted it) for instrumented tests.
    ``pending`` holds the requests not yet taken in, ``waiting`` the waiting queue.
    """

    def __init__(
        self,
        mode,
        c0,
        c_pf,
        c_b,
        c_kv,
        max_batch,
        kv_capacity_tokens,
        token_budget=0,
        waiting_capacity=1024,
        *,
        max_waiting=-1,
        event_skipping=False,
        iteration=None,
        prefilled=False,
        kv_block_tokens=0,
        swap_s_per_token=-1.0,
    ):
        del event_skipping  # accepted for the kernel's signature; the reference always steps
        self.params = _validate_params(
            BatchingParams(
                mode,
                c0,
                c_pf,
                c_b,
                c_kv,
                max_batch,
                kv_capacity_tokens,
                token_budget,
                max_waiting,
                iteration=iteration,
                prefilled=prefilled,
                kv_block_tokens=kv_block_tokens,
                swap_s_per_token=swap_s_per_token,
            )
        )
        self.pending: deque = deque()  # [id, arrival, prompt, output], not yet taken in
        self.waiting: deque = deque()  # the waiting queue (taken in, not admitted)
        self.running: list = []  # dicts in admission order
        self.preempted: deque = deque()  # paged: the next to resume first
        self.book = KVBook(self.params.kv_capacity_tokens, self.params.kv_block_tokens)
        self.swapping = self.params.kv_block_tokens > 0 and self.params.swap_s_per_token >= 0
        self.clock = -math.inf
        self.last_until = -math.inf
        self.last_arrival = -math.inf
        self.next_id = 0
        self.stats = np.zeros(N_STATS, dtype=np.float64)
        self.trace: list = []
        self.admitted_at: dict = {}
        self.tokens: dict = {}  # id -> output tokens produced so far, counted one by one
        self.preemptions: list = []  # (iteration start, id, KV tokens computed) of each
        self.gaps: list = []  # (id, seconds since its previous token) of every later token

    @property
    def kv(self) -> int:
        """KV tokens in use (reserved, or in allocated blocks)."""
        return self.book.used

    def _admit(self, chunk, now, need):
        rid, arr, p, o = self.waiting.popleft()
        self.admitted_at[rid] = now
        prefilled = self.params.prefilled  # its KV and first token came with it
        self.tokens[rid] = 1 if prefilled else 0
        self.running.append(
            {
                "id": rid,
                "arr": arr,
                "p": p,
                "o": o,
                "pf": p if prefilled else 0,
                "target": p,
                "prod": 1 if prefilled else 0,
                "chunk": 0 if prefilled else chunk,
                "first": arr if prefilled else 0.0,
                "last": arr if prefilled else 0.0,
                "gap": 0.0,
            }
        )
        self.book.take(need)

    def _next_admission(self):
        """``(request, resumed, produced)`` admission would take next: the preempted one to
        recompute first, else the head of the waiting queue; None while a request is
        swapped out (it resumes first) or nobody waits."""
        if self.preempted:
            if self.swapping:
                return None
            r = self.preempted[0]
            return r, True, r["prod"]
        if self.waiting:
            _, _, p, o = self.waiting[0]
            return {"p": p, "o": o}, False, 1 if self.params.prefilled else 0

    def _admission_need(self, cand, resumed, produced) -> int:
        joins_decodes = self.params.prefilled and self.params.mode == MODE_VLLM and not resumed
        return self.book.admission_need(cand["p"], cand["o"], produced, not joins_decodes)

    def _resume_recomputed(self, need) -> dict:
        r = self.preempted.popleft()
        r["pf"] = 0
        r["target"] = r["p"] + r["prod"]  # its prompt and every token it produced, again
        self.running.append(r)
        self.book.take(need)
        return r

    def _preempt(self, victim, now) -> int:
        """Set ``victim`` aside (LIFO for recompute, FIFO for swap); returns the tokens of
        KV it had computed, which a swap moves and a recompute computes again."""
        computed = victim["pf"] if victim["pf"] < victim["target"] else victim["p"] + victim["prod"]
        self.preemptions.append((now, victim["id"], computed))
        if self.swapping:
            self.preempted.append(victim)
        else:
            self.preempted.appendleft(victim)
        return computed

    def _swap_in(self):
        """The oldest swapped-out request back in the running set, if the KV (watermark)
        and the running cap allow; None otherwise."""
        if not self.preempted or len(self.running) >= self.params.max_batch:
            return None
        r = self.preempted[0]
        need = self.book.whole_blocks(r["p"] + r["prod"] + 1)
        if not self.book.admits(need):
            return None
        self.preempted.popleft()
        r["chunk"] = 0
        self.running.append(r)
        self.book.take(need)
        return r

    def _chunk_cost(self, done: int, chunk: int) -> float:
        """A prefill chunk's time under a profile model (0 for the linear ones)."""
        if self.params.iteration[0] != PROFILE:
            return 0.0
        return prefill_chunk_s(self.params.iteration, done, chunk)

    def step(self, arrivals, prompt_tokens, output_tokens, until_s, ids=None) -> BatchingResult:
        p = self.params
        until = float(until_s)
        if until < self.last_until:
            raise ValueError("until_s must be non-decreasing across calls")
        arrivals, prompt, out = _check_batch_arrivals(
            p, self.last_until, self.last_arrival, arrivals, prompt_tokens, output_tokens
        )
        n = arrivals.shape[0]
        if ids is None:
            ids = list(range(self.next_id, self.next_id + n))
            self.next_id += n
        else:
            ids = _as_i64("ids", ids).tolist()
        for rid, a, pt, ot in zip(
            ids, arrivals.tolist(), prompt.tolist(), out.tolist(), strict=True
        ):
            self.pending.append([rid, a, pt, ot])
        done = []
        dropped = []
        now = self.clock
        st = self.stats
        while True:
            if not self.running and not self.waiting and not self.preempted:
                if not self.pending:
                    break
                now = max(now, self.pending[0][1])
            if now >= until:
                break
            while self.pending and self.pending[0][1] <= now:
                req = self.pending.popleft()
                if 0 <= p.max_waiting <= len(self.waiting):
                    dropped.append(req[0])
                    st[STAT_DROPPED] += 1
                else:
                    self.waiting.append(req)
            if not self.running and not self.waiting and not self.preempted:
                continue
            done += self._iteration(now, st)
            now = self.trace[-1][1]
        self.clock = now
        self.last_until = until
        if n:
            self.last_arrival = float(arrivals[-1])
        cols = list(zip(*done, strict=True)) if done else [[] for _ in range(7)]
        return BatchingResult(
            np.array(cols[0], dtype=np.int64),
            *(np.array(c, dtype=np.float64) for c in cols[1:]),
            np.array(dropped, dtype=np.int64),
        )

    def _iteration(self, now, st) -> list:
        """Build and run one iteration starting at ``now``; returns its completions."""
        p = self.params
        book = self.book
        P = Q = nd = K = nb = 0
        cost = 0.0
        swapped = 0
        preempted = 0
        for r in self.running:
            r["chunk"] = 0
        decoding = True

        def preempt(victim):
            nonlocal swapped
            if self.swapping:
                swapped += (
                    victim["pf"]
                    if victim["pf"] < victim["target"]
                    else (victim["p"] + victim["prod"])
                )
            self._preempt(victim, now)

        if p.mode == MODE_VLLM:
            while len(self.running) < p.max_batch:
                nxt = self._next_admission()
                if nxt is None:
                    break
                cand, resumed, produced = nxt
                need = self._admission_need(cand, resumed, produced)
                if not book.admits(need):
                    break
                charge = cand["p"] + produced if resumed else cand["p"]
                if p.token_budget > 0 and nb > 0 and P + charge > p.token_budget:
                    break
                if resumed:
                    r = self._resume_recomputed(need)
                else:
                    self._admit(cand["p"], now, need)
                    r = self.running[-1]
                if resumed or not p.prefilled:
                    r["chunk"] = r["target"]
                    P += r["target"]
                    Q += r["target"] * r["target"]
                    cost += self._chunk_cost(0, r["target"])
                nb += 1
            if P > 0:
                decoding = False
            else:
                preempted = book.grow_decodes(self.running, preempt)
                while self.swapping and preempted == 0:
                    r = self._swap_in()
                    if r is None:
                        break
                    swapped += r["pf"] if r["pf"] < r["target"] else r["p"] + r["prod"]
                for r in self.running:
                    nd += 1
                    K += r["p"] + r["prod"]
                nb = nd
        else:
            preempted = book.grow_decodes(self.running, preempt)
            R = p.token_budget
            for r in self.running:
                if r["pf"] == r["target"]:
                    nd += 1
                    K += r["p"] + r["prod"]
                    R -= 1
            nb = nd
            for r in self.running:
                if R <= 0:
                    break
                rem = r["target"] - r["pf"]
                if rem > 0:
                    ch = min(rem, R)
                    r["chunk"] = ch
                    P += ch
                    Q += ch * (2 * r["pf"] + ch)
                    cost += self._chunk_cost(r["pf"], ch)
                    R -= ch
                    nb += 1
            while self.swapping and preempted == 0 and R > 0:
                r = self._swap_in()
                if r is None:
                    break
                swapped += r["pf"] if r["pf"] < r["target"] else r["p"] + r["prod"]
                rem = r["target"] - r["pf"]
                if rem == 0:
                    nd += 1
                    K += r["p"] + r["prod"]
                    R -= 1
                else:
                    ch = min(rem, R)
                    r["chunk"] = ch
                    P += ch
                    Q += ch * (2 * r["pf"] + ch)
                    cost += self._chunk_cost(r["pf"], ch)
                    R -= ch
                nb += 1
            while R > 0 and len(self.running) < p.max_batch:
                nxt = self._next_admission()
                if nxt is None:
                    break
                cand, resumed, produced = nxt
                need = self._admission_need(cand, resumed, produced)
                if not book.admits(need):
                    break
                if resumed:
                    r = self._resume_recomputed(need)
                else:
                    self._admit(0, now, need)
                    r = self.running[-1]
                if not resumed and p.prefilled:
                    nd += 1
                    K += cand["p"] + 1
                    R -= 1
                else:
                    ch = min(r["target"], R)
                    r["chunk"] = ch
                    P += ch
                    Q += ch * ch
                    cost += self._chunk_cost(0, ch)
                    R -= ch
                nb += 1
        dt = _iteration_time(p.iteration, P, Q, cost, nd, K)
        if swapped > 0:
            dt += p.swap_s_per_token * swapped
        t_end = now + dt
        st[STAT_ITERATIONS] += 1.0
        st[STAT_BATCH_SUM] += nb
        st[STAT_BATCH_MAX] = max(st[STAT_BATCH_MAX], nb)
        st[STAT_RUNNING_MAX] = max(st[STAT_RUNNING_MAX], len(self.running))
        st[STAT_KV_MAX] = max(st[STAT_KV_MAX], book.used)
        st[STAT_BUSY_S] += dt
        st[STAT_PREFILL_TOKENS] += P
        st[STAT_DECODE_TOKENS] += nd
        st[STAT_PREEMPTIONS] += preempted
        self.trace.append((now, t_end, len(self.running), book.used, nb))
        done = []
        keep = []
        gap_sum = 0.0  # summed per iteration, then added (as the kernel adds it)
        for r in self.running:
            if r["chunk"] > 0:
                r["pf"] += r["chunk"]
                if r["pf"] == r["target"]:
                    self.tokens[r["id"]] += 1
                    if r["prod"] == 0:
                        r["first"] = t_end
                    else:
                        gap_sum += self._gap(r, t_end, st)
                    r["prod"] += 1
                    r["last"] = t_end
            elif decoding and r["pf"] == r["target"]:
                self.tokens[r["id"]] += 1
                r["prod"] += 1
                gap_sum += self._gap(r, t_end, st)
                r["last"] = t_end
            if r["prod"] == r["o"]:
                o = r["o"]
                tpot = (t_end - r["first"]) / (o - 1) if o > 1 else math.nan
                gap = r["gap"] if o > 1 else math.nan
                sched = self.admitted_at[r["id"]] - r["arr"]
                done.append(
                    (r["id"], r["first"] - r["arr"], tpot, t_end - r["arr"], gap, t_end, sched)
                )
                book.give_back(r)
            else:
                keep.append(r)
        st[STAT_COMPLETED] += len(self.running) - len(keep)
        st[STAT_GAP_SUM] += gap_sum
        self.running = keep
        return done

    def _gap(self, r: dict, t_end: float, st: np.ndarray) -> float:
        """A token of ``r`` at ``t_end`` after an earlier one: its gap, counted and returned."""
        g = t_end - r["last"]
        r["gap"] = max(r["gap"], g)
        self.gaps.append((r["id"], g))
        st[STAT_GAPS] += 1
        return g

    @property
    def n_waiting(self) -> int:
        """Requests not running (queued, pending or preempted), as
        :attr:`BatchingState.n_waiting`."""
        return len(self.waiting) + len(self.pending) + len(self.preempted)

    @property
    def n_queued(self) -> int:
        """Requests in the waiting queue, as :attr:`BatchingState.n_queued`."""
        return len(self.waiting)
