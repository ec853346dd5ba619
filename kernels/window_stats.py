"""Small per-window computations of the inference layer, compiled: percentiles of latency
arrays and categorical draws (which region a request comes from).

Each runs once per service × site window, thousands of times per simulated day, so what
matters is the fixed cost of a call as much as the per-element cost: one compiled call
replaces a handful of numpy calls. Results are bit-identical to their numpy references
(:func:`percentiles_ms_ref`, :func:`categorical_ref`): the same sort, the same arithmetic.
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit

# ============================================================================================
# Percentiles
# ============================================================================================


@njit(cache=True)
def _percentiles_kernel(values, quantiles_pct, out_ms):
    """``out_ms[k]`` = the ``quantiles_pct[k]``-th percentile of the finite ``values``, ms;
    NaN when there are none. Linear interpolation between order statistics (numpy's default
    'linear' method)."""
    ranked = np.sort(values)
    first = 0
    while first < ranked.shape[0] and ranked[first] == -np.inf:
        first += 1
    last = ranked.shape[0]
    while last > first and not (ranked[last - 1] < np.inf):  # +inf and NaN sort last
        last -= 1
    size = last - first
    for k in range(quantiles_pct.shape[0]):
        if size <= 0:
            out_ms[k] = np.nan
            continue
        position = quantiles_pct[k] / 100 * (size - 1)
        low = int(np.floor(position))
        high = min(low + 1, size - 1)
        a = ranked[first + low]
        b = ranked[first + high]
        out_ms[k] = (a + (b - a) * (position - low)) * 1000


def percentiles_ms(values: np.ndarray, quantiles_pct: np.ndarray) -> list[float | None]:
    """Percentiles of the finite entries of ``values`` [s], in milliseconds; None for each
    when no entry is finite.

    Parameters
    ----------
    values : numpy.ndarray of float64, shape (n,)
        Latencies [s]; NaN and ±inf are left out.
    quantiles_pct : numpy.ndarray of float64, shape (k,)
        Percentiles wanted, in [0, 100].
    """
    if values.shape[0] > _COMPILED_UP_TO:  # numpy's sort is the faster one for large arrays
        return percentiles_ms_ref(values, quantiles_pct)
    out = np.empty(quantiles_pct.shape[0])
    _percentiles_kernel(np.ascontiguousarray(values, dtype=np.float64), quantiles_pct, out)
    return [None if value != value else float(value) for value in out]


_COMPILED_UP_TO = 1000
"""Up to this many values the compiled kernel (no call overhead) is faster than numpy's
vectorised sort; beyond, numpy is (the two give the same numbers)."""


def percentiles_ms_ref(values: np.ndarray, quantiles_pct: np.ndarray) -> list[float | None]:
    """Plain numpy twin of :func:`percentiles_ms`."""
    ranked = np.sort(values)
    first = int(np.searchsorted(ranked, -np.inf, side="right"))
    last = int(np.searchsorted(ranked, np.inf, side="left"))
    size = last - first
    if size <= 0:
        return [None] * len(quantiles_pct)
    position = np.asarray(quantiles_pct) / 100 * (size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    a, b = ranked[first + low], ranked[first + high]
    return ((a + (b - a) * (position - low)) * 1000).tolist()


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
