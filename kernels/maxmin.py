"""Max-min fair bandwidth sharing of network links between flows (progressive filling).

Flows are described in CSR form: flow ``f`` crosses the links
``route_links[route_ptr[f]:route_ptr[f + 1]]``. Each link has a capacity and each flow may
have a rate cap (a flow limited by its endpoint, e.g. a NIC or a storage array). The solver
returns the unique max-min fair rate vector: no flow's rate can be increased without
decreasing the rate of another flow whose rate is already smaller or equal.

Two implementations share the same arithmetic so that they agree to rounding:

* :func:`maxmin_rates` validates its inputs and calls the compiled ``_maxmin_kernel``;
* :func:`maxmin_rates_reference` is a readable plain-Python twin used by the tests.

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
from numba import njit

__all__ = ["SATURATION_RTOL", "maxmin_rates", "maxmin_rates_reference"]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

#: A link is saturated when its remaining capacity is <= SATURATION_RTOL * capacity; a
#: flow reaches its cap when the filling level is >= cap / (1 + SATURATION_RTOL).
SATURATION_RTOL = 1e-12


# --------------------------------------------------------------------------------------
# Compiled kernel
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _freeze(f, rate, route_ptr, route_links, count, frozen, rates):
    """Fix flow ``f`` at ``rate`` and release its link occurrences; return 1."""
    frozen[f] = True
    rates[f] = rate
    for k in range(route_ptr[f], route_ptr[f + 1]):
        count[route_links[k]] -= 1
    return 1


@njit(cache=True)
def _maxmin_kernel(route_ptr, route_links, capacity, rate_cap, rates):
    """Progressive-filling max-min solver; writes the rate of every flow into ``rates``.

    Inputs are assumed valid (see :func:`maxmin_rates`). All work arrays are allocated
    once up front; each round is O(L) plus the work of freezing flows, so the total is
    O(F·L_route + L·rounds + F log F) with rounds <= F.

    Returns the number of filling rounds performed.
    """
    n_flows = route_ptr.shape[0] - 1
    n_links = capacity.shape[0]
    n_occ = route_links.shape[0]
    tol = SATURATION_RTOL

    # -- work arrays (allocated once) --------------------------------------------------
    remaining = capacity.copy()  # capacity not yet handed out
    count = np.zeros(n_links, dtype=np.int64)  # unfrozen flow occurrences per link
    frozen = np.zeros(n_flows, dtype=np.bool_)
    link_ptr = np.zeros(n_links + 1, dtype=np.int64)  # transpose: link -> flows (CSR)
    link_flows = np.empty(n_occ, dtype=np.int64)
    fill = np.empty(n_links, dtype=np.int64)

    # -- transpose the route matrix ----------------------------------------------------
    for k in range(n_occ):
        link_ptr[route_links[k] + 1] += 1
    for ln in range(n_links):
        link_ptr[ln + 1] += link_ptr[ln]
        fill[ln] = link_ptr[ln]
    for f in range(n_flows):
        for k in range(route_ptr[f], route_ptr[f + 1]):
            ln = route_links[k]
            link_flows[fill[ln]] = f
            fill[ln] += 1

    # -- flows with an empty route get their cap; the others start unfrozen -------------
    n_active = 0
    for f in range(n_flows):
        if route_ptr[f + 1] == route_ptr[f]:
            frozen[f] = True
            rates[f] = rate_cap[f]
        else:
            n_active += 1
            for k in range(route_ptr[f], route_ptr[f + 1]):
                count[route_links[k]] += 1

    order = np.argsort(rate_cap, kind="mergesort")  # flows by increasing cap (stable)
    p = 0  # next candidate in ``order``

    # -- progressive filling ----------------------------------------------------------
    level = 0.0  # common rate of all unfrozen flows
    rounds = 0
    while n_active > 0:
        rounds += 1
        while p < n_flows and frozen[order[p]]:
            p += 1

        # Bottleneck: smallest fair share over links, or smallest gap to a flow cap.
        delta = np.inf
        arg_link = -1
        arg_flow = -1
        for ln in range(n_links):
            if count[ln] > 0:
                share = remaining[ln] / count[ln]
                if share < delta:
                    delta = share
                    arg_link = ln
        if p < n_flows:
            gap = rate_cap[order[p]] - level
            if gap < delta:
                delta = gap
                arg_link = -1
                arg_flow = order[p]

        # Raise every unfrozen flow by delta.
        level += delta
        for ln in range(n_links):
            if count[ln] > 0:
                remaining[ln] -= delta * count[ln]

        # Freeze flows that reached their cap.
        while p < n_flows:
            f = order[p]
            if frozen[f]:
                p += 1
            elif f == arg_flow or rate_cap[f] <= level * (1.0 + tol):
                n_active -= _freeze(
                    f, min(level, rate_cap[f]), route_ptr, route_links, count, frozen, rates
                )
                p += 1
            else:
                break

        # Freeze flows crossing a saturated link.
        for ln in range(n_links):
            if count[ln] > 0 and (ln == arg_link or remaining[ln] <= tol * capacity[ln]):
                for j in range(link_ptr[ln], link_ptr[ln + 1]):
                    f = link_flows[j]
                    if not frozen[f]:
                        n_active -= _freeze(
                            f,
                            min(level, rate_cap[f]),
                            route_ptr,
                            route_links,
                            count,
                            frozen,
                            rates,
                        )
    return rounds


# --------------------------------------------------------------------------------------
# Public wrapper
# --------------------------------------------------------------------------------------


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
    if route_ptr[0] != 0:
        raise ValueError(f"route_ptr[0] must be 0, got {route_ptr[0]}")
    if np.any(np.diff(route_ptr) < 0):
        raise ValueError("route_ptr must be non-decreasing")
    if route_ptr[-1] != route_links.shape[0]:
        raise ValueError(
            f"route_ptr[-1] ({route_ptr[-1]}) must equal len(route_links) ({route_links.shape[0]})"
        )

    n_links = capacity.shape[0]
    if route_links.shape[0] and (route_links.min() < 0 or route_links.max() >= n_links):
        raise ValueError(
            f"route_links must hold link ids in [0, {n_links}), got values in "
            f"[{route_links.min()}, {route_links.max()}]"
        )
    if not np.all(np.isfinite(capacity)) or np.any(capacity <= 0.0):
        raise ValueError("capacity must be finite and > 0 for every link")

    if rate_cap is not None:
        n_flows = route_ptr.shape[0] - 1
        if rate_cap.shape[0] != n_flows:
            raise ValueError(
                f"rate_cap must have one entry per flow ({n_flows}), got {rate_cap.shape[0]}"
            )
        if np.any(np.isnan(rate_cap)) or np.any(rate_cap < 0.0):
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
    ``SATURATION_RTOL`` (1e-12) times its capacity. Cost is
    O(F·L_route + L·rounds + F log F) with at most F rounds, F flows, L links.

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
