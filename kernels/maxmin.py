"""Max-min fair bandwidth sharing of network links between flows (progressive filling).

Flows are described in CSR form: flow ``f`` crosses the links
``route_links[route_ptr[f]:route_ptr[f + 1]]``. Each link has a capacity and each flow may
have a rate cap (a flow limited by its endpoint, e.g. a NIC or a storage array). The solver
returns the unique max-min fair rate vector: no flow's rate can be increased without
decreasing the rate of another flow whose rate is already smaller or equal.

Two implementations share the same arithmetic, operation for operation, so that they agree
exactly:

* :func:`maxmin_rates` validates its inputs (one compiled pass) and calls the compiled
  ``_maxmin_kernel``;
* :func:`maxmin_rates_reference` is a readable plain-Python twin used by the tests.

:func:`network_solve` is the network model's whole solve in one compiled call (the rates,
each link's total and the time to the next drain), :func:`network_advance` its step
between solves and :func:`network_drain` what a drain does before the next solve; their
numpy twins (``*_reference``) match them bit for bit.

References
----------
.. [1] D. Bertsekas and R. Gallager, *Data Networks*, 2nd ed., Prentice Hall, 1992,
   §6.5.2 "Max-Min Fairness" (progressive filling algorithm).
.. [2] P. Velho, L. Schnorr, H. Casanova, A. Legrand, "On the validity of flow-level TCP
   network models for grid and cloud simulations", ACM TOMACS 23(4), 2013 — the
   linear max-min (LMM) solver of SimGrid (``src/kernel/lmm/maxmin.cpp``).
"""

from __future__ import annotations

import heapq

import numpy as np
from twin.kernels._jit import njit

__all__ = [
    "SATURATION_RTOL",
    "maxmin_rates",
    "maxmin_rates_reference",
    "network_advance",
    "network_advance_reference",
    "network_drain",
    "network_drain_reference",
    "network_solve",
    "network_solve_reference",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

#: A link is saturated when its remaining capacity is <= SATURATION_RTOL * capacity; a
#: flow reaches its cap when the filling level is >= cap / (1 + SATURATION_RTOL).
SATURATION_RTOL = 1e-12


# --------------------------------------------------------------------------------------
# Compiled kernel
# --------------------------------------------------------------------------------------
#
# Where the time goes (100k flows of 2-8 links over 500 links, ~670 rounds): building the
# link -> flows transpose (one scattered write per route occurrence) and, in the rounds,
# reading the route of every flow that freezes. The kernel therefore
#
# * keeps work arrays small: flow ids in int32 when they fit, a uint8 frozen flag per flow;
# * takes the initial per-link flow counts from the transpose's histogram (no extra pass);
# * scans only the links still in use each round (a compacted list, kept in id order so
#   that ties are broken like the reference), and collects the saturated links while
#   subtracting the round's increment instead of scanning all links a third time;
# * orders only the capped flows (finite cap), lazily: they are bucketed by the top 16 bits
#   of their cap in one counting pass, and a bucket is sorted (stable radix sort on the
#   cap's bits, so ties keep flow order) only when the filling level reaches it, and only
#   its flows that are still unfrozen - most capped flows freeze on a link long before.
#
# The arithmetic is that of the reference, operation for operation, so rates agree exactly.
# The input checks of :func:`maxmin_rates` are one compiled pass too: with numpy calls they
# cost ~30 µs, several times the kernel for the few flows of a typical network solve.

_TOP_SHIFT = np.uint64(48)
"""A capped flow's bucket is the top 16 bits (sign, exponent, 4 mantissa bits) of its cap."""


@njit(cache=True)
def _radix_sort(keys, items):
    """Sort ``items`` in place by their uint64 ``keys`` (sorted along), stably.

    LSD radix sort on 8-bit digits, skipping digits that all keys share; insertion sort for
    32 keys or fewer.
    """
    n = keys.shape[0]
    if n <= 32:
        for i in range(1, n):
            key = keys[i]
            item = items[i]
            j = i - 1
            while j >= 0 and keys[j] > key:
                keys[j + 1] = keys[j]
                items[j + 1] = items[j]
                j -= 1
            keys[j + 1] = key
            items[j + 1] = item
        return
    hist = np.zeros((8, 256), dtype=np.int64)
    for i in range(n):
        key = keys[i]
        for d in range(8):
            hist[d, (key >> np.uint64(8 * d)) & np.uint64(255)] += 1
    src_keys, dst_keys = keys, np.empty_like(keys)
    src_items, dst_items = items, np.empty_like(items)
    start = np.empty(256, dtype=np.int64)
    swapped = False
    for d in range(8):
        shared = False
        for v in range(256):
            if hist[d, v] == n:
                shared = True
                break
        if shared:
            continue
        total = 0
        for v in range(256):
            start[v] = total
            total += hist[d, v]
        shift = np.uint64(8 * d)
        for i in range(n):
            key = src_keys[i]
            v = (key >> shift) & np.uint64(255)
            j = start[v]
            start[v] = j + 1
            dst_keys[j] = key
            dst_items[j] = src_items[i]
        src_keys, dst_keys = dst_keys, src_keys
        src_items, dst_items = dst_items, src_items
        swapped = not swapped
    if swapped:
        keys[:] = src_keys
        items[:] = src_items


@njit(cache=True)
def _next_capped(p, end, bucket, order, order_key, bucket_ptr, frozen):
    """Advance ``p`` to the unfrozen capped flow with the smallest cap (ties: lowest id).

    ``order[p:end]`` is the sorted, not yet passed part of the current bucket; when it is
    used up the next bucket's unfrozen flows are compacted to its front and sorted.
    Returns ``(p, end, bucket)``; ``p == end`` when no capped flow is left.
    """
    n_buckets = bucket_ptr.shape[0] - 1
    while True:
        while p < end and frozen[order[p]]:
            p += 1
        if p < end or bucket + 1 >= n_buckets:
            return p, end, bucket
        bucket += 1
        p = bucket_ptr[bucket]
        end = p
        for j in range(bucket_ptr[bucket], bucket_ptr[bucket + 1]):
            if not frozen[order[j]]:
                order[end] = order[j]
                order_key[end] = order_key[j]
                end += 1
        if end - p > 1:
            _radix_sort(order_key[p:end], order[p:end])


@njit(cache=True)
def _progressive_filling(route_ptr, route_links, capacity, rate_cap, rates, link_flows, capped):
    """Body of :func:`_maxmin_kernel`; ``link_flows`` (n_occurrences) and ``capped`` (n_flows)
    are scratch arrays of an integer type that holds a flow id. Returns the rounds."""
    n_flows = route_ptr.shape[0] - 1
    n_links = capacity.shape[0]
    n_occ = route_links.shape[0]
    tol = SATURATION_RTOL

    # Per-link work arrays, carved from one allocation (cheaper for small problems).
    work = np.empty(5 * n_links + 1, dtype=np.int64)
    count = work[:n_links]  # unfrozen flow occurrences on each link
    fill = work[n_links : 2 * n_links]
    in_use = work[2 * n_links : 3 * n_links]  # links with unfrozen flows, by id
    saturated = work[3 * n_links : 4 * n_links]
    link_ptr = work[4 * n_links :]

    # -- transpose the route matrix (link -> flows, CSR) ---------------------------------
    count[:] = 0
    for k in range(n_occ):
        count[route_links[k]] += 1
    n_in_use = 0
    link_ptr[0] = 0
    for ln in range(n_links):
        fill[ln] = link_ptr[ln]
        link_ptr[ln + 1] = link_ptr[ln] + count[ln]
        if count[ln] > 0:
            in_use[n_in_use] = ln
            n_in_use += 1

    # Flows with an empty route get their cap; the others start unfrozen.
    frozen = np.zeros(n_flows, dtype=np.uint8)
    n_active = 0
    n_capped = 0
    for f in range(n_flows):
        a = route_ptr[f]
        b = route_ptr[f + 1]
        if a == b:
            frozen[f] = 1
            rates[f] = rate_cap[f]
            continue
        n_active += 1
        for k in range(a, b):
            ln = route_links[k]
            link_flows[fill[ln]] = f
            fill[ln] += 1
        if rate_cap[f] < np.inf:
            capped[n_capped] = f
            n_capped += 1

    # -- bucket the capped flows by the top bits of their cap, in flow order -------------
    # Caps are >= 0, so their IEEE bits order like their values (-0.0 is taken as +0.0).
    keys = np.empty(2 * n_capped, dtype=np.uint64)
    key = keys[:n_capped]
    order_key = keys[n_capped:]
    lowest = np.uint64(0xFFFF)
    highest = np.uint64(0)
    for i in range(n_capped):
        cap = rate_cap[capped[i]]
        bits = np.uint64(0) if cap == 0.0 else np.float64(cap).view(np.uint64)
        key[i] = bits
        lowest = min(lowest, bits >> _TOP_SHIFT)
        highest = max(highest, bits >> _TOP_SHIFT)
    n_buckets = int(highest - lowest) + 1 if n_capped > 0 else 0
    buckets = np.zeros(2 * n_buckets + 1, dtype=np.int64)
    bucket_ptr = buckets[: n_buckets + 1]
    slot = buckets[n_buckets + 1 :]
    for i in range(n_capped):
        bucket_ptr[int((key[i] >> _TOP_SHIFT) - lowest) + 1] += 1
    for b in range(n_buckets):
        bucket_ptr[b + 1] += bucket_ptr[b]
    order = np.empty(n_capped, dtype=capped.dtype)
    slot[:] = bucket_ptr[:-1]
    for i in range(n_capped):
        b = int((key[i] >> _TOP_SHIFT) - lowest)
        order[slot[b]] = capped[i]
        order_key[slot[b]] = key[i]
        slot[b] += 1
    order_cap = order_key.view(np.float64)
    p = 0  # next candidate in ``order``
    end = 0
    bucket = -1

    # -- progressive filling ----------------------------------------------------------
    remaining = capacity.copy()  # capacity not yet handed out
    level = 0.0  # common rate of all unfrozen flows
    rounds = 0
    while n_active > 0:
        rounds += 1

        # Bottleneck: smallest fair share over links (lowest id on ties; links without
        # unfrozen flows leave the list), or smallest gap to a flow cap.
        delta = np.inf
        arg_link = -1
        m = 0
        for i in range(n_in_use):
            ln = in_use[i]
            c = count[ln]
            if c > 0:
                in_use[m] = ln
                m += 1
                share = remaining[ln] / c
                if share < delta:
                    delta = share
                    arg_link = ln
        n_in_use = m
        if (p < end and frozen[order[p]]) or (p == end and bucket + 1 < n_buckets):
            p, end, bucket = _next_capped(p, end, bucket, order, order_key, bucket_ptr, frozen)
        arg_p = -1
        if p < end:
            gap = order_cap[p] - level
            if gap < delta:
                delta = gap
                arg_link = -1
                arg_p = p

        # Raise every unfrozen flow by delta; note the links that saturate.
        level += delta
        n_saturated = 0
        for i in range(n_in_use):
            ln = in_use[i]
            left = remaining[ln] - delta * count[ln]
            remaining[ln] = left
            if ln == arg_link or left <= tol * capacity[ln]:
                saturated[n_saturated] = ln
                n_saturated += 1

        # Freeze flows that reached their cap.
        limit = level * (1.0 + tol)
        while True:
            if (p < end and frozen[order[p]]) or (p == end and bucket + 1 < n_buckets):
                p, end, bucket = _next_capped(p, end, bucket, order, order_key, bucket_ptr, frozen)
            if p == end or (p != arg_p and order_cap[p] > limit):
                break
            f = order[p]
            frozen[f] = 1
            rates[f] = min(level, order_cap[p])
            n_active -= 1
            for k in range(route_ptr[f], route_ptr[f + 1]):
                count[route_links[k]] -= 1
            p += 1

        # Freeze flows crossing a saturated link (their caps are above the level).
        for s in range(n_saturated):
            ln = saturated[s]
            if count[ln] == 0:
                continue
            for j in range(link_ptr[ln], link_ptr[ln + 1]):
                f = link_flows[j]
                if not frozen[f]:
                    frozen[f] = 1
                    rates[f] = level
                    n_active -= 1
                    for k in range(route_ptr[f], route_ptr[f + 1]):
                        count[route_links[k]] -= 1
    return rounds


@njit(cache=True)
def _maxmin_kernel(route_ptr, route_links, capacity, rate_cap, rates):
    """Progressive-filling max-min solver; writes the rate of every flow into ``rates``.

    Inputs are assumed valid (see :func:`maxmin_rates`). Cost: O(F·L_route) for the
    transpose and the freezes, O(L) per round (rounds <= F), and a radix sort of the capped
    flows still unfrozen when the level reaches their cap.

    Returns the number of filling rounds performed.
    """
    n_flows = route_ptr.shape[0] - 1
    n_occ = route_links.shape[0]
    if n_flows <= np.iinfo(np.int32).max:  # half the memory traffic of int64 flow ids
        ids32 = np.empty(n_occ + n_flows, dtype=np.int32)
        return _progressive_filling(
            route_ptr, route_links, capacity, rate_cap, rates, ids32[:n_occ], ids32[n_occ:]
        )
    ids64 = np.empty(n_occ + n_flows, dtype=np.int64)
    return _progressive_filling(
        route_ptr, route_links, capacity, rate_cap, rates, ids64[:n_occ], ids64[n_occ:]
    )


# --------------------------------------------------------------------------------------
# Public wrapper
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _scan_values(route_ptr, route_links, capacity, rate_cap):
    """One pass over each input array: the first contract violation as a code, or 0.

    Returns ``(code, low, high)``; ``low, high`` are the smallest and largest link id.
    """
    n_links = capacity.shape[0]
    if route_ptr[0] != 0:
        return 1, 0, 0
    for f in range(route_ptr.shape[0] - 1):
        if route_ptr[f + 1] < route_ptr[f]:
            return 2, 0, 0
    if route_ptr[route_ptr.shape[0] - 1] != route_links.shape[0]:
        return 3, 0, 0
    low = np.int64(0)
    high = np.int64(0)
    if route_links.shape[0] > 0:
        low = route_links[0]
        high = route_links[0]
        for k in range(route_links.shape[0]):
            low = min(low, route_links[k])
            high = max(high, route_links[k])
        if low < 0 or high >= n_links:
            return 4, low, high
    for ln in range(n_links):
        if not (0.0 < capacity[ln] < np.inf):  # also false for NaN
            return 5, low, high
    for f in range(rate_cap.shape[0]):
        if not rate_cap[f] >= 0.0:  # also true for NaN
            return 6, low, high
    return 0, low, high


_NO_CAPS = np.zeros(0, dtype=np.float64)


def _check_inputs(
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    rate_cap: np.ndarray | None,
) -> None:
    """Raise ``ValueError`` unless the inputs satisfy the contract of :func:`maxmin_rates`."""
    for name, arr, dtype in (
        ("route_ptr", route_ptr, np.int64),
        ("route_links", route_links, np.int64),
        ("capacity", capacity, np.float64),
        ("rate_cap", rate_cap, np.float64),
    ):
        if name == "rate_cap" and arr is None:
            continue
        if not isinstance(arr, np.ndarray):
            raise ValueError(f"{name} must be a numpy array, got {type(arr).__name__}")
        if arr.dtype != dtype:
            raise ValueError(f"{name} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")

    if route_ptr.shape[0] < 1:
        raise ValueError("route_ptr must have length n_flows + 1 >= 1")
    code, low, high = _scan_values(
        route_ptr, route_links, capacity, _NO_CAPS if rate_cap is None else rate_cap
    )
    if code == 1:
        raise ValueError(f"route_ptr[0] must be 0, got {route_ptr[0]}")
    if code == 2:
        raise ValueError("route_ptr must be non-decreasing")
    if code == 3:
        raise ValueError(
            f"route_ptr[-1] ({route_ptr[-1]}) must equal len(route_links) ({route_links.shape[0]})"
        )
    if code == 4:
        raise ValueError(
            f"route_links must hold link ids in [0, {capacity.shape[0]}), got values in "
            f"[{low}, {high}]"
        )
    if code == 5:
        raise ValueError("capacity must be finite and > 0 for every link")
    n_flows = route_ptr.shape[0] - 1
    if rate_cap is not None and rate_cap.shape[0] != n_flows:
        raise ValueError(
            f"rate_cap must have one entry per flow ({n_flows}), got {rate_cap.shape[0]}"
        )
    if code == 6:
        raise ValueError("rate_cap must be >= 0 (np.inf for no cap) and not NaN")


def maxmin_rates(
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    rate_cap: np.ndarray | None = None,
) -> np.ndarray:
    """Max-min fair rate of every flow sharing a set of capacitated links.

    Progressive filling (water-filling) [1]_: all unfrozen flows grow at the same rate
    until a link saturates (its fair share ``remaining / unfrozen flows`` is the smallest)
    or a flow reaches its cap; those flows are frozen at that level, their usage is
    subtracted, and filling resumes. This is the model of SimGrid's LMM solver [2]_ with
    unit weights.

    Parameters
    ----------
    route_ptr : numpy.ndarray of int64, shape (n_flows + 1,)
        CSR row pointer: flow ``f`` crosses ``route_links[route_ptr[f]:route_ptr[f + 1]]``.
        Must start at 0, be non-decreasing and end at ``len(route_links)``.
    route_links : numpy.ndarray of int64, shape (n_occurrences,)
        Link ids in ``[0, n_links)``. A route that lists a link twice uses it twice: the
        flow consumes twice its rate on that link.
    capacity : numpy.ndarray of float64, shape (n_links,)
        Capacity of each link, finite and > 0, in any rate unit (e.g. Gbit/s).
    rate_cap : numpy.ndarray of float64, shape (n_flows,), optional
        Upper bound on each flow's rate in the same unit (``np.inf`` = no cap), modelling
        a flow limited by its endpoint. Must be >= 0 and not NaN. Default: no caps.

    Returns
    -------
    numpy.ndarray of float64, shape (n_flows,)
        Rate of each flow, in the unit of ``capacity``. A flow with an empty route gets
        its ``rate_cap`` (``+inf`` when it has no cap).

    Raises
    ------
    ValueError
        If a dtype, shape or value violates the contract above.

    Notes
    -----
    A link counts as saturated when its remaining capacity is at most
    ``SATURATION_RTOL`` (1e-12) times its capacity. Cost is O(F·L_route + L·rounds)
    with at most F rounds, F flows, L links, plus a radix sort (linear) of the capped
    flows still unfrozen when the filling level reaches their cap.

    References
    ----------
    .. [1] D. Bertsekas and R. Gallager, *Data Networks*, 2nd ed., 1992, §6.5.2.
    .. [2] SimGrid, linear max-min solver (``src/kernel/lmm/maxmin.cpp``); Velho et al.,
       ACM TOMACS 23(4), 2013.

    Examples
    --------
    Two links of capacity 10 and 4; flow 0 crosses both, flow 1 link 0, flow 2 link 1:

    >>> import numpy as np
    >>> maxmin_rates(
    ...     np.array([0, 2, 3, 4]), np.array([0, 1, 0, 1]), np.array([10.0, 4.0])
    ... ).tolist()
    [2.0, 8.0, 2.0]
    """
    _check_inputs(route_ptr, route_links, capacity, rate_cap)
    n_flows = route_ptr.shape[0] - 1
    if rate_cap is None:
        rate_cap = np.full(n_flows, np.inf)
    rates = np.empty(n_flows, dtype=np.float64)
    _maxmin_kernel(route_ptr, route_links, capacity, rate_cap, rates)
    return rates


# --------------------------------------------------------------------------------------
# The flow-level network model's per-event steps
# --------------------------------------------------------------------------------------
# The network (``twin.model.network``) keeps its active flows in growable buffers whose
# first ``n_flows`` entries are live, and calls these once per flow start or drain, with
# inputs it builds itself: they are not checked here (``maxmin_rates`` checks the same
# contract). Each matches its numpy twin bit for bit.


@njit(cache=True)
def _network_solve_kernel(
    n_flows, route_ptr, route_links, capacity, rate_cap, remaining_bits, rates, rates_bps,
    channel_bps,
):  # fmt: skip
    """Body of :func:`network_solve`."""
    ptr = route_ptr[: n_flows + 1]
    _maxmin_kernel(ptr, route_links[: ptr[n_flows]], capacity, rate_cap[:n_flows], rates[:n_flows])
    return _totals_and_next_drain(n_flows, ptr, route_links, rates, rates_bps, channel_bps,
                                  remaining_bits)  # fmt: skip


@njit(cache=True)
def _totals_and_next_drain(
    n_flows, ptr, route_links, rates, rates_bps, channel_bps, remaining_bits
):  # fmt: skip
    """After a solve: each flow's rate in bit/s, each channel's total, and the time until
    the first flow drains (shared by the max-min and the RTT-weighted solve)."""
    channel_bps[:] = 0.0
    for f in range(n_flows):
        rate_bps = rates[f] * 1e9
        rates_bps[f] = rate_bps
        for k in range(ptr[f], ptr[f + 1]):
            channel_bps[route_links[k]] += rate_bps
    # numpy's minimum.reduce, NaN included: the running value stays if <= x or NaN
    soonest = remaining_bits[0] / rates_bps[0]
    for f in range(1, n_flows):
        x = remaining_bits[f] / rates_bps[f]
        if not (soonest <= x or soonest != soonest):
            soonest = x
    return soonest


def network_solve(
    n_flows: int,
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    rate_cap: np.ndarray,
    remaining_bits: np.ndarray,
    rates: np.ndarray,
    rates_bps: np.ndarray,
    channel_bps: np.ndarray,
) -> float:
    """One rate solve of the first ``n_flows`` (>= 1) flows, in one compiled call.

    Writes their max-min rates (Gbps, as :func:`maxmin_rates`) into ``rates``, the same in
    bit/s into ``rates_bps`` and each link's total (bit/s) into ``channel_bps``; returns
    the time until the first of them drains, the smallest ``remaining_bits / rates_bps``.
    """
    return _network_solve_kernel(
        n_flows, route_ptr, route_links, capacity, rate_cap, remaining_bits, rates,
        rates_bps, channel_bps,
    )  # fmt: skip


def network_solve_reference(
    n_flows: int,
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    rate_cap: np.ndarray,
    remaining_bits: np.ndarray,
    rates: np.ndarray,
    rates_bps: np.ndarray,
    channel_bps: np.ndarray,
) -> float:
    """:func:`network_solve` with the checked solver and numpy (for tests)."""
    ptr = route_ptr[: n_flows + 1]
    links = route_links[: ptr[-1]]
    rates[:n_flows] = maxmin_rates(ptr, links, capacity, rate_cap[:n_flows])
    np.multiply(rates[:n_flows], 1e9, out=rates_bps[:n_flows])
    channel_bps[:] = np.bincount(
        links, weights=rates_bps[:n_flows].repeat(np.diff(ptr)), minlength=len(channel_bps)
    )
    return float(np.minimum.reduce(remaining_bits[:n_flows] / rates_bps[:n_flows]))


@njit(cache=True)
def _network_advance_kernel(n_flows, dt, remaining_bits, rates_bps, channel_bits, channel_bps):
    """Body of :func:`network_advance`."""
    for f in range(n_flows):
        remaining_bits[f] -= rates_bps[f] * dt
    for c in range(channel_bits.shape[0]):
        channel_bits[c] += channel_bps[c] * dt


def network_advance(
    n_flows: int,
    dt: float,
    remaining_bits: np.ndarray,
    rates_bps: np.ndarray,
    channel_bits: np.ndarray,
    channel_bps: np.ndarray,
) -> None:
    """``dt`` seconds at the current rates: the first ``n_flows`` flows send
    ``rates_bps × dt`` bits each (off ``remaining_bits``), the links carry
    ``channel_bps × dt`` each (onto ``channel_bits``)."""
    _network_advance_kernel(n_flows, dt, remaining_bits, rates_bps, channel_bits, channel_bps)


def network_advance_reference(
    n_flows: int,
    dt: float,
    remaining_bits: np.ndarray,
    rates_bps: np.ndarray,
    channel_bits: np.ndarray,
    channel_bps: np.ndarray,
) -> None:
    """:func:`network_advance` with numpy (for tests)."""
    remaining_bits[:n_flows] -= rates_bps[:n_flows] * dt
    channel_bits += channel_bps * dt


@njit(cache=True)
def _network_drain_kernel(
    n_flows, dt, tolerance_s, remaining_bits, rates_bps, channel_bits, channel_bps, rate_cap,
    route_lengths, route_ptr, route_links, drained,
):  # fmt: skip
    """Body of :func:`network_drain`."""
    if dt > 0.0:
        _network_advance_kernel(n_flows, dt, remaining_bits, rates_bps, channel_bits, channel_bps)
    count = 0
    for f in range(n_flows):
        if remaining_bits[f] <= rates_bps[f] * tolerance_s:
            drained[count] = f
            count += 1
    if count == 0:
        return 0
    kept = 0
    occupied = 0
    gone = 0
    start = route_ptr[0]
    for f in range(n_flows):
        end = route_ptr[f + 1]
        if gone < count and drained[gone] == f:
            gone += 1
        else:  # kept: moved down, in order
            remaining_bits[kept] = remaining_bits[f]
            rate_cap[kept] = rate_cap[f]
            route_lengths[kept] = route_lengths[f]
            for k in range(start, end):
                route_links[occupied] = route_links[k]
                occupied += 1
            route_ptr[kept + 1] = occupied
            kept += 1
        start = end
    return count


def network_drain(
    n_flows: int,
    dt: float,
    tolerance_s: float,
    remaining_bits: np.ndarray,
    rates_bps: np.ndarray,
    channel_bits: np.ndarray,
    channel_bps: np.ndarray,
    rate_cap: np.ndarray,
    route_lengths: np.ndarray,
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    drained: np.ndarray,
) -> int:
    """At a drain: :func:`network_advance` by ``dt`` (if > 0), then the flows with less
    than ``tolerance_s`` of sending left (``remaining_bits <= rates_bps × tolerance_s``)
    leave: their indices go into ``drained`` (in order; their count is returned) and the
    other flows' backlog, cap and route move down in place, in order, so the first
    ``n_flows - count`` entries are the flows left (``rates_bps`` is not moved: a solve
    follows)."""
    return _network_drain_kernel(
        n_flows, dt, tolerance_s, remaining_bits, rates_bps, channel_bits, channel_bps,
        rate_cap, route_lengths, route_ptr, route_links, drained,
    )  # fmt: skip


def network_drain_reference(
    n_flows: int,
    dt: float,
    tolerance_s: float,
    remaining_bits: np.ndarray,
    rates_bps: np.ndarray,
    channel_bits: np.ndarray,
    channel_bps: np.ndarray,
    rate_cap: np.ndarray,
    route_lengths: np.ndarray,
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    drained: np.ndarray,
) -> int:
    """:func:`network_drain` with numpy (for tests)."""
    if dt > 0.0:
        network_advance_reference(n_flows, dt, remaining_bits, rates_bps, channel_bits, channel_bps)
    done = remaining_bits[:n_flows] <= rates_bps[:n_flows] * tolerance_s
    finished = done.nonzero()[0]
    drained[: len(finished)] = finished
    if not len(finished):
        return 0
    keep = ~done
    links = route_links[: route_ptr[n_flows]][np.repeat(keep, route_lengths[:n_flows])]
    for buffer in (remaining_bits, rate_cap, route_lengths):
        moved = buffer[:n_flows][keep]
        buffer[: len(moved)] = moved
    route_links[: len(links)] = links
    left = n_flows - len(finished)
    np.cumsum(route_lengths[:left], out=route_ptr[1 : left + 1])
    return len(finished)


# --------------------------------------------------------------------------------------
# Plain-Python reference
# --------------------------------------------------------------------------------------


def maxmin_rates_reference(
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    rate_cap: np.ndarray | None = None,
) -> np.ndarray:
    """Readable plain-Python twin of :func:`maxmin_rates` (same contract, same arithmetic).

    Uses lists, dicts and a heap instead of preallocated arrays; meant for tests and
    benchmarks, not for production use. Inputs are validated like :func:`maxmin_rates`.
    """
    _check_inputs(route_ptr, route_links, capacity, rate_cap)
    tol = SATURATION_RTOL
    n_flows = len(route_ptr) - 1
    caps = [float("inf")] * n_flows if rate_cap is None else [float(c) for c in rate_cap]
    routes = [
        [int(ln) for ln in route_links[route_ptr[f] : route_ptr[f + 1]]] for f in range(n_flows)
    ]

    rates = [0.0] * n_flows
    link_cap = [float(c) for c in capacity]
    remaining = list(link_cap)
    uses = {}  # link -> number of unfrozen flow occurrences on it (only links in use)
    members = {}  # link -> set of unfrozen flows crossing it
    unfrozen = set()
    for f, route in enumerate(routes):
        if not route:
            rates[f] = caps[f]
            continue
        unfrozen.add(f)
        for ln in route:
            uses[ln] = uses.get(ln, 0) + 1
            members.setdefault(ln, set()).add(f)
    cap_heap = [(caps[f], f) for f in unfrozen]  # ties broken by flow id, like the kernel
    heapq.heapify(cap_heap)

    def freeze(f: int, level: float) -> None:
        rates[f] = min(level, caps[f])
        unfrozen.discard(f)
        for ln in routes[f]:
            members[ln].discard(f)
            uses[ln] -= 1
            if uses[ln] == 0:
                del uses[ln], members[ln]

    level = 0.0
    while unfrozen:
        while cap_heap[0][1] not in unfrozen:
            heapq.heappop(cap_heap)
        # The bottleneck is the link with the smallest fair share (lowest id on ties) ...
        delta, arg_link, arg_flow = float("inf"), None, None
        for ln in sorted(uses):
            share = remaining[ln] / uses[ln]
            if share < delta:
                delta, arg_link = share, ln
        # ... unless some flow reaches its cap first.
        cap, f = cap_heap[0]
        if cap - level < delta:
            delta, arg_link, arg_flow = cap - level, None, f

        level += delta
        for ln, n in uses.items():
            remaining[ln] -= delta * n

        # Freeze the flows that reached their cap (the heap is ordered by cap).
        while cap_heap:
            cap, f = cap_heap[0]
            if f in unfrozen and f != arg_flow and cap > level * (1.0 + tol):
                break
            heapq.heappop(cap_heap)
            if f in unfrozen:
                freeze(f, level)

        # Freeze the flows crossing a saturated link.
        for ln in sorted(uses):
            if ln in uses and (ln == arg_link or remaining[ln] <= tol * link_cap[ln]):
                for f in list(members[ln]):
                    freeze(f, level)

    return np.array(rates, dtype=np.float64)
