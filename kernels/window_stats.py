"""Small per-window computations of the inference layer, compiled: percentiles of latency
arrays, categorical draws (which region a request comes from) and tallies by region.

Each runs once per service × site window, thousands of times per simulated day, so what
matters is the fixed cost of a call as much as the per-element cost: one compiled call
replaces a handful of numpy calls. Results are bit-identical to their numpy references
(:func:`percentiles_ms_ref`, :func:`categorical_ref`, :func:`tally_regions_ref`): the same
sort, the same arithmetic.
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit

# ============================================================================================
# Percentiles
# ============================================================================================


_EMPTY = np.zeros(0)


@njit(cache=True)
def _percentiles_kernel(ranked_groups, quantiles_pct, out_ms):
    """``out_ms`` = for each sorted group ``g`` in turn, the ``quantiles_pct[g]`` percentiles
    of its finite entries, ms; NaN where a group has none. Linear interpolation between order
    statistics (numpy's default 'linear' method)."""
    o = 0
    for g in range(len(ranked_groups)):
        ranked = ranked_groups[g]
        first = 0
        while first < ranked.shape[0] and ranked[first] == -np.inf:
            first += 1
        last = ranked.shape[0]
        while last > first and not (ranked[last - 1] < np.inf):  # +inf and NaN sort last
            last -= 1
        size = last - first
        quantiles = quantiles_pct[g]
        for k in range(quantiles.shape[0]):
            if size <= 0:
                out_ms[o] = np.nan
            else:
                position = quantiles[k] / 100 * (size - 1)
                low = int(np.floor(position))
                high = min(low + 1, size - 1)
                a = ranked[first + low]
                b = ranked[first + high]
                out_ms[o] = (a + (b - a) * (position - low)) * 1000
            o += 1


def percentiles_ms(
    groups: tuple[np.ndarray, ...], quantiles_pct: tuple[np.ndarray, ...]
) -> list[float | None]:
    """Percentiles of the finite entries of each group of values [s], in milliseconds (a
    window's TTFT, TPOT and latency at once); None where a group has no finite entry.

    Each group is sorted by numpy (its vectorised sort beats a compiled sort or selection
    at every size that matters here); the order statistics of all groups are then read in
    one compiled call.

    Parameters
    ----------
    groups : tuple of numpy.ndarray of float64, shape (n_g,)
        Latencies [s]; NaN and ±inf are left out.
    quantiles_pct : tuple of numpy.ndarray of float64, shape (k_g,)
        Percentiles wanted of each group, in [0, 100].

    Returns
    -------
    list of float or None
        The ``k_g`` percentiles of each group in turn, ``sum(k_g)`` in all.
    """
    out = np.empty(sum(q.shape[0] for q in quantiles_pct))
    _percentiles_kernel(
        tuple(np.sort(np.asarray(g, dtype=np.float64)) if len(g) else _EMPTY for g in groups),
        tuple(np.ascontiguousarray(q, dtype=np.float64) for q in quantiles_pct),
        out,
    )
    return [None if value != value else value for value in out.tolist()]


def percentiles_ms_ref(
    groups: tuple[np.ndarray, ...], quantiles_pct: tuple[np.ndarray, ...]
) -> list[float | None]:
    """Plain numpy twin of :func:`percentiles_ms` (a sort per group)."""
    out: list[float | None] = []
    for values, quantiles in zip(groups, quantiles_pct, strict=True):
        ranked = np.sort(values)
        first = int(np.searchsorted(ranked, -np.inf, side="right"))
        last = int(np.searchsorted(ranked, np.inf, side="left"))
        size = last - first
        if size <= 0:
            out += [None] * len(quantiles)
            continue
        position = np.asarray(quantiles) / 100 * (size - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, size - 1)
        a, b = ranked[first + low], ranked[first + high]
        out += ((a + (b - a) * (position - low)) * 1000).tolist()
    return out


# ============================================================================================
# Categorical draws
# ============================================================================================


GUIDE_BUCKETS = 64
"""Buckets of the guide table of :func:`_categorical_kernel` (a power of two, so that a
bucket's edge ``j / GUIDE_BUCKETS`` and ``u * GUIDE_BUCKETS`` are exact)."""


@njit(cache=True)
def _categorical_kernel(cumulative, uniform, out):
    """``out[i] = min(#{cumulative <= uniform[i]}, len(cumulative) - 1)``.

    A guide table (Chen and Asau's indexed search, Devroye 1986, §III.2.4) holds, for each
    bucket ``[j / B, (j + 1) / B)`` of [0, 1), the first category whose cumulative exceeds
    the bucket's lower edge; a draw scans on from its bucket's entry, one or two steps
    instead of a binary search's unpredictable branches. The answer is the binary search's
    (searchsorted side='right'): the entry is never past it. Draws outside [0, 1) scan from
    the first category.
    """
    n = cumulative.shape[0]
    last = n - 1
    guide = np.empty(GUIDE_BUCKETS, dtype=np.int64)
    k = 0
    for j in range(GUIDE_BUCKETS):
        edge = j / GUIDE_BUCKETS
        while k < n and cumulative[k] <= edge:
            k += 1
        guide[j] = k
    for i in range(uniform.shape[0]):
        u = uniform[i]
        k = guide[int(u * GUIDE_BUCKETS)] if 0.0 <= u < 1.0 else 0
        while k < n and cumulative[k] <= u:
            k += 1
        out[i] = k if k < last else last


def categorical(cumulative: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """The category of each uniform draw: ``min(searchsorted(cumulative, u, 'right'), k - 1)``.

    Parameters
    ----------
    cumulative : numpy.ndarray of float64, shape (k,)
        Non-decreasing cumulative probabilities (the last one 1, up to rounding).
    uniform : numpy.ndarray of float64, shape (n,)
        Draws in [0, 1).

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
    """
    out = np.empty(uniform.shape[0], dtype=np.int64)
    _categorical_kernel(cumulative, uniform, out)
    return out


def categorical_ref(cumulative: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Plain numpy twin of :func:`categorical`."""
    found = np.searchsorted(cumulative, uniform, side="right")
    return np.minimum(found, len(cumulative) - 1).astype(np.int64)


# ============================================================================================
# Tallies by region
# ============================================================================================


@njit(cache=True)
def _tally_kernel(totals, arrived, served, missed, dropped):
    """Add one to ``totals[0, r]`` per arrival from region ``r``, ``totals[1, r]`` per request
    served, ``totals[2, r]`` per drop and ``totals[3, r]`` per served request that missed."""
    for r in arrived:
        totals[0, r] += 1
    for i in range(served.shape[0]):
        totals[1, served[i]] += 1
        if missed[i]:
            totals[3, served[i]] += 1
    for r in dropped:
        totals[2, r] += 1


def tally_regions(
    totals: np.ndarray,
    arrived: np.ndarray,
    served: np.ndarray,
    missed: np.ndarray,
    dropped: np.ndarray,
) -> None:
    """Count a window's requests by region into ``totals``, in place: rows arrived, served,
    dropped, missed (the SLO, of those served).

    Parameters
    ----------
    totals : numpy.ndarray of float64, shape (4, regions)
        Running counts (whole numbers, so exact in any order).
    arrived, served, dropped : numpy.ndarray of int64
        The region of each arrival, served request and drop.
    missed : numpy.ndarray of bool, shape like ``served``
        Whether each served request missed its SLO.
    """
    _tally_kernel(totals, arrived, served, missed, dropped)


def tally_regions_ref(
    totals: np.ndarray,
    arrived: np.ndarray,
    served: np.ndarray,
    missed: np.ndarray,
    dropped: np.ndarray,
) -> None:
    """Plain numpy twin of :func:`tally_regions`."""
    n = totals.shape[1]
    totals += np.vstack(
        [
            np.bincount(arrived, minlength=n),
            np.bincount(served, minlength=n),
            np.bincount(dropped, minlength=n),
            np.bincount(served[missed], minlength=n),
        ]
    )
