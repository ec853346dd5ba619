"""Inference queueing kernels: multi-server FCFS and a continuous-batching LLM replica.

The digital twin runs a *hybrid* model: a SimPy process wakes once per window (1–10 s of
simulated time) and hands that window's request arrivals, as numpy arrays, to the kernels of
this module.  Every kernel keeps the queue's state in small caller-owned arrays that are
updated in place, so a stream cut into windows gives **exactly** (bit for bit) the result of
one call over the whole stream.  Nothing here imports SimPy or the model: numpy and numba only.

Contents
--------
Multi-server FCFS (``M/G/c``-style FIFO over ``c`` identical servers)
    :func:`fcfs_multiserver`, :func:`fcfs_multiserver_limited` (queue limit and timeout),
    :func:`make_queue_state`, plain-Python twins :func:`fcfs_multiserver_ref` and
    :func:`fcfs_multiserver_limited_ref`.
Iteration-level continuous-batching replica (Orca / vLLM / Sarathi-Serve style)
    :class:`BatchingParams`, :class:`BatchingState`, :func:`batching_step`,
    :class:`BatchingReplica` (convenience owner of params, state and request ids),
    plain-Python twin :class:`BatchingReplicaRef`; an optional waiting-queue limit
    (``max_waiting``) drops arrivals that find the queue full.

Each compiled kernel (``_*_kernel``, ``@njit(cache=True)``) does no validation and no
allocation of outputs (only an O(c) heap scratch); the public wrappers check dtypes, shapes
and preconditions, allocate missing outputs and then call the kernel.  ``kernel.py_func`` is
the same body run by the Python interpreter (used by the tests for coverage).

Units: times in seconds (float64), token counts as int64.

References
----------
.. [1] A. K. Erlang, "Solution of some problems in the theory of probabilities of
   significance in automatic telephone exchanges", *Elektroteknikeren* 13, 1917.
.. [2] L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley, 1975 (M/M/c, M/G/1,
   Pollaczek–Khinchine formula).
.. [3] G.-I. Yu et al., "Orca: A Distributed Serving System for Transformer-Based Generative
   Models", OSDI 2022 (iteration-level scheduling).
.. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention", SOSP 2023 (vLLM).
.. [5] A. Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
   Sarathi-Serve", OSDI 2024 (chunked prefills, stall-free batching).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = [
    "MODE_SARATHI",
    "MODE_VLLM",
    "N_STATS",
    "STAT_BATCH_MAX",
    "STAT_BATCH_SUM",
    "STAT_BUSY_S",
    "STAT_COMPLETED",
    "STAT_DECODE_TOKENS",
    "STAT_DROPPED",
    "STAT_ITERATIONS",
    "STAT_KV_MAX",
    "STAT_PREFILL_TOKENS",
    "STAT_RUNNING_MAX",
    "BatchingParams",
    "BatchingReplica",
    "BatchingReplicaRef",
    "BatchingResult",
    "BatchingState",
    "batching_step",
    "fcfs_multiserver",
    "fcfs_multiserver_limited",
    "fcfs_multiserver_limited_ref",
    "fcfs_multiserver_ref",
    "make_queue_state",
]


# ============================================================================================
# Shared validation helpers (plain Python)
# ============================================================================================


_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def _as_f64(name: str, a) -> np.ndarray:
    if type(a) is np.ndarray and a.dtype is _F64 and a.ndim == 1 and a.flags.c_contiguous:
        return a  # fast path: per-window calls are frequent
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _as_i64(name: str, a) -> np.ndarray:
    if type(a) is np.ndarray and a.dtype is _I64 and a.ndim == 1 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if (
        arr.dtype.kind not in "iu"
        and arr.size
        and not np.all(np.isfinite(arr) & (arr == np.floor(arr)))
    ):
        raise ValueError(f"{name} must hold integers")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _check_inplace(name: str, a, dtype, ndim: int = 1) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim:
        raise TypeError(f"{name} must be a {ndim}-D numpy array of dtype {np.dtype(dtype)}")
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable (it is updated in place)")


# One fused pass instead of several numpy reductions: cheap for large arrays (one memory
# pass) and for the small per-window arrays of the hybrid model (one dispatch, ~1 us).
_SCAN_MESSAGES = {
    1: "arrivals must be finite",
    2: "arrivals must be sorted ascending",
    3: "arrivals must not precede the previous window's until_s or its last arrival",
    4: "service must be finite and >= 0",
    5: "prompt_tokens and output_tokens must be >= 1",
    6: "a request's prompt + output tokens exceed kv_capacity_tokens",
}


@njit(cache=True)
def _scan_arrivals(arrivals, t_min):
    """0 if ``arrivals`` is finite, sorted and ``>= t_min``; else an error code."""
    prev = t_min
    for i in range(arrivals.shape[0]):
        a = arrivals[i]
        if not np.isfinite(a):
            return 1
        if a < prev:
            return 2 if i > 0 else 3
        prev = a
    return 0


@njit(cache=True)
def _scan_fcfs(arrivals, service):
    """Error code of FCFS inputs (0 = valid): arrivals sorted/finite, service finite >= 0."""
    code = _scan_arrivals(arrivals, -np.inf)
    if code != 0:
        return code
    for i in range(service.shape[0]):
        s = service[i]
        if not (np.isfinite(s) and s >= 0.0):
            return 4
    return 0


@njit(cache=True)
def _scan_requests(arrivals, prompt, output, kv_cap, t_min):
    """Error code of batching inputs (0 = valid)."""
    code = _scan_arrivals(arrivals, t_min)
    if code != 0:
        return code
    for i in range(prompt.shape[0]):
        if prompt[i] < 1 or output[i] < 1:
            return 5
        if prompt[i] + output[i] > kv_cap:
            return 6
    return 0


def _raise_scan(code: int) -> None:
    if code:
        raise ValueError(_SCAN_MESSAGES[code])


# ============================================================================================
# Multi-server FCFS: binary min-heap over the servers' next-free times
# ============================================================================================
#
# The heap is two parallel arrays, ``key`` (next free time) and ``srv`` (server index),
# ordered by the pair (key, srv).  That pair is a total order, so the root is *the* unique
# minimum whatever the heap layout: results do not depend on how the heap was built, which is
# what makes a windowed run (heap rebuilt from free_at at every call) identical to a one-call
# run.  Keys live inside the heap (not behind an index into free_at) to save a dependent load
# per comparison; free_at is written back once at the end of the call.  The helpers are
# inlined at numba-IR level: a plain call would cost array reference counting per request.


@njit(cache=True, inline="always")
def _heap_sift_down(key, srv, pos, k, s):
    """Put item ``(k, s)`` into the hole at ``pos`` and sift it down; O(log c)."""
    n = key.shape[0]
    while True:
        child = 2 * pos + 1
        if child >= n:
            break
        right = child + 1
        if right < n:
            kr = key[right]
            kc = key[child]
            if kr < kc or (kr == kc and srv[right] < srv[child]):
                child = right
        kc = key[child]
        if kc < k or (kc == k and srv[child] < s):
            key[pos] = kc
            srv[pos] = srv[child]
            pos = child
        else:
            break
    key[pos] = k
    srv[pos] = s


@njit(cache=True)
def _heap_build(free_at, key, srv):
    """Heapify servers ``0..c-1`` by ``(free_at[s], s)`` into ``key``/``srv``; O(c)."""
    c = free_at.shape[0]
    for i in range(c):
        key[i] = free_at[i]
        srv[i] = i
    for pos in range(c // 2 - 1, -1, -1):
        _heap_sift_down(key, srv, pos, key[pos], srv[pos])


@njit(cache=True)
def _heap_store(free_at, key, srv):
    """Write the heap back to the per-server ``free_at`` vector."""
    for i in range(key.shape[0]):
        free_at[srv[i]] = key[i]


@njit(cache=True)
def _fcfs_kernel(arrivals, service, free_at, out_wait):
    """FCFS over ``len(free_at)`` servers; see :func:`fcfs_multiserver`. Returns ``n``."""
    n = arrivals.shape[0]
    c = free_at.shape[0]
    key = np.empty(c, dtype=np.float64)
    srv = np.empty(c, dtype=np.int64)
    _heap_build(free_at, key, srv)
    for i in range(n):
        t = arrivals[i]
        f = key[0]
        start = f if f > t else t
        out_wait[i] = start - t
        _heap_sift_down(key, srv, 0, start + service[i], srv[0])
    _heap_store(free_at, key, srv)
    return n


# Layout of the float64 queue-state vector of the limited queue (see make_queue_state):
#   [0] head of the ring of start times of admitted requests still waiting
#   [1] number of entries in that ring
#   [2] head of the ring of give-up times of reneging requests still waiting
#   [3] number of entries in that ring
#   [4 : 4+cap]       ring of start times (non-decreasing in ring order)
#   [4+cap : 4+2cap]  ring of give-up times t + max_wait (non-decreasing in ring order)
_Q_HEADER = 4


@njit(cache=True)
def _fcfs_limited_kernel(
    arrivals, service, free_at, max_queue, max_wait, qstate, out_wait, out_served
):
    """FCFS with waiting-room limit and timeout; see :func:`fcfs_multiserver_limited`.

    Returns the number of served requests.
    """
    n = arrivals.shape[0]
    c = free_at.shape[0]
    key = np.empty(c, dtype=np.float64)
    srv = np.empty(c, dtype=np.int64)
    _heap_build(free_at, key, srv)
    track = max_queue >= 0
    cap = (qstate.shape[0] - _Q_HEADER) // 2
    base_s = _Q_HEADER
    base_r = _Q_HEADER + cap
    hs = np.int64(qstate[0])
    ns = np.int64(qstate[1])
    hr = np.int64(qstate[2])
    nr = np.int64(qstate[3])
    n_served = 0
    for i in range(n):
        t = arrivals[i]
        f = key[0]
        start = f if f > t else t
        wait = start - t
        if track:
            # Requests that started, or gave up, at or before t no longer wait.
            while ns > 0 and qstate[base_s + hs] <= t:
                hs += 1
                if hs == cap:
                    hs = 0
                ns -= 1
            while nr > 0 and qstate[base_r + hr] <= t:
                hr += 1
                if hr == cap:
                    hr = 0
                nr -= 1
            if wait > 0.0 and ns + nr >= max_queue:
                # Waiting room full: blocked, never enters the system.
                out_wait[i] = np.nan
                out_served[i] = False
                continue
        if wait > max_wait:
            # Reneges: waits max_wait in the waiting room, then leaves without service.
            if track:
                k = hr + nr
                if k >= cap:
                    k -= cap
                qstate[base_r + k] = t + max_wait
                nr += 1
            out_wait[i] = np.nan
            out_served[i] = False
            continue
        _heap_sift_down(key, srv, 0, start + service[i], srv[0])
        if track and wait > 0.0:
            k = hs + ns
            if k >= cap:
                k -= cap
            qstate[base_s + k] = start
            ns += 1
        out_wait[i] = wait
        out_served[i] = True
        n_served += 1
    qstate[0] = hs
    qstate[1] = ns
    qstate[2] = hr
    qstate[3] = nr
    _heap_store(free_at, key, srv)
    return n_served


def _check_fcfs_inputs(arrivals, service, free_at, check: bool):
    arrivals = _as_f64("arrivals", arrivals)
    service = _as_f64("service", service)
    if arrivals.shape != service.shape:
        raise ValueError(f"arrivals {arrivals.shape} and service {service.shape} differ")
    _check_inplace("free_at", free_at, np.float64)
    if free_at.shape[0] < 1:
        raise ValueError("free_at must have at least one server")
    if check:
        _raise_scan(_scan_fcfs(arrivals, service))
        if np.isnan(free_at).any():
            raise ValueError("free_at must not contain NaN")
    return arrivals, service


def _out_array(name: str, out, n: int, dtype) -> np.ndarray:
    if out is None:
        return np.empty(n, dtype=dtype)
    _check_inplace(name, out, dtype)
    if out.shape[0] < n:
        raise ValueError(f"{name} has length {out.shape[0]} < {n} requests")
    return out[:n]


def fcfs_multiserver(arrivals, service, free_at, out_wait=None, *, check=True):
    """First-come-first-served queue over ``c = len(free_at)`` identical servers.

    Requests are taken in array order (their arrival order).  Request ``i`` goes to the
    server that frees earliest, ties broken by the lowest server index; it starts at
    ``start_i = max(arrivals[i], free_at[s])`` and that server's next free time becomes
    ``start_i + service[i]``.  Its waiting time (time in queue, service excluded) is
    ``start_i - arrivals[i]``.  With Poisson arrivals and exponential service this is M/M/c
    [1]_ [2]_.  Cost O(n log c) (binary min-heap over the servers inside the kernel).

    Windowing: ``free_at`` is the whole state of the queue.  It is updated in place, so
    calling the function on consecutive chunks of an arrival stream, passing the same
    ``free_at``, gives bit-identical waits to one call over the whole stream.

    Parameters
    ----------
    arrivals : array_like of float64, shape (n,)
        Arrival times [s], sorted ascending.
    service : array_like of float64, shape (n,)
        Service times [s], ``>= 0``.
    free_at : numpy.ndarray of float64, shape (c,), C-contiguous, updated in place
        Per server, the time [s] at which it is next free (``0.0`` or ``-inf`` for an idle
        server at the start).  ``c >= 1``.
    out_wait : numpy.ndarray of float64, shape (>= n,), optional
        Caller-owned output; the first ``n`` entries receive the waits.  Allocated if None.
    check : bool, default True
        Validate sortedness/finiteness (an O(n) pass).  The kernel itself never checks.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        Waiting times [s] (a view of ``out_wait`` when given).

    See Also
    --------
    fcfs_multiserver_limited : the same queue with a waiting-room limit and a timeout.
    fcfs_multiserver_ref : plain-Python twin.

    References
    ----------
    .. [1] A. K. Erlang, "Solution of some problems in the theory of probabilities of
       significance in automatic telephone exchanges", *Elektroteknikeren* 13, 1917.
    .. [2] L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley, 1975.
    """
    arrivals, service = _check_fcfs_inputs(arrivals, service, free_at, check)
    out = _out_array("out_wait", out_wait, arrivals.shape[0], np.float64)
    _fcfs_kernel(arrivals, service, free_at, out)
    return out


def make_queue_state(max_queue: int | None) -> np.ndarray:
    """Allocate the carried state of :func:`fcfs_multiserver_limited` for ``max_queue``.

    Parameters
    ----------
    max_queue : int or None
        Waiting-room size (``>= 0``); None means unlimited (no state needed).

    Returns
    -------
    numpy.ndarray of float64, shape (4 + 2 * max(max_queue, 1),)
        Zero-initialised: header ``[head_s, n_s, head_r, n_r]`` then two rings of capacity
        ``max(max_queue, 1)``: start times of admitted requests still waiting, and give-up
        times of reneging requests still waiting.  Both are non-decreasing in ring order
        (FCFS start times and ``arrival + max_wait`` are monotone), so expiring entries at
        time ``t`` is a pop from the front and the queue length at ``t`` is ``n_s + n_r``.
    """
    cap = 1 if max_queue is None else max(int(max_queue), 1)
    return np.zeros(_Q_HEADER + 2 * cap, dtype=np.float64)


def fcfs_multiserver_limited(
    arrivals,
    service,
    free_at,
    max_queue=None,
    max_wait=math.inf,
    queue_state=None,
    out_wait=None,
    out_served=None,
    *,
    check=True,
):
    """FCFS over ``c`` servers with a finite waiting room and a timeout (reneging).

    Same queue as :func:`fcfs_multiserver`, plus two ways to lose a request.  For request
    ``i`` arriving at ``t``, let ``start`` be its FCFS start time given the requests served
    before it, ``wait = start - t``, and let the *waiting room* at ``t`` hold the earlier
    requests that entered it and neither started (``start_j > t``) nor gave up
    (``t_j + max_wait > t``) by ``t``; requests in service are not in the waiting room.

    1. **Blocked** (queue limit): if ``wait > 0`` (it would have to wait) and the waiting room
       already holds ``>= max_queue`` requests, the request is rejected on arrival.  So
       ``max_queue = 0`` is the M/M/c/c loss system of Erlang B [1]_, and the waiting room
       never holds more than ``max_queue`` requests.
    2. **Timed out** (reneging, deterministic patience ``max_wait``): otherwise, if
       ``wait > max_wait``, the request enters the waiting room, stays there until
       ``t + max_wait`` (counting against ``max_queue`` for later arrivals) and then leaves
       without service.  It never occupies a server, so later requests are not delayed by
       it.  A wait exactly equal to ``max_wait`` is served.

    Dropped requests (either way) get ``wait = NaN`` and ``served = False``.  FCFS makes
    ``start`` known at arrival, so the drop decision is exact at arrival time.

    Windowing: the state is ``free_at`` plus ``queue_state`` (the start times / give-up times
    of requests in the waiting room); both are updated in place.  Consecutive chunks of a
    stream (chunks in arrival order) give bit-identical results to one call.

    Parameters
    ----------
    arrivals : array_like of float64, shape (n,)
        Arrival times [s], sorted ascending (also across calls).
    service : array_like of float64, shape (n,)
        Service times [s], ``>= 0``.
    free_at : numpy.ndarray of float64, shape (c,), updated in place
        Per-server next free time [s].
    max_queue : int or None, default None
        Waiting-room size ``>= 0``; None = unlimited.
    max_wait : float, default inf
        Patience [s], ``>= 0``; ``inf`` = never times out.
    queue_state : numpy.ndarray of float64, optional, updated in place
        From :func:`make_queue_state` with a capacity ``>= max_queue``.  Required for
        windowed use with a finite ``max_queue``; if None a fresh (empty) one is used.
    out_wait : numpy.ndarray of float64, shape (>= n,), optional
        Output waits [s]; NaN for dropped requests.  Allocated if None.
    out_served : numpy.ndarray of bool, shape (>= n,), optional
        Output mask, True where served.  Allocated if None.
    check : bool, default True
        Validate inputs (O(n)).

    Returns
    -------
    wait : numpy.ndarray of float64, shape (n,)
    served : numpy.ndarray of bool, shape (n,)

    References
    ----------
    .. [1] A. K. Erlang, "Solution of some problems in the theory of probabilities of
       significance in automatic telephone exchanges", *Elektroteknikeren* 13, 1917.
    .. [2] L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley, 1975.
    """
    arrivals, service = _check_fcfs_inputs(arrivals, service, free_at, check)
    n = arrivals.shape[0]
    if max_queue is None:
        mq = -1
    else:
        mq = int(max_queue)
        if mq < 0:
            raise ValueError("max_queue must be >= 0 or None")
    mw = float(max_wait)
    if not mw >= 0.0:
        raise ValueError("max_wait must be >= 0")
    if queue_state is None:
        queue_state = make_queue_state(max_queue)
    else:
        _check_inplace("queue_state", queue_state, np.float64)
        cap = (queue_state.shape[0] - _Q_HEADER) // 2
        if queue_state.shape[0] < _Q_HEADER + 2 or (mq >= 0 and cap < max(mq, 1)):
            raise ValueError("queue_state too small for max_queue; use make_queue_state")
    wait = _out_array("out_wait", out_wait, n, np.float64)
    served = _out_array("out_served", out_served, n, np.bool_)
    _fcfs_limited_kernel(arrivals, service, free_at, mq, mw, queue_state, wait, served)
    return wait, served


# --------------------------------------------------------------------------------------------
# FCFS plain-Python reference twins (heapq + deque); same float operations, same results
# --------------------------------------------------------------------------------------------


def fcfs_multiserver_ref(arrivals, service, free_at) -> np.ndarray:
    """Plain-Python twin of :func:`fcfs_multiserver` (heapq over ``(free_at, index)``).

    ``free_at`` (numpy float64, shape (c,)) is updated in place; returns the waits.
    """
    heap = [(float(f), s) for s, f in enumerate(free_at.tolist())]
    heapq.heapify(heap)
    waits = []
    for t, sv in zip(
        np.asarray(arrivals, np.float64).tolist(), np.asarray(service).tolist(), strict=True
    ):
        f, s = heap[0]
        start = f if f > t else t
        waits.append(start - t)
        heapq.heapreplace(heap, (start + float(sv), s))
    for f, s in heap:
        free_at[s] = f
    return np.array(waits, dtype=np.float64)


def fcfs_multiserver_limited_ref(
    arrivals, service, free_at, max_queue=None, max_wait=math.inf, queue_state=None
):
    """Plain-Python twin of :func:`fcfs_multiserver_limited`.

    ``queue_state`` here is a ``dict`` with deques ``"starts"`` and ``"giveups"`` (created and
    returned when None); ``free_at`` is updated in place.

    Returns
    -------
    wait : numpy.ndarray of float64, served : numpy.ndarray of bool, queue_state : dict
    """
    if queue_state is None:
        queue_state = {"starts": deque(), "giveups": deque()}
    starts, giveups = queue_state["starts"], queue_state["giveups"]
    track = max_queue is not None
    max_wait = float(max_wait)
    heap = [(float(f), s) for s, f in enumerate(free_at.tolist())]
    heapq.heapify(heap)
    waits, served = [], []
    for t, sv in zip(
        np.asarray(arrivals, np.float64).tolist(), np.asarray(service).tolist(), strict=True
    ):
        f, s = heap[0]
        start = f if f > t else t
        wait = start - t
        if track:
            while starts and starts[0] <= t:
                starts.popleft()
            while giveups and giveups[0] <= t:
                giveups.popleft()
            if wait > 0.0 and len(starts) + len(giveups) >= max_queue:
                waits.append(math.nan)
                served.append(False)
                continue
        if wait > max_wait:
            if track:
                giveups.append(t + max_wait)
            waits.append(math.nan)
            served.append(False)
            continue
        heapq.heapreplace(heap, (start + float(sv), s))
        if track and wait > 0.0:
            starts.append(start)
        waits.append(wait)
        served.append(True)
    for f, s in heap:
        free_at[s] = f
    return np.array(waits, dtype=np.float64), np.array(served, dtype=bool), queue_state


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
# ones (not taken in yet); ``_S_WCOUNT`` counts both.
_S_NRUN, _S_WHEAD, _S_WCOUNT, _S_KV, _S_WQUEUED = 0, 1, 2, 3, 4
_N_S = 5
# BatchingState.time (float64): [clock, last until_s, last queued arrival]
_T_CLOCK, _T_UNTIL, _T_LASTARR = 0, 1, 2
# BatchingState.run_i rows (int64, per running slot, slots kept in admission order)
_RI_ID, _RI_PROMPT, _RI_OUT, _RI_PF, _RI_PROD, _RI_CHUNK = 0, 1, 2, 3, 4, 5
_N_RI = 6
# BatchingState.run_f rows (float64)
_RF_ARR, _RF_FIRST, _RF_LAST, _RF_GAP = 0, 1, 2, 3
_N_RF = 4
# BatchingState.wait_i rows (int64, FIFO ring)
_WI_ID, _WI_PROMPT, _WI_OUT = 0, 1, 2
_N_WI = 3
# rows of the float64 output block of the kernel, shape (5, m)
_O_TTFT, _O_TPOT, _O_E2E, _O_GAP, _O_FIN = 0, 1, 2, 3, 4

# Stats vector (float64, accumulated over calls; integer-valued entries are exact < 2**53)
STAT_ITERATIONS = 0  #: number of iterations run
STAT_BATCH_SUM = 1  #: sum over iterations of the batch size (requests computing in it)
STAT_BATCH_MAX = 2  #: max batch size of an iteration
STAT_RUNNING_MAX = 3  #: max number of admitted (running) requests, <= max_batch
STAT_KV_MAX = 4  #: max KV tokens reserved, <= kv_capacity_tokens
STAT_BUSY_S = 5  #: total iteration time [s]
STAT_PREFILL_TOKENS = 6  #: prompt tokens processed
STAT_DECODE_TOKENS = 7  #: decode tokens processed (one per decoding request per iteration)
STAT_COMPLETED = 8  #: requests completed
STAT_DROPPED = 9  #: requests dropped on arrival by the waiting-queue limit (``max_waiting``)
N_STATS = 10


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
        KV-cache capacity [tokens]; every request reserves ``prompt + output`` at admission.
    token_budget : int
        Tokens per iteration.  Sarathi: required, ``>= max_batch``.  vLLM: cap on the prompt
        tokens of one prefill iteration (the first admitted prompt always fits); ``0`` =
        unlimited (all admissible requests are prefilled together).
    max_waiting : int
        Waiting-queue limit: an arriving request that finds ``max_waiting`` requests queued
        for admission is dropped (see :func:`batching_step`).  Negative (default ``-1``) or
        None = no limit; ``0`` drops every request (each one waits at least until the next
        iteration boundary).
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

    def iteration_time(self, prefill_tokens, n_decodes, sum_context) -> float:
        """``c0 + c_pf*prefill_tokens + c_b*n_decodes + c_kv*sum_context`` [s]."""
        return (
            self.c0
            + self.c_pf * float(prefill_tokens)
            + self.c_b * float(n_decodes)
            + self.c_kv * float(sum_context)
        )


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
    dropped_ids : int64, shape (d,): ids of the requests dropped by the waiting-queue limit
        during this call, in the order they were taken in (arrival order)
    """

    ids: np.ndarray
    ttft: np.ndarray
    tpot: np.ndarray
    e2e: np.ndarray
    max_gap: np.ndarray
    finish_s: np.ndarray
    dropped_ids: np.ndarray = _NO_IDS


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
    )
    for name in ("c0", "c_pf", "c_b", "c_kv"):
        v = getattr(q, name)
        if not (math.isfinite(v) and v >= 0.0):
            raise ValueError(f"{name} must be finite and >= 0")
    if q.c0 + q.c_pf <= 0.0 or q.c0 + q.c_b <= 0.0:
        raise ValueError("every iteration must take positive time (c0 + c_pf, c0 + c_b > 0)")
    if q.max_batch < 1:
        raise ValueError("max_batch must be >= 1")
    if q.kv_capacity_tokens < 2:
        raise ValueError("kv_capacity_tokens must be >= 2")
    if q.token_budget < 0:
        raise ValueError("token_budget must be >= 0")
    if q.mode == MODE_SARATHI and q.token_budget < q.max_batch:
        raise ValueError("sarathi needs token_budget >= max_batch (one token per decode)")
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
    scal : numpy.ndarray of int64, shape (5,)
        ``[n_running, wait_head, wait_count, kv_used_tokens, wait_queued]``.  The waiting ring
        holds ``wait_count`` requests from ``wait_head``: first the ``wait_queued`` requests
        taken into the waiting queue at an iteration boundary, then the pending ones, which
        arrived after the last boundary at which arrivals were taken in (after ``clock``,
        or before it when the last iteration ran past ``until_s``).
    time : numpy.ndarray of float64, shape (3,)
        ``[clock, last until_s, last queued arrival]`` [s].  ``clock`` is the time at which
        the replica can start its next iteration (end of the last one, or the arrival that
        woke it); ``-inf`` before any work.
    run_i : numpy.ndarray of int64, shape (6, max_batch)
        Running slots ``0..n_running-1`` in admission order; rows: request id, prompt tokens,
        output tokens, prompt tokens prefilled, output tokens produced, scratch (chunk).
        The context of a decoding request is ``prompt + produced``.
    run_f : numpy.ndarray of float64, shape (4, max_batch)
        Rows: arrival, first-token time, last-token time, max inter-token gap [s].
    wait_i : numpy.ndarray of int64, shape (3, W)
        Waiting FIFO ring (admission not yet granted); rows: id, prompt, output tokens.
    wait_f : numpy.ndarray of float64, shape (W,)
        Arrival times of the waiting ring [s] (non-decreasing in ring order).
    stats : numpy.ndarray of float64, shape (N_STATS,)
        Accumulated statistics, indexed by the ``STAT_*`` constants.
    """

    __slots__ = ("run_f", "run_i", "scal", "stats", "time", "wait_f", "wait_i")

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

    @property
    def clock(self) -> float:
        return float(self.time[_T_CLOCK])

    @property
    def n_running(self) -> int:
        return int(self.scal[_S_NRUN])

    @property
    def n_waiting(self) -> int:
        """Requests not admitted yet: queued for admission, or pending (not yet taken in at
        an iteration boundary, so neither queued nor dropped yet)."""
        return int(self.scal[_S_WCOUNT])

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


# ============================================================================================
# Continuous-batching LLM replica: compiled kernel
# ============================================================================================


@njit(cache=True)
def _drop_arrived(wait_i, wait_f, head, nq, cnt, now, out_drop, n_drop):
    """Drop the pending requests of the waiting ring that arrived by ``now`` (they find the
    queue full): record their ids in ``out_drop[n_drop:]`` and remove them from the ring.

    The ring holds ``nq`` queued requests from ``head``, then ``cnt - nq`` pending ones; the
    ``d`` dropped ones are the first pending.  They go by shifting the shorter side by ``d``
    (the queued block forward, or the later pending entries back), so the ring stays
    contiguous and in order.  Returns ``(d, new_head)``.
    """
    W = wait_f.shape[0]
    d = 0
    while nq + d < cnt:
        k = head + nq + d
        if k >= W:
            k -= W
        if wait_f[k] > now:
            break
        out_drop[n_drop + d] = wait_i[_WI_ID, k]
        d += 1
    if d == 0:
        return 0, head
    rest = cnt - nq - d
    if nq <= rest:  # queued block forward by d
        for i in range(nq - 1, -1, -1):
            src = head + i
            if src >= W:
                src -= W
            dst = src + d
            if dst >= W:
                dst -= W
            _ring_move(wait_i, wait_f, src, dst)
        head += d
        if head >= W:
            head -= W
    else:  # later pending entries back by d
        for i in range(rest):
            dst = head + nq + i
            if dst >= W:
                dst -= W
            src = dst + d
            if src >= W:
                src -= W
            _ring_move(wait_i, wait_f, src, dst)
    return d, head


@njit(cache=True, inline="always")
def _ring_move(wait_i, wait_f, src, dst):
    wait_i[_WI_ID, dst] = wait_i[_WI_ID, src]
    wait_i[_WI_PROMPT, dst] = wait_i[_WI_PROMPT, src]
    wait_i[_WI_OUT, dst] = wait_i[_WI_OUT, src]
    wait_f[dst] = wait_f[src]


@njit(cache=True)
def _batching_kernel(
    mode,
    c0,
    c_pf,
    c_b,
    c_kv,
    max_batch,
    kv_cap,
    budget,
    max_waiting,
    scal,
    tstate,
    run_i,
    run_f,
    wait_i,
    wait_f,
    new_id,
    new_arr,
    new_prompt,
    new_out,
    until_s,
    out_id,
    out_f,
    out_drop,
    stats,
):
    """Advance one replica to ``until_s``; semantics in :func:`batching_step`.

    Parameters
    ----------
    mode : int
        0 = vLLM, 1 = Sarathi.
    c0, c_pf, c_b, c_kv : float
        Iteration-time coefficients [s], [s/token], [s/request], [s/token].
    max_batch, kv_cap, budget : int
        Running-set cap, KV capacity [tokens], token budget (vLLM: 0 = unlimited).
    max_waiting : int
        Waiting-queue limit (``< 0`` = none).
    scal, tstate, run_i, run_f, wait_i, wait_f : numpy.ndarray
        Carried state, updated in place; layouts in :class:`BatchingState`.  ``wait_*`` must
        have room for the new arrivals (the wrapper grows it).
    new_id, new_arr, new_prompt, new_out : numpy.ndarray, shape (n,)
        This window's requests: int64 ids, float64 arrival [s] (sorted, not before any queued
        arrival), int64 prompt and output tokens.
    until_s : float
        Window end [s]: iterations start only at ``clock < until_s``.
    out_id : numpy.ndarray of int64, shape (>= n_running + n_waiting + n,)
    out_f : numpy.ndarray of float64, shape (5, >= n_running + n_waiting + n)
        Completed requests in completion order; rows ``_O_TTFT``, ``_O_TPOT``, ``_O_E2E``,
        ``_O_GAP``, ``_O_FIN`` [s].
    out_drop : numpy.ndarray of int64, shape (>= n_waiting - n_queued + n,)
        Ids of the requests dropped by the waiting-queue limit, in arrival order.
    stats : numpy.ndarray of float64, shape (N_STATS,)
        Accumulated statistics (``STAT_*``), updated in place.

    Returns
    -------
    (int, int)
        Number of requests completed (rows written to ``out_id``/``out_f``) and dropped
        (entries written to ``out_drop``).
    """
    W = wait_f.shape[0]
    n_run = scal[_S_NRUN]
    head = scal[_S_WHEAD]
    cnt = scal[_S_WCOUNT]
    kv = scal[_S_KV]
    nq = scal[_S_WQUEUED]  # queued: ring entries head .. head+nq-1
    # ---- append this window's arrivals to the pending part (caller guarantees room, order)
    for i in range(new_arr.shape[0]):
        k = head + cnt
        if k >= W:
            k -= W
        wait_i[_WI_ID, k] = new_id[i]
        wait_i[_WI_PROMPT, k] = new_prompt[i]
        wait_i[_WI_OUT, k] = new_out[i]
        wait_f[k] = new_arr[i]
        cnt += 1
    # the ring holds the queued requests (head .. head+nq-1), then the pending ones
    now = tstate[_T_CLOCK]
    n_done = 0
    n_drop = 0
    while True:
        # ---- idle: jump to the next arrival (or stop if none is known)
        if n_run == 0 and nq == 0:
            if cnt == 0:
                break
            if wait_f[head] > now:
                now = wait_f[head]
        # ---- iterations start only strictly before until_s (they may end after it)
        if now >= until_s:
            break
        # ---- take in the arrivals up to now, in arrival order, while the queue has room
        while nq < cnt and nq != max_waiting:
            k = head + nq
            if k >= W:
                k -= W
            if wait_f[k] > now:
                break
            nq += 1
        # ---- the queue is full: the other arrivals up to now find it so and are dropped
        if nq == max_waiting and nq < cnt:
            d, head = _drop_arrived(wait_i, wait_f, head, nq, cnt, now, out_drop, n_drop)
            n_drop += d
            cnt -= d
            if n_run == 0 and nq == 0:
                continue  # max_waiting == 0: every arrival is dropped
        P = 0  # prefill tokens in this iteration
        nd = 0  # decoding requests
        K = 0  # sum of their contexts
        nb = 0  # batch size: requests computing in this iteration
        for j in range(n_run):
            run_i[_RI_CHUNK, j] = 0
        decoding = True
        if mode == MODE_VLLM:
            # vLLM: admit FCFS while batch cap, KV (and prompt-token cap) allow
            while nq > 0 and n_run < max_batch:
                p = wait_i[_WI_PROMPT, head]
                o = wait_i[_WI_OUT, head]
                if kv + p + o > kv_cap:
                    break
                if budget > 0 and nb > 0 and P + p > budget:
                    break
                run_i[_RI_ID, n_run] = wait_i[_WI_ID, head]
                run_i[_RI_PROMPT, n_run] = p
                run_i[_RI_OUT, n_run] = o
                run_i[_RI_PF, n_run] = 0
                run_i[_RI_PROD, n_run] = 0
                run_i[_RI_CHUNK, n_run] = p
                run_f[_RF_ARR, n_run] = wait_f[head]
                run_f[_RF_GAP, n_run] = 0.0
                n_run += 1
                kv += p + o
                P += p
                nb += 1
                head += 1
                if head == W:
                    head = 0
                nq -= 1
                cnt -= 1
            if nb > 0:
                decoding = False  # prefill-only iteration: running decodes stall
            else:
                for j in range(n_run):
                    nd += 1
                    K += run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
                nb = nd
        else:
            # Sarathi: one token per decode, the rest of the budget to FCFS prefill chunks
            R = budget
            for j in range(n_run):
                if run_i[_RI_PF, j] == run_i[_RI_PROMPT, j]:
                    nd += 1
                    K += run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
                    R -= 1
            nb = nd
            for j in range(n_run):
                if R <= 0:
                    break
                rem = run_i[_RI_PROMPT, j] - run_i[_RI_PF, j]
                if rem > 0:
                    ch = rem if rem < R else R
                    run_i[_RI_CHUNK, j] = ch
                    P += ch
                    R -= ch
                    nb += 1
            while R > 0 and nq > 0 and n_run < max_batch:
                p = wait_i[_WI_PROMPT, head]
                o = wait_i[_WI_OUT, head]
                if kv + p + o > kv_cap:
                    break
                ch = p if p < R else R
                run_i[_RI_ID, n_run] = wait_i[_WI_ID, head]
                run_i[_RI_PROMPT, n_run] = p
                run_i[_RI_OUT, n_run] = o
                run_i[_RI_PF, n_run] = 0
                run_i[_RI_PROD, n_run] = 0
                run_i[_RI_CHUNK, n_run] = ch
                run_f[_RF_ARR, n_run] = wait_f[head]
                run_f[_RF_GAP, n_run] = 0.0
                n_run += 1
                kv += p + o
                P += ch
                R -= ch
                nb += 1
                head += 1
                if head == W:
                    head = 0
                nq -= 1
                cnt -= 1
        dt = c0 + c_pf * P + c_b * nd + c_kv * K
        t_end = now + dt
        # ---- stats
        stats[STAT_ITERATIONS] += 1.0
        stats[STAT_BATCH_SUM] += nb
        if nb > stats[STAT_BATCH_MAX]:
            stats[STAT_BATCH_MAX] = nb
        if n_run > stats[STAT_RUNNING_MAX]:
            stats[STAT_RUNNING_MAX] = n_run
        if kv > stats[STAT_KV_MAX]:
            stats[STAT_KV_MAX] = kv
        stats[STAT_BUSY_S] += dt
        stats[STAT_PREFILL_TOKENS] += P
        stats[STAT_DECODE_TOKENS] += nd
        # ---- apply the iteration, record completions, compact the running slots
        w = 0
        for j in range(n_run):
            ch = run_i[_RI_CHUNK, j]
            if ch > 0:
                run_i[_RI_PF, j] += ch
                if run_i[_RI_PF, j] == run_i[_RI_PROMPT, j]:
                    run_i[_RI_PROD, j] = 1
                    run_f[_RF_FIRST, j] = t_end
                    run_f[_RF_LAST, j] = t_end
            elif decoding and run_i[_RI_PF, j] == run_i[_RI_PROMPT, j]:
                run_i[_RI_PROD, j] += 1
                g = t_end - run_f[_RF_LAST, j]
                if g > run_f[_RF_GAP, j]:
                    run_f[_RF_GAP, j] = g
                run_f[_RF_LAST, j] = t_end
            o = run_i[_RI_OUT, j]
            if run_i[_RI_PROD, j] == o:
                arr = run_f[_RF_ARR, j]
                first = run_f[_RF_FIRST, j]
                out_id[n_done] = run_i[_RI_ID, j]
                out_f[_O_TTFT, n_done] = first - arr
                out_f[_O_E2E, n_done] = t_end - arr
                out_f[_O_FIN, n_done] = t_end
                if o > 1:
                    out_f[_O_TPOT, n_done] = (t_end - first) / (o - 1)
                    out_f[_O_GAP, n_done] = run_f[_RF_GAP, j]
                else:
                    out_f[_O_TPOT, n_done] = np.nan
                    out_f[_O_GAP, n_done] = np.nan
                n_done += 1
                kv -= run_i[_RI_PROMPT, j] + o
            else:
                if w != j:
                    for r in range(_N_RI):
                        run_i[r, w] = run_i[r, j]
                    for r in range(_N_RF):
                        run_f[r, w] = run_f[r, j]
                w += 1
        stats[STAT_COMPLETED] += n_run - w
        n_run = w
        now = t_end
    stats[STAT_DROPPED] += n_drop
    scal[_S_NRUN] = n_run
    scal[_S_WHEAD] = head
    scal[_S_WCOUNT] = cnt
    scal[_S_KV] = kv
    scal[_S_WQUEUED] = nq
    tstate[_T_CLOCK] = now
    return n_done, n_drop


# ============================================================================================
# Continuous-batching LLM replica: public wrapper and owner class
# ============================================================================================


def _check_batch_arrivals(
    p: BatchingParams, t_last_until, t_last_arr, arrivals, prompt, out, check=True
):
    arrivals = _as_f64("arrivals", arrivals)
    prompt = _as_i64("prompt_tokens", prompt)
    out = _as_i64("output_tokens", out)
    n = arrivals.shape[0]
    if prompt.shape[0] != n or out.shape[0] != n:
        raise ValueError("arrivals, prompt_tokens and output_tokens must have equal lengths")
    if n and check:
        t_min = max(float(t_last_until), float(t_last_arr))
        _raise_scan(_scan_requests(arrivals, prompt, out, p.kv_capacity_tokens, t_min))
    return arrivals, prompt, out


def batching_step(
    params: BatchingParams,
    state: BatchingState,
    arrivals,
    prompt_tokens,
    output_tokens,
    until_s: float,
    ids=None,
    *,
    check: bool = True,
) -> BatchingResult:
    """Advance a continuous-batching LLM replica to ``until_s`` with one window's arrivals.

    Iteration-level scheduling [3]_: the replica runs *iterations* back to back; at each
    iteration boundary (clock ``T``) the scheduler looks at the requests that arrived by
    ``T`` and builds the next iteration, whose duration is

        ``t_iter = c0 + c_pf * P + c_b * D + c_kv * K``

    with ``P`` the prompt tokens prefilled in the iteration, ``D`` the number of decoding
    requests and ``K`` the sum of their contexts (``prompt + tokens produced so far``).
    A prefill-only iteration costs ``c0 + c_pf * P``; a decode-only one
    ``c0 + c_b * D + c_kv * K``.  Chunk attention over earlier chunks is not modelled.

    Taking in and the waiting-queue limit: a request joins the replica's *waiting queue* at
    the first iteration boundary ``T >= arrival`` (or at its arrival when the replica is
    idle); at each boundary the arrivals with ``arrival <= T`` are taken in, in arrival order,
    *before* that boundary's admissions.  A request taken in when the queue already holds
    ``max_waiting`` requests is dropped (reported in ``dropped_ids``, counted in
    ``STAT_DROPPED``).  Since admissions happen only at boundaries, the queue a request finds
    when it is taken in is exactly the one at its arrival instant: the requests queued at the
    previous boundary and not admitted there, plus the earlier arrivals since then that were
    not dropped (an arrival exactly at a boundary counts before that boundary's admissions).
    So the queue never holds more than ``max_waiting`` requests; running requests do not
    count, and simultaneous arrivals queue one behind the other even at an idle replica (so
    ``max_waiting = 0`` drops everything).  ``max_waiting < 0`` means no limit.

    Admission (both modes) is FCFS from the head of the waiting queue while the running set
    has fewer than ``max_batch`` requests and ``kv_used + prompt + output <=
    kv_capacity_tokens``: the full final KV footprint is reserved at admission, so no request
    is ever preempted or swapped (conservative vs vLLM's paged allocation [4]_).  Head of
    line blocking is FCFS: a request that does not fit stops admission.

    * ``vllm`` (mode 0) [4]_: if at least one request can be admitted, the iteration is
      prefill-only over the full prompts of *all* requests admitted now (with
      ``token_budget > 0``, admission also stops when the summed prompts would exceed it;
      the first one always goes); running decodes stall.  Otherwise one decode iteration
      over all running requests.
    * ``sarathi`` (mode 1) [5]_: each iteration holds one decode token for every running
      request whose prefill is complete, and the rest of ``token_budget`` goes to prefill
      chunks, FCFS: first the running requests with prompt left, then newly admitted ones
      (admission only while budget is left).  Decodes never stall, so the gap between two
      tokens of a request is one iteration, bounded by
      ``c0 + max(c_pf, c_b) * token_budget + c_kv * kv_capacity_tokens``.

    Tokens: a request's first output token is produced at the end of the iteration that
    completes its prefill (TTFT = that time - arrival); each later iteration in which it
    decodes produces one more token; it completes with its ``output_tokens``-th token (at
    the prefill end if ``output_tokens == 1``) and releases its slot and KV reservation.
    TPOT = (finish - first token) / (output_tokens - 1), NaN if ``output_tokens == 1``.

    Windows: iterations *start* only at ``T < until_s``; the one running at ``until_s`` ends
    after it (the clock overruns) and the next call resumes from the clock.  Requests that
    arrive during an iteration are seen at its end (iteration boundary).  When nothing is
    running or admissible the clock jumps to the next queued arrival (idle).  Arrivals of a
    call must not precede the previous call's ``until_s`` nor its last arrival; they may
    lie after ``until_s`` (they wait in the queue).  Under these rules any split of a stream
    into windows gives bit-identical results and statistics to a single call with
    ``until_s = inf``; requests in flight at ``until_s`` stay in ``state`` and are reported
    by the call in which they complete.

    Parameters
    ----------
    params : BatchingParams
        Coefficients [s, s/token, s/request, s/token] and limits.
    state : BatchingState
        Carried state, updated in place.
    arrivals : array_like of float64, shape (n,)
        Arrival times [s], sorted ascending.
    prompt_tokens, output_tokens : array_like of int64, shape (n,)
        Prompt and output lengths [tokens], ``>= 1``, ``prompt + output <=
        kv_capacity_tokens``.
    until_s : float
        Window end [s], non-decreasing across calls (``inf`` = run to completion).
    ids : array_like of int64, shape (n,), optional
        Global request ids (default ``0..n-1``; :class:`BatchingReplica` numbers them).
    check : bool, default True
        Validate the arrivals (sorted, finite, not before the previous window, token counts
        ``>= 1`` and fitting the KV cache): an O(n) pass.  ``False`` is for callers that
        generate valid inputs; the kernel never checks, and invalid inputs then give
        undefined results.

    Returns
    -------
    BatchingResult
        Requests completed in this call, in completion order, and the ids of the requests
        dropped by the waiting-queue limit in this call.  ``state.stats`` accumulates
        iteration statistics (``STAT_*``); mean batch size is
        ``stats[STAT_BATCH_SUM] / stats[STAT_ITERATIONS]``.

    References
    ----------
    .. [3] G.-I. Yu et al., "Orca: A Distributed Serving System for Transformer-Based
       Generative Models", OSDI 2022.
    .. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
       PagedAttention", SOSP 2023.
    .. [5] A. Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
       Sarathi-Serve", OSDI 2024.
    """
    return _step(
        _validate_params(params),
        state,
        arrivals,
        prompt_tokens,
        output_tokens,
        until_s,
        ids,
        check,
    )


def _step(p, state, arrivals, prompt_tokens, output_tokens, until_s, ids, check=True):
    """:func:`batching_step` with already validated parameters ``p``."""
    if state.run_i.shape[1] != p.max_batch:
        raise ValueError("state was built for another max_batch")
    until = float(until_s)
    tstate = state.time
    if math.isnan(until) or until < tstate[_T_UNTIL]:
        raise ValueError("until_s must be non-decreasing across calls")
    arrivals, prompt, out = _check_batch_arrivals(
        p, tstate[_T_UNTIL], tstate[_T_LASTARR], arrivals, prompt_tokens, output_tokens, check
    )
    n = arrivals.shape[0]
    if ids is None:
        ids = np.arange(n, dtype=np.int64)
    else:
        ids = _as_i64("ids", ids)
        if ids.shape[0] != n:
            raise ValueError("ids must have the length of arrivals")
    scal = state.scal
    n_wait = scal.item(_S_WCOUNT)
    if n_wait + n > state.wait_f.shape[0]:
        state.reserve_waiting(n_wait + n)
    m = scal.item(_S_NRUN) + n_wait + n
    o_id = np.empty(m, dtype=np.int64)
    o_f = np.empty((5, m), dtype=np.float64)
    o_drop = np.empty(n_wait - scal.item(_S_WQUEUED) + n, dtype=np.int64)
    k, d = _batching_kernel(
        p.mode,
        p.c0,
        p.c_pf,
        p.c_b,
        p.c_kv,
        p.max_batch,
        p.kv_capacity_tokens,
        p.token_budget,
        p.max_waiting,
        scal,
        tstate,
        state.run_i,
        state.run_f,
        state.wait_i,
        state.wait_f,
        ids,
        arrivals,
        prompt,
        out,
        until,
        o_id,
        o_f,
        o_drop,
        state.stats,
    )
    tstate[_T_UNTIL] = until
    if n:
        tstate[_T_LASTARR] = arrivals[-1]
    return BatchingResult(
        o_id[:k], o_f[0, :k], o_f[1, :k], o_f[2, :k], o_f[3, :k], o_f[4, :k], o_drop[:d]
    )


class BatchingReplica:
    """One LLM replica: owns its :class:`BatchingParams`, :class:`BatchingState` and ids.

    Parameters
    ----------
    mode : {"vllm", "sarathi"} or int
    c0, c_pf, c_b, c_kv : float
        Iteration-time coefficients (see :func:`batching_step`).
    max_batch : int
    kv_capacity_tokens : int
    token_budget : int, default 0
    waiting_capacity : int, default 1024
        Initial waiting-ring capacity (grows on demand).
    max_waiting : int, default -1
        Waiting-queue limit (keyword only; ``-1`` or None = none), see :func:`batching_step`.

    Examples
    --------
    >>> r = BatchingReplica("sarathi", 0.01, 1e-4, 1e-4, 1e-7, 32, 100_000, 512)
    >>> res = r.step([0.0, 0.5], [100, 200], [10, 20], until_s=1.0)
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
    ):
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
            )
        )
        self.state = BatchingState(self.params.max_batch, waiting_capacity)
        self.next_id = 0

    def step(
        self, arrivals, prompt_tokens, output_tokens, until_s, ids=None, *, check=True
    ) -> BatchingResult:
        """Advance to ``until_s`` (see :func:`batching_step`); ids default to a counter."""
        if ids is None:
            n = np.shape(arrivals)[0]
            ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
            self.next_id += n
        return _step(
            self.params, self.state, arrivals, prompt_tokens, output_tokens, until_s, ids, check
        )

    @property
    def stats(self) -> np.ndarray:
        """Accumulated statistics, float64 shape (N_STATS,), indexed by ``STAT_*``."""
        return self.state.stats


# --------------------------------------------------------------------------------------------
# Continuous-batching plain-Python reference twin
# --------------------------------------------------------------------------------------------


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
    ):
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
        self.running.append(
            {
                "id": rid,
                "arr": arr,
                "p": p,
                "o": o,
                "pf": 0,
                "prod": 0,
                "chunk": chunk,
                "first": 0.0,
                "last": 0.0,
                "gap": 0.0,
            }
        )
        self.kv += p + o

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
            P = nd = K = nb = 0
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
                    P += pt
                    nb += 1
                if nb > 0:
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
                        R -= ch
                        nb += 1
                while R > 0 and self.waiting and len(self.running) < p.max_batch:
                    _, _, pt, ot = self.waiting[0]
                    if self.kv + pt + ot > p.kv_capacity_tokens:
                        break
                    ch = min(pt, R)
                    self._admit(ch, now)
                    P += ch
                    R -= ch
                    nb += 1
            dt = p.c0 + p.c_pf * P + p.c_b * nd + p.c_kv * K
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
