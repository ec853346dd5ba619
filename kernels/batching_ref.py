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
from twin.kernels.batching_state import (
    MODE_VLLM,
    N_STATS,
    STAT_BATCH_MAX,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_COMPLETED,
    STAT_DECODE_TOKENS,
    STAT_DROPPED,
    STAT_ITERATIONS,
    STAT_KV_MAX,
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
            )
        )
        self.pending: deque = deque()  # [id, arrival, prompt, output], not yet taken in
        self.waiting: deque = deque()  # the waiting queue (taken in, not admitted)
        self.running: list = []  # dicts in admission order
        self.kv = 0
        self.clock = -math.inf
        self.last_until = -math.inf
        self.last_arrival = -math.inf
        self.next_id = 0
        self.stats = np.zeros(N_STATS, dtype=np.float64)
        self.trace: list = []
        self.admitted_at: dict = {}

    def _admit(self, chunk, now):
        rid, arr, p, o = self.waiting.popleft()
        self.admitted_at[rid] = now
        prefilled = self.params.prefilled  # its KV and first token came with it
        self.running.append(
            {
                "id": rid,
                "arr": arr,
                "p": p,
                "o": o,
                "pf": p if prefilled else 0,
                "prod": 1 if prefilled else 0,
                "chunk": 0 if prefilled else chunk,
                "first": arr if prefilled else 0.0,
                "last": arr if prefilled else 0.0,
                "gap": 0.0,
            }
        )
        self.kv += p + o

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
            if not self.running and not self.waiting:
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
            if not self.running and not self.waiting:
                continue
            P = Q = nd = K = nb = 0
            cost = 0.0
            for r in self.running:
                r["chunk"] = 0
            decoding = True
            if p.mode == MODE_VLLM:
                while self.waiting and len(self.running) < p.max_batch:
                    _, _, pt, ot = self.waiting[0]
                    if self.kv + pt + ot > p.kv_capacity_tokens:
                        break
                    if p.token_budget > 0 and nb > 0 and P + pt > p.token_budget:
                        break
                    self._admit(pt, now)
                    if not p.prefilled:
                        P += pt
                        Q += pt * pt
                        cost += self._chunk_cost(0, pt)
                    nb += 1
                if P > 0:
                    decoding = False
                else:
                    for r in self.running:
                        nd += 1
                        K += r["p"] + r["prod"]
                    nb = nd
            else:
                R = p.token_budget
                for r in self.running:
                    if r["pf"] == r["p"]:
                        nd += 1
                        K += r["p"] + r["prod"]
                        R -= 1
                nb = nd
                for r in self.running:
                    if R <= 0:
                        break
                    rem = r["p"] - r["pf"]
                    if rem > 0:
                        ch = min(rem, R)
                        r["chunk"] = ch
                        P += ch
                        Q += ch * (2 * r["pf"] + ch)
                        cost += self._chunk_cost(r["pf"], ch)
                        R -= ch
                        nb += 1
                while R > 0 and self.waiting and len(self.running) < p.max_batch:
                    _, _, pt, ot = self.waiting[0]
                    if self.kv + pt + ot > p.kv_capacity_tokens:
                        break
                    ch = min(pt, R)
                    self._admit(ch, now)
                    if p.prefilled:
                        nd += 1
                        K += pt + 1
                        R -= 1
                    else:
                        P += ch
                        Q += ch * ch
                        cost += self._chunk_cost(0, ch)
                        R -= ch
                    nb += 1
            dt = _iteration_time(p.iteration, P, Q, cost, nd, K)
            t_end = now + dt
            st[STAT_ITERATIONS] += 1.0
            st[STAT_BATCH_SUM] += nb
            st[STAT_BATCH_MAX] = max(st[STAT_BATCH_MAX], nb)
            st[STAT_RUNNING_MAX] = max(st[STAT_RUNNING_MAX], len(self.running))
            st[STAT_KV_MAX] = max(st[STAT_KV_MAX], self.kv)
            st[STAT_BUSY_S] += dt
            st[STAT_PREFILL_TOKENS] += P
            st[STAT_DECODE_TOKENS] += nd
            self.trace.append((now, t_end, len(self.running), self.kv, nb))
            keep = []
            for r in self.running:
                if r["chunk"] > 0:
                    r["pf"] += r["chunk"]
                    if r["pf"] == r["p"]:
                        r["prod"] = 1
                        r["first"] = r["last"] = t_end
                elif decoding and r["pf"] == r["p"]:
                    r["prod"] += 1
                    g = t_end - r["last"]
                    if g > r["gap"]:
                        r["gap"] = g
                    r["last"] = t_end
                if r["prod"] == r["o"]:
                    o = r["o"]
                    tpot = (t_end - r["first"]) / (o - 1) if o > 1 else math.nan
                    gap = r["gap"] if o > 1 else math.nan
                    done.append(
                        (r["id"], r["first"] - r["arr"], tpot, t_end - r["arr"], gap, t_end)
                    )
                    self.kv -= r["p"] + o
                else:
                    keep.append(r)
            st[STAT_COMPLETED] += len(self.running) - len(keep)
            self.running = keep
            now = t_end
        self.clock = now
        self.last_until = until
        if n:
            self.last_arrival = float(arrivals[-1])
        cols = list(zip(*done, strict=True)) if done else [[] for _ in range(6)]
        return BatchingResult(
            np.array(cols[0], dtype=np.int64),
            *(np.array(c, dtype=np.float64) for c in cols[1:]),
            np.array(dropped, dtype=np.int64),
        )

    @property
    def n_waiting(self) -> int:
        """Requests not admitted yet (queued or pending), as :attr:`BatchingState.n_waiting`."""
        return len(self.waiting) + len(self.pending)

    @property
    def n_queued(self) -> int:
        """Requests in the waiting queue, as :attr:`BatchingState.n_queued`."""
        return len(self.waiting)
