"""Log-bucket latency sketches (DDSketch's layout): a window's latencies as counts per bucket
of fixed relative width, so that windows, sites and regions merge by adding counts and any
quantile of the union is read to within ``ALPHA`` of the exact one.

Bucket ``i`` covers ``(GAMMA**(i - 1), GAMMA**i]`` seconds, ``GAMMA = (1 + ALPHA) / (1 -
ALPHA)``; its representative value ``2 GAMMA**i / (GAMMA + 1)`` is within ``ALPHA`` (relative)
of every value in it (Masson, Rim and Lee, "DDSketch", VLDB 2019). The index range is fixed,
``INDEX_MIN`` .. ``INDEX_MAX`` (1 µs to 1e5 s): smaller values (zero too) are counted in
``INDEX_MIN``, larger ones in ``INDEX_MAX``, so a quantile that falls in an end bucket is only
bounded, not within ``ALPHA``. The readers (``twin.trace.sketches``) hold the same constants
(a test checks they agree).
"""

from __future__ import annotations

import math

import numpy as np
from twin.kernels._jit import njit

ALPHA = 0.01
"""Relative accuracy of a quantile read from a sketch."""
GAMMA = (1 + ALPHA) / (1 - ALPHA)
LOG_GAMMA = math.log(GAMMA)
INDEX_MIN = math.ceil(math.log(1e-6) / LOG_GAMMA)
"""The lowest bucket (it holds 1 µs, and everything below)."""
INDEX_MAX = math.ceil(math.log(1e5) / LOG_GAMMA)
"""The highest bucket (it holds 1e5 s, and everything above)."""
BUCKETS = INDEX_MAX - INDEX_MIN + 1

_NO_BINS = np.zeros(0, dtype=np.int16)
_NO_COUNTS = np.zeros(0, dtype=np.int32)


@njit(cache=True)
def _bucket(x, log_gamma, index_min, index_max):
    """The bucket of ``x`` (clamped to the range; zero and below in the lowest);
    ``index_min - 1`` for NaN and ±inf (left out)."""
    if not np.isfinite(x):
        return index_min - 1
    if x <= 0.0:
        return index_min
    return min(max(int(np.ceil(np.log(x) / log_gamma)), index_min), index_max)


@njit(cache=True)
def _sketch_kernel(values, log_gamma, index_min, index_max, dense):
    """Count each finite value of ``values`` into ``dense[i - index_min]`` (its bucket ``i``);
    return how many were counted."""
    counted = 0
    for k in range(values.shape[0]):
        i = _bucket(values[k], log_gamma, index_min, index_max)
        if i >= index_min:
            dense[i - index_min] += 1
            counted += 1
    return counted


@njit(cache=True)
def _group_kernel(values, groups, log_gamma, index_min, index_max, dense):
    """Count each finite ``values[k]`` into ``dense[groups[k], i - index_min]``."""
    for k in range(values.shape[0]):
        i = _bucket(values[k], log_gamma, index_min, index_max)
        if i >= index_min:
            dense[groups[k], i - index_min] += 1


def sketch(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sparse sketch of ``values`` [s]: the buckets holding any value, ascending, and
    their counts; NaN and ±inf are left out (as the window percentiles leave them out).

    Parameters
    ----------
    values : numpy.ndarray of float64, shape (n,)

    Returns
    -------
    bins : numpy.ndarray of int16, shape (b,)
        Bucket indices, ascending.
    counts : numpy.ndarray of int32, shape (b,)
        Values in each (all > 0).
    """
    if not len(values):
        return _NO_BINS, _NO_COUNTS
    dense = np.zeros(BUCKETS, dtype=np.int32)
    values = np.ascontiguousarray(values, dtype=np.float64)
    if not _sketch_kernel(values, LOG_GAMMA, INDEX_MIN, INDEX_MAX, dense):
        return _NO_BINS, _NO_COUNTS
    held = np.flatnonzero(dense)
    return (held + INDEX_MIN).astype(np.int16), dense[held]


def sketch_ref(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy twin of :func:`sketch`."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    with np.errstate(divide="ignore"):
        index = np.ceil(np.log(np.maximum(values, 0.0)) / LOG_GAMMA)
    index = np.clip(np.nan_to_num(index, neginf=INDEX_MIN), INDEX_MIN, INDEX_MAX)
    bins, counts = np.unique(index.astype(np.int64), return_counts=True)
    return bins.astype(np.int16), counts.astype(np.int32)


def count_by_group(values: np.ndarray, groups: np.ndarray, dense: np.ndarray) -> None:
    """Add the values [s] of each group to its dense histogram, in place (a window's
    latencies by demand region); NaN and ±inf are left out.

    Parameters
    ----------
    values : numpy.ndarray of float64, shape (n,)
    groups : numpy.ndarray of int64, shape (n,)
        The group of each value, in ``[0, dense.shape[0])``.
    dense : numpy.ndarray of int64, shape (g, BUCKETS)
        Running counts; column ``j`` is bucket ``INDEX_MIN + j``.
    """
    if len(values) != len(groups):
        raise ValueError(f"{len(values)} values but {len(groups)} groups")
    if len(values):
        values = np.ascontiguousarray(values, dtype=np.float64)
        groups = np.ascontiguousarray(groups, dtype=np.int64)
        _group_kernel(values, groups, LOG_GAMMA, INDEX_MIN, INDEX_MAX, dense)


def count_by_group_ref(values: np.ndarray, groups: np.ndarray, dense: np.ndarray) -> None:
    """Plain numpy twin of :func:`count_by_group` (one :func:`sketch_ref` per group)."""
    for g in np.unique(groups):
        bins, counts = sketch_ref(np.asarray(values)[groups == g])
        dense[g, bins.astype(np.int64) - INDEX_MIN] += counts


def sparse(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The sparse sketch (bins, counts) of one dense histogram; None if it holds nothing."""
    held = np.flatnonzero(dense)
    if not len(held):
        return None
    return (held + INDEX_MIN).astype(np.int16), dense[held].astype(np.int32)
