"""Multi-server FCFS queue (``M/G/c``-style FIFO over ``c`` identical servers).

:func:`fcfs_multiserver`, :func:`fcfs_multiserver_limited` (queue limit and timeout) and
:func:`make_queue_state`, with their plain-Python twins :func:`fcfs_multiserver_ref` and
:func:`fcfs_multiserver_limited_ref`. The state is caller-owned and updated in place, so a
stream cut into windows gives bit for bit the result of one call over the whole stream.

References
----------
.. [1] A. K. Erlang, "Solution of some problems in the theory of probabilities of
   significance in automatic telephone exchanges", *Elektroteknikeren* 13, 1917.
.. [2] L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley, 1975 (M/M/c, M/G/1,
   Pollaczek–Khinchine formula).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np
from twin.kernels._checks import _as_f64, _check_inplace, _out_array, _raise_scan, _scan_fcfs
from twin.kernels._jit import njit

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
