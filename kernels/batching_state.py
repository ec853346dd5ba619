"""Continuous-batching LLM replica: parameters, the carried state's layout, result types.

The state is a struct of small arrays owned by the caller (:class:`BatchingState`), so that
the compiled kernel (:mod:`twin.kernels.batching_kernel`) can update it in place.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from twin.kernels.iteration_time import (
    LINEAR,
    PROFILE,
    iteration_s,
    linear_model,
    prefill_chunk_s,
)
from twin.kernels.sketch import BUCKETS

# ============================================================================================
# Continuous-batching LLM replica: parameters, state layout, result types
# ============================================================================================
#
# Iteration-time model (one linear formula for every kind of iteration):
#
#     t_iter = c0 + c_pf * prefill_tokens + c_b * n_decodes + c_kv * sum_context_of_decodes
#
# prefill-only iteration: p0 = c0, p1 = c_pf; decode-only: d0 = c0, d1 = c_b, d2 = c_kv.

MODE_VLLM = 0
MODE_SARATHI = 1
_MODE_NAMES = {"vllm": MODE_VLLM, "sarathi": MODE_SARATHI}

# BatchingState.scal (int64).  The waiting ring holds, from its head, ``_S_WQUEUED`` queued
# requests (taken in at an iteration boundary, waiting for admission) and then the pending
# ones (not taken in yet); ``_S_WCOUNT`` counts both.  ``_S_NPRE`` counts the requests
# preempted (paged KV) and not yet resumed, kept in the last running slots.
_S_NRUN, _S_WHEAD, _S_WCOUNT, _S_KV, _S_WQUEUED, _S_NPRE = 0, 1, 2, 3, 4, 5
_N_S = 6
# BatchingState.time (float64): [clock, last until_s, last queued arrival]
_T_CLOCK, _T_UNTIL, _T_LASTARR = 0, 1, 2
# BatchingState.run_i rows (int64, per running slot, slots kept in admission order); the
# prefill target is the prompt, or prompt + tokens produced for a recomputed request
_RI_ID, _RI_PROMPT, _RI_OUT, _RI_PF, _RI_PROD, _RI_CHUNK, _RI_TARGET = 0, 1, 2, 3, 4, 5, 6
_N_RI = 7
# BatchingState.run_f rows (float64); _RF_SCHED is the first admission (NaN while the
# iteration that admits it is being built)
_RF_ARR, _RF_FIRST, _RF_LAST, _RF_GAP, _RF_SCHED = 0, 1, 2, 3, 4
_N_RF = 5
# BatchingState.wait_i rows (int64, FIFO ring)
_WI_ID, _WI_PROMPT, _WI_OUT = 0, 1, 2
_N_WI = 3
# rows of the float64 output block of the kernel, shape (_N_O, m)
_O_TTFT, _O_TPOT, _O_E2E, _O_GAP, _O_FIN, _O_SCHED = 0, 1, 2, 3, 4, 5
_N_O = 6

# Stats vector (float64, accumulated over calls; integer-valued entries are exact < 2**53)
STAT_ITERATIONS = 0  #: number of iterations run
STAT_BATCH_SUM = 1  #: sum over iterations of the batch size (requests computing in it)
STAT_BATCH_MAX = 2  #: max batch size of an iteration
STAT_RUNNING_MAX = 3  #: max number of admitted (running) requests, <= max_batch
STAT_KV_MAX = 4  #: max KV tokens reserved (paged: in allocated blocks), <= kv_capacity_tokens
STAT_BUSY_S = 5  #: total iteration time [s]
STAT_PREFILL_TOKENS = 6  #: prompt tokens processed
STAT_DECODE_TOKENS = 7  #: decode tokens processed (one per decoding request per iteration)
STAT_COMPLETED = 8  #: requests completed
STAT_DROPPED = 9  #: requests dropped on arrival by the waiting-queue limit (``max_waiting``)
STAT_JUMPED = 10  #: iterations jumped over in closed form (``event_skipping``), not stepped
STAT_PREEMPTIONS = 11  #: running requests preempted for want of KV blocks (paged)
STAT_GAPS = 12  #: gaps between two output tokens of a request (tokens after the first)
STAT_GAP_SUM = 13  #: their sum [s]: the mean time between tokens is GAP_SUM / GAPS
N_STATS = 14

WATERMARK_SHARE = 100
"""Paged admission leaves ``blocks // WATERMARK_SHARE`` blocks free (vLLM's default
``watermark=0.01`` of the GPU blocks), so a request just admitted is not preempted at once."""


class BatchingParams(NamedTuple):
    """Parameters of a continuous-batching replica.

    Attributes
    ----------
    mode : int
        :data:`MODE_VLLM` (0) or :data:`MODE_SARATHI` (1).
    c0 : float
        Fixed time per iteration [s].
    c_pf : float
        Time per prefill (prompt) token in the iteration [s/token].
    c_b : float
        Time per decoding request in the iteration [s/request].
    c_kv : float
        Time per context token of the decoding requests [s/token] (KV reads).
    max_batch : int
        Max number of admitted (running) requests, ``>= 1``.
    kv_capacity_tokens : int
        KV-cache capacity [tokens]; with ``kv_block_tokens = 0`` every request reserves
        ``prompt + output`` at admission.
    token_budget : int
        Tokens per iteration.  Sarathi: required, ``>= max_batch``.  vLLM: cap on the prompt
        tokens of one prefill iteration (the first admitted prompt always fits); ``0`` =
        unlimited (all admissible requests are prefilled together).
    max_waiting : int
        Waiting-queue limit: an arriving request that finds ``max_waiting`` requests queued
        for admission is dropped (see :func:`batching_step`).  Negative (default ``-1``) or
        None = no limit; ``0`` drops every request (each one waits at least until the next
        iteration boundary).
    event_skipping : bool
        Jump over runs of decode-only iterations in closed form (default); ``False`` steps
        every iteration, the reference the jumps are tested against.
    iteration : numpy.ndarray or None
        A packed iteration-time model (:func:`~twin.kernels.iteration_time.linear_model`
        with its extra terms, or :func:`~twin.kernels.iteration_time.profile_model`) in
        place of the four coefficients, which are then ignored; None: the linear model of
        ``c0, c_pf, c_b, c_kv``.
    prefilled : bool
        A decode pool of disaggregated serving: every arriving request already holds its
        prompt's KV cache and its first output token (``output_tokens >= 2``); admission
        reserves its KV but costs no prefill, it decodes from its first iteration on, its
        TTFT is 0 and its first token counts as produced at its arrival.
    kv_block_tokens : int
        ``0`` (default): reserve each request's final KV footprint at admission, never
        preempt.  ``> 0``: paged KV [4]_ in blocks of this many tokens, allocated as tokens
        are produced, with preemption when they run out (see :func:`batching_step`).
    swap_s_per_token : float
        Paged preemption: negative (default ``-1``) recomputes a preempted request;
        ``>= 0`` swaps its KV to host memory and back, each way costing this many seconds
        per token of its context (KV bytes per token / host-link bandwidth).
    """

    mode: int
    c0: float
    c_pf: float
    c_b: float
    c_kv: float
    max_batch: int
    kv_capacity_tokens: int
    token_budget: int = 0
    max_waiting: int = -1
    event_skipping: bool = True
    iteration: np.ndarray | None = None
    prefilled: bool = False
    kv_block_tokens: int = 0
    swap_s_per_token: float = -1.0

    @property
    def request_capacity_tokens(self) -> int:
        """The largest ``prompt + output`` a replica serves: the KV capacity (reserve), or
        the whole blocks beyond the watermark (paged), so that a request admitted alone
        can always complete."""
        block = int(self.kv_block_tokens)
        if block <= 0:
            return int(self.kv_capacity_tokens)
        blocks = int(self.kv_capacity_tokens) // block
        return (blocks - blocks // WATERMARK_SHARE) * block

    def iteration_time(self, prefill_tokens, n_decodes, sum_context) -> float:
        """Time [s] of an iteration prefilling one prompt of ``prefill_tokens`` from its
        start beside ``n_decodes`` decodes with ``sum_context`` tokens of context (linear:
        ``c0 + c_pf*prefill_tokens + c_b*n_decodes + c_kv*sum_context``)."""
        model = _model_of(self)
        p = int(prefill_tokens)
        cost = prefill_chunk_s(model, 0, p) if model[0] == PROFILE and p > 0 else 0.0
        return float(iteration_s(model, p, p * p, cost, int(n_decodes), int(sum_context)))


_NO_IDS = np.zeros(0, dtype=np.int64)
_NO_IDS.flags.writeable = False


class BatchingResult(NamedTuple):
    """Requests completed during one :func:`batching_step` call (completion order).

    All arrays but ``dropped_ids`` have shape (m,).  ``ids`` int64; the rest float64 seconds.

    Attributes
    ----------
    ids : global request ids
    ttft : time to first token = first-token time - arrival [s]
    tpot : time per output token after the first = (finish - first) / (output - 1) [s];
        NaN when output == 1
    e2e : end-to-end latency = finish - arrival [s]
    max_gap : largest time between two consecutive output tokens [s]; NaN when output == 1
    finish_s : completion time [s] (absolute)
    sched_delay : scheduling delay = first admission - arrival [s] (the wait in the queue)
    dropped_ids : int64, shape (d,): ids of the requests dropped by the waiting-queue limit
        during this call, in the order they were taken in (arrival order)
    """

    ids: np.ndarray
    ttft: np.ndarray
    tpot: np.ndarray
    e2e: np.ndarray
    max_gap: np.ndarray
    finish_s: np.ndarray
    sched_delay: np.ndarray
    dropped_ids: np.ndarray = _NO_IDS


def _model_of(p: BatchingParams) -> np.ndarray:
    """The packed iteration-time model of ``p``."""
    if p.iteration is None:
        return linear_model(float(p.c0), float(p.c_pf), float(p.c_b), float(p.c_kv))
    model = np.ascontiguousarray(p.iteration, dtype=np.float64)
    if model.ndim != 1 or len(model) < 8 or model[0] not in (LINEAR, PROFILE):
        raise ValueError("iteration must be a packed model of twin.kernels.iteration_time")
    return model


def _validate_params(p: BatchingParams) -> BatchingParams:
    mode = _MODE_NAMES.get(p.mode, p.mode) if isinstance(p.mode, str) else int(p.mode)
    if mode not in (MODE_VLLM, MODE_SARATHI):
        raise ValueError(f"mode must be 'vllm'/0 or 'sarathi'/1, got {p.mode!r}")
    max_waiting = -1 if p.max_waiting is None else int(p.max_waiting)
    q = BatchingParams(
        mode,
        float(p.c0),
        float(p.c_pf),
        float(p.c_b),
        float(p.c_kv),
        int(p.max_batch),
        int(p.kv_capacity_tokens),
        int(p.token_budget),
        max(max_waiting, -1),
        bool(p.event_skipping),
        _model_of(p),
        bool(p.prefilled),
        int(p.kv_block_tokens),
        float(p.swap_s_per_token),
    )
    if q.max_batch < 1:
        raise ValueError("max_batch must be >= 1")
    if q.kv_capacity_tokens < 2:
        raise ValueError("kv_capacity_tokens must be >= 2")
    if q.token_budget < 0:
        raise ValueError("token_budget must be >= 0")
    if q.mode == MODE_SARATHI and q.token_budget < q.max_batch:
        raise ValueError("sarathi needs token_budget >= max_batch (one token per decode)")
    if q.kv_block_tokens < 0:
        raise ValueError("kv_block_tokens must be >= 0 (0 = reserve the full footprint)")
    if q.kv_block_tokens > 0 and q.request_capacity_tokens < 2:
        raise ValueError("kv_capacity_tokens must hold a block beyond the watermark")
    if math.isnan(q.swap_s_per_token) or math.isinf(q.swap_s_per_token):
        raise ValueError("swap_s_per_token must be finite (negative = recompute)")
    if q.swap_s_per_token >= 0 and q.kv_block_tokens == 0:
        raise ValueError("swapping preempted requests needs paged KV (kv_block_tokens > 0)")
    return q


class BatchingState:
    """Carried state of one replica, as caller-owned struct-of-arrays.

    Parameters
    ----------
    max_batch : int
        Number of running slots.
    waiting_capacity : int, default 1024
        Initial capacity of the waiting ring; :func:`batching_step` grows it (doubling) when a
        window's arrivals would not fit, so it never overflows.

    Attributes
    ----------
    scal : numpy.ndarray of int64, shape (6,)
        ``[n_running, wait_head, wait_count, kv_used_tokens, wait_queued, n_preempted]``.
        The waiting ring holds ``wait_count`` requests from ``wait_head``: first the
        ``wait_queued`` requests taken into the waiting queue at an iteration boundary,
        then the pending ones, which
        arrived after the last boundary at which arrivals were taken in (after ``clock``,
        or before it when the last iteration ran past ``until_s``).  The ``n_preempted``
        requests preempted and not resumed yet (paged KV) keep their slots at the end of
        ``run_*``: ``max_batch - n_preempted .. max_batch - 1``, the last preempted first.
    time : numpy.ndarray of float64, shape (3,)
        ``[clock, last until_s, last queued arrival]`` [s].  ``clock`` is the time at which
        the replica can start its next iteration (end of the last one, or the arrival that
        woke it); ``-inf`` before any work.
    run_i : numpy.ndarray of int64, shape (7, max_batch)
        Running slots ``0..n_running-1`` in admission order; rows: request id, prompt tokens,
        output tokens, tokens prefilled, output tokens produced, scratch (chunk), prefill
        target (the prompt; prompt + produced for a request recomputed after preemption).
        The context of a decoding request is ``prompt + produced``.
    run_f : numpy.ndarray of float64, shape (5, max_batch)
        Rows: arrival, first-token time, last-token time, max inter-token gap, first
        admission [s].
    wait_i : numpy.ndarray of int64, shape (3, W)
        Waiting FIFO ring (admission not yet granted); rows: id, prompt, output tokens.
    wait_f : numpy.ndarray of float64, shape (W,)
        Arrival times of the waiting ring [s] (non-decreasing in ring order).
    stats : numpy.ndarray of float64, shape (N_STATS,)
        Accumulated statistics, indexed by the ``STAT_*`` constants.
    tbt : numpy.ndarray of int64, shape (BUCKETS,)
        Gaps between tokens counted since the last :meth:`take_tbt`, per log bucket
        (:mod:`twin.kernels.batching_tbt`).
    """

    __slots__ = (
        "run_f",
        "run_i",
        "scal",
        "stats",
        "tbt",
        "time",
        "wait_f",
        "wait_i",
    )

    def __init__(self, max_batch: int, waiting_capacity: int = 1024):
        max_batch = int(max_batch)
        w = max(int(waiting_capacity), 1)
        self.scal = np.zeros(_N_S, dtype=np.int64)
        self.time = np.array([-math.inf, -math.inf, -math.inf], dtype=np.float64)
        self.run_i = np.zeros((_N_RI, max_batch), dtype=np.int64)
        self.run_f = np.zeros((_N_RF, max_batch), dtype=np.float64)
        self.wait_i = np.zeros((_N_WI, w), dtype=np.int64)
        self.wait_f = np.zeros(w, dtype=np.float64)
        self.stats = np.zeros(N_STATS, dtype=np.float64)
        self.tbt = np.zeros(BUCKETS, dtype=np.int64)

    def take_tbt(self) -> np.ndarray:
        """The gaps between tokens counted since the last call, as a dense histogram
        (int64, ``BUCKETS`` long, bucket ``INDEX_MIN`` first of :mod:`twin.kernels.sketch`),
        and start counting afresh."""
        dense = self.tbt.copy()
        self.tbt.fill(0)
        return dense

    @property
    def clock(self) -> float:
        return float(self.time[_T_CLOCK])

    @property
    def n_running(self) -> int:
        return int(self.scal[_S_NRUN])

    @property
    def n_waiting(self) -> int:
        """Requests not running: queued for admission, pending (not yet taken in at an
        iteration boundary, so neither queued nor dropped yet), or preempted (paged KV)."""
        return int(self.scal[_S_WCOUNT] + self.scal[_S_NPRE])

    @property
    def n_preempted(self) -> int:
        """Requests preempted (paged KV) and not resumed yet."""
        return int(self.scal[_S_NPRE])

    @property
    def n_queued(self) -> int:
        """Requests in the waiting queue (taken in, waiting for admission): what
        ``max_waiting`` bounds."""
        return int(self.scal[_S_WQUEUED])

    @property
    def kv_used(self) -> int:
        return int(self.scal[_S_KV])

    def reserve_waiting(self, n_total: int) -> None:
        """Grow the waiting ring (unrolled to head 0) so it holds ``n_total`` entries."""
        w = self.wait_f.shape[0]
        if n_total <= w:
            return
        new_w = max(2 * w, int(n_total))
        head, cnt = int(self.scal[_S_WHEAD]), int(self.scal[_S_WCOUNT])
        idx = (head + np.arange(cnt)) % w
        wi = np.zeros((_N_WI, new_w), dtype=np.int64)
        wf = np.zeros(new_w, dtype=np.float64)
        wi[:, :cnt] = self.wait_i[:, idx]
        wf[:cnt] = self.wait_f[idx]
        self.wait_i, self.wait_f = wi, wf
        self.scal[_S_WHEAD] = 0
