"""Routing of regional inference demand to hosting sites, compiled (the ``slo_aware`` fill).

Called once per service and window; the fill walks every (region, site) pair in order of
round trip, so in Python it costs a loop over regions × sites each window.
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit


@njit(cache=True)
def _fill_kernel(demand, times, room, budget, flows):
    n_regions, n_sites = times.shape
    left = demand.copy()
    order = np.argsort(times.ravel(), kind="mergesort")  # stable, as numpy's
    for flat in order:
        r = flat // n_sites
        v = flat - r * n_sites
        if left[r] <= 0 or room[v] <= 0 or times[r, v] >= budget:
            continue
        take = min(left[r], room[v])
        flows[r, v] += take
        left[r] -= take
        room[v] -= take
    for r in range(n_regions):
        best = 0
        for v in range(1, n_sites):
            if times[r, v] < times[r, best]:
                best = v
        flows[r, best] += left[r]


def fill_nearest_first(
    demand: np.ndarray, times: np.ndarray, room: np.ndarray, budget: float
) -> np.ndarray:
    """Requests/s per region × site: the pairs taken in order of round trip (ties in row
    order), each region sending what it has left to the site while the site has room and
    the round trip is under ``budget``; what is left over goes to the region's nearest site.

    Parameters
    ----------
    demand : numpy.ndarray of float64, shape (r,)
        Requests/s from each region.
    times : numpy.ndarray of float64, shape (r, s)
        Round trip from each region to each site [s].
    room : numpy.ndarray of float64, shape (s,)
        Requests/s each site can still take (consumed; pass a copy to keep it).
    budget : float
        Round trips at or above it are not used for filling [s] (``inf``: no limit).

    Returns
    -------
    numpy.ndarray of float64, shape (r, s)
    """
    flows = np.zeros(times.shape)
    _fill_kernel(
        np.ascontiguousarray(demand, dtype=np.float64),
        np.ascontiguousarray(times, dtype=np.float64),
        np.array(room, dtype=np.float64),
        float(budget),
        flows,
    )
    return flows


def fill_nearest_first_ref(
    demand: np.ndarray, times: np.ndarray, room: np.ndarray, budget: float
) -> np.ndarray:
    """Plain-Python twin of :func:`fill_nearest_first`."""
    left = np.asarray(demand, dtype=float).copy()
    room = np.array(room, dtype=float)
    flows = np.zeros(times.shape)
    order = np.argsort(times, axis=None, kind="stable")
    for flat in order:
        r, v = divmod(int(flat), times.shape[1])
        if left[r] <= 0 or room[v] <= 0 or times[r, v] >= budget:
            continue
        take = min(left[r], room[v])
        flows[r, v] += take
        left[r] -= take
        room[v] -= take
    flows[np.arange(len(left)), np.argmin(times, axis=1)] += left
    return flows
