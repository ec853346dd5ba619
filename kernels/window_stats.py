"""Small per-window computations of the inference layer, compiled: percentiles of latency
arrays and categorical draws (which region a request comes from).

Each runs once per service × site window, thousands of times per simulated day, so what
matters is the fixed cost of a call as much as the per-element cost: one compiled call
replaces a handful of numpy calls. Results are bit-identical to their numpy references
(:func:`percentiles_ms_ref`, :func:`categorical_ref`): the same order statistics, the same
arithmetic.
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit

# ============================================================================================
# Percentiles
# ============================================================================================


@njit(cache=True)
def _select(values, lo, hi, k):
    """Permute ``values[lo:hi]`` so that ``values[k]`` holds its ``k - lo``-th smallest entry,
    none after it smaller and none before it larger (Hoare's quickselect, median-of-three
    pivot); returns that entry. The entries must be finite."""
    while hi - lo > 1:
        mid = (lo + hi - 1) >> 1
        x, y, z = values[lo], values[mid], values[hi - 1]
        pivot = max(min(x, y), min(max(x, y), z))  # the median of the three
        i, j = lo, hi - 1
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j + 1
        elif k >= i:
            lo = i
        else:
            break  # values[j + 1 : i] all equal the pivot
    return values[k]


@njit(cache=True)
def _percentiles_kernel(groups, quantiles_pct, out_ms):
    """``out_ms`` = for each group ``g`` in turn, the ``quantiles_pct[g]`` percentiles of the
    finite entries of ``groups[g]``, ms; NaN where a group has none. Linear interpolation
    between order statistics (numpy's default 'linear' method), the order statistics found
    by selection rather than a sort (the same entries, so the same numbers)."""
    longest = 0
    for g in range(len(groups)):
        longest = max(longest, groups[g].shape[0])
    finite = np.empty(longest)
    o = 0
    for g in range(len(groups)):
        size = 0
        for value in groups[g]:
            if -np.inf < value < np.inf:  # NaN fails both
                finite[size] = value
                size += 1
        quantiles = quantiles_pct[g]
        placed = 0  # finite[:placed] holds nothing larger than finite[placed:]
        for k in range(quantiles.shape[0]):
            if size == 0:
                out_ms[o] = np.nan
                o += 1
                continue
            position = quantiles[k] / 100 * (size - 1)
            low = int(np.floor(position))
            if low < placed:
                placed = 0
            a = _select(finite, placed, size, low)
            placed = low
            b = a
            if low + 1 < size:  # the next order statistic: the least entry after ``low``
                b = finite[low + 1]
                for i in range(low + 2, size):
                    if finite[i] < b:
                        b = finite[i]
            out_ms[o] = (a + (b - a) * (position - low)) * 1000
            o += 1


def percentiles_ms(
    groups: tuple[np.ndarray, ...], quantiles_pct: tuple[np.ndarray, ...]
) -> list[float | None]:
    """Percentiles of the finite entries of each group of values [s], in milliseconds, in one
    compiled call (a window's TTFT, TPOT and latency at once); None where a group has no
    finite entry.

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
        tuple(np.ascontiguousarray(g, dtype=np.float64) for g in groups),
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


@njit(cache=True)
def _categorical_kernel(cumulative, uniform, out):
    """``out[i] = min(#{cumulative <= uniform[i]}, len(cumulative) - 1)``: binary search."""
    n = cumulative.shape[0]
    last = n - 1
    for i in range(uniform.shape[0]):
        u = uniform[i]
        lo, hi = 0, n
        while lo < hi:  # first index with cumulative > u (searchsorted side='right')
            mid = (lo + hi) >> 1
            if cumulative[mid] <= u:
                lo = mid + 1
            else:
                hi = mid
        out[i] = lo if lo < last else last


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
