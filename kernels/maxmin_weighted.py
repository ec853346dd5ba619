"""Weighted max-min fair sharing: a flow's share of a bottleneck is proportional to 1 / w_f.

The weighted variant of :mod:`twin.kernels.maxmin` (kept apart so that the unweighted
solver, the one every run uses by default, stays as it is). Each flow ``f`` has a
consumption weight ``w_f > 0``; progressive filling raises a common level ``λ`` and every
unfrozen flow runs at ``λ / w_f``, so on a link that saturates the flows crossing it get
rates in the ratio of their ``1 / w_f``. With every ``w_f = 1`` this is plain max-min.

SimGrid's CM02 model [1]_ weights a flow by its route's round-trip time (TCP's throughput
is inversely proportional to its RTT), which is what ``network.sharing: rtt_weighted`` asks
for: ``w_f = RTT_f``.

:func:`weighted_network_solve` is the network model's solve with weights (the rates, each
link's total and the time to the next drain in one compiled call, like
:func:`twin.kernels.maxmin.network_solve`); :func:`weighted_maxmin_rates_reference` is the
plain-Python twin of the solver.

.. [1] H. Casanova, "Modeling large-scale platforms ...", and SimGrid's CM02 network model
   (``src/kernel/resource/NetworkCm02Model.cpp``): each flow's variable has the route's
   latency as its sharing penalty; Velho et al., ACM TOMACS 23(4), 2013.
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit
from twin.kernels.maxmin import SATURATION_RTOL, _check_inputs, _totals_and_next_drain

__all__ = [
    "weighted_maxmin_rates",
    "weighted_maxmin_rates_reference",
    "weighted_network_solve",
]


@njit(cache=True)
def _weighted_kernel(route_ptr, route_links, capacity, rate_cap, weight, rates):
    """Weighted progressive filling; writes each flow's rate into ``rates``; returns rounds.

    O(rounds × (links + flows)) with rounds <= flows: a plain loop, meant for the few
    flows of a network solve.
    """
    n_flows = route_ptr.shape[0] - 1
    n_links = capacity.shape[0]
    tol = SATURATION_RTOL
    load = np.zeros(n_links)  # sum of 1 / w over the unfrozen flows' occurrences
    count = np.zeros(n_links, dtype=np.int64)  # the unfrozen flows' occurrences
    remaining = capacity.copy()
    frozen = np.zeros(n_flows, dtype=np.uint8)
    n_active = 0
    for f in range(n_flows):
        if route_ptr[f] == route_ptr[f + 1]:
            frozen[f] = 1
            rates[f] = rate_cap[f]
            continue
        n_active += 1
        for k in range(route_ptr[f], route_ptr[f + 1]):
            load[route_links[k]] += 1.0 / weight[f]
            count[route_links[k]] += 1
    saturated = np.zeros(n_links, dtype=np.uint8)
    level = 0.0
    rounds = 0
    while n_active > 0:
        rounds += 1
        delta = np.inf
        arg_link = -1
        for ln in range(n_links):
            if load[ln] > 0.0:
                share = remaining[ln] / load[ln]
                if share < delta:
                    delta = share
                    arg_link = ln
        arg_flow = -1
        for f in range(n_flows):
            if not frozen[f] and rate_cap[f] < np.inf:
                gap = rate_cap[f] * weight[f] - level
                if gap < delta:
                    delta = gap
                    arg_link = -1
                    arg_flow = f
        level += delta
        for ln in range(n_links):
            saturated[ln] = 0
            if load[ln] > 0.0:
                remaining[ln] -= delta * load[ln]
                if ln == arg_link or remaining[ln] <= tol * capacity[ln]:
                    saturated[ln] = 1
        limit = level * (1.0 + tol)
        for f in range(n_flows):
            if frozen[f]:
                continue
            hit = f == arg_flow or rate_cap[f] * weight[f] <= limit
            if not hit:
                for k in range(route_ptr[f], route_ptr[f + 1]):
                    if saturated[route_links[k]]:
                        hit = True
                        break
            if hit:
                frozen[f] = 1
                rates[f] = min(level / weight[f], rate_cap[f])
                n_active -= 1
                for k in range(route_ptr[f], route_ptr[f + 1]):
                    ln = route_links[k]
                    count[ln] -= 1
                    load[ln] = load[ln] - 1.0 / weight[f] if count[ln] > 0 else 0.0
    return rounds


def _check_weights(weight: np.ndarray, n_flows: int) -> None:
    if not isinstance(weight, np.ndarray) or weight.dtype != np.float64 or weight.ndim != 1:
        raise ValueError("weight must be a 1-D float64 array")
    if weight.shape[0] != n_flows:
        raise ValueError(f"weight must have one entry per flow ({n_flows}), got {weight.shape[0]}")
    if not np.all((weight > 0.0) & np.isfinite(weight)):
        raise ValueError("weight must be finite and > 0")


def weighted_maxmin_rates(
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    weight: np.ndarray,
    rate_cap: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted max-min fair rates: on a shared bottleneck flow ``f`` gets a share
    proportional to ``1 / weight[f]``; otherwise the contract of
    :func:`twin.kernels.maxmin.maxmin_rates` (CSR routes, link capacities, optional caps).

    >>> import numpy as np
    >>> weighted_maxmin_rates(
    ...     np.array([0, 1, 2]), np.array([0, 0]), np.array([100.0]), np.array([0.02, 0.06])
    ... ).tolist()
    [75.0, 25.0]
    """
    _check_inputs(route_ptr, route_links, capacity, rate_cap)
    n_flows = route_ptr.shape[0] - 1
    _check_weights(weight, n_flows)
    caps = np.full(n_flows, np.inf) if rate_cap is None else rate_cap
    rates = np.empty(n_flows)
    _weighted_kernel(route_ptr, route_links, capacity, caps, weight, rates)
    return rates


def weighted_maxmin_rates_reference(
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    weight: np.ndarray,
    rate_cap: np.ndarray | None = None,
) -> np.ndarray:
    """Plain-Python twin of :func:`weighted_maxmin_rates` (sets and dicts; for tests)."""
    _check_inputs(route_ptr, route_links, capacity, rate_cap)
    n_flows = len(route_ptr) - 1
    _check_weights(weight, n_flows)
    w = [float(x) for x in weight]
    caps = [float("inf")] * n_flows if rate_cap is None else [float(c) for c in rate_cap]
    routes = [
        [int(x) for x in route_links[route_ptr[f] : route_ptr[f + 1]]] for f in range(n_flows)
    ]
    remaining = [float(c) for c in capacity]
    rates = [0.0] * n_flows
    unfrozen = set()
    for f, route in enumerate(routes):
        if route:
            unfrozen.add(f)
        else:
            rates[f] = caps[f]
    level = 0.0
    while unfrozen:
        load: dict[int, float] = {}
        for f in sorted(unfrozen):
            for ln in routes[f]:
                load[ln] = load.get(ln, 0.0) + 1.0 / w[f]
        # the smallest increment of the level: a link fills up, or a flow reaches its cap
        shares = {ln: remaining[ln] / x for ln, x in load.items()}
        gaps = {f: caps[f] * w[f] - level for f in unfrozen}
        delta = min([*shares.values(), *gaps.values()])
        level += delta
        for ln, x in load.items():
            remaining[ln] -= delta * x
        full = {
            ln
            for ln in load
            if shares[ln] <= delta or remaining[ln] <= SATURATION_RTOL * capacity[ln]
        }
        for f in sorted(unfrozen):
            if (
                gaps[f] <= delta
                or caps[f] * w[f] <= level * (1 + SATURATION_RTOL)
                or any(ln in full for ln in routes[f])
            ):
                rates[f] = min(level / w[f], caps[f])
                unfrozen.discard(f)
    return np.array(rates)


@njit(cache=True)
def _weighted_solve_kernel(
    n_flows, route_ptr, route_links, capacity, rate_cap, weight, remaining_bits, rates,
    rates_bps, channel_bps,
):  # fmt: skip
    ptr = route_ptr[: n_flows + 1]
    _weighted_kernel(
        ptr, route_links[: ptr[n_flows]], capacity, rate_cap[:n_flows], weight[:n_flows],
        rates[:n_flows],
    )  # fmt: skip
    return _totals_and_next_drain(n_flows, ptr, route_links, rates, rates_bps, channel_bps,
                                  remaining_bits)  # fmt: skip


def weighted_network_solve(
    n_flows: int,
    route_ptr: np.ndarray,
    route_links: np.ndarray,
    capacity: np.ndarray,
    rate_cap: np.ndarray,
    weight: np.ndarray,
    remaining_bits: np.ndarray,
    rates: np.ndarray,
    rates_bps: np.ndarray,
    channel_bps: np.ndarray,
) -> float:
    """:func:`twin.kernels.maxmin.network_solve` with a consumption weight per flow."""
    return _weighted_solve_kernel(
        n_flows, route_ptr, route_links, capacity, rate_cap, weight, remaining_bits, rates,
        rates_bps, channel_bps,
    )  # fmt: skip
