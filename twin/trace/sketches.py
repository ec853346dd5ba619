"""Percentiles over any set of inference windows, from the latency sketches of their rows.

Each row of ``inference.arrow`` carries, for TTFT, TPOT, end-to-end latency, the time between
tokens and the scheduling delay, a sparse log-bucket histogram of the window's requests (of
its token gaps, for TBT) (``<metric>_sketch_bins`` and
``<metric>_sketch_counts``; written by :mod:`twin.kernels.sketch`, whose layout constants
these are), and each row of ``inference_regions.arrow`` the same of a demand region's
requests over a telemetry interval. Sketches merge by adding counts, so the percentile of a
day, a site, a region or a set of them is read from the merged histogram within ``ALPHA``
(relative) of the exact percentile of the same requests, which no combination of per-window
percentiles gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.trace.errors import RunError
from twin.trace.scan import column_names, scan

ALPHA = 0.01
"""Relative accuracy of a percentile read from a sketch (the bucket error)."""
GAMMA = (1 + ALPHA) / (1 - ALPHA)
INDEX_MIN = math.ceil(math.log(1e-6) / math.log(GAMMA))
"""The lowest bucket: 1 µs and everything below."""
INDEX_MAX = math.ceil(math.log(1e5) / math.log(GAMMA))
"""The highest bucket: 1e5 s and everything above."""
BUCKETS = INDEX_MAX - INDEX_MIN + 1
METRICS = ("ttft", "tpot", "latency", "tbt", "sched_delay")
"""The latencies a row sketches (TBT counts gaps between tokens; the others requests)."""


def merge(bins: Iterable[np.ndarray], counts: Iterable[np.ndarray]) -> np.ndarray:
    """The dense histogram (int64, ``BUCKETS`` long, bucket ``INDEX_MIN`` first) of sparse
    sketches: the counts of each bucket added up; RunError for a bucket off the layout."""
    index = np.concatenate([np.zeros(0, dtype=np.int64), *bins]).astype(np.int64) - INDEX_MIN
    weights = np.concatenate([np.zeros(0, dtype=np.int64), *counts])
    _check(index, weights)
    # float64 sums of whole numbers are exact below 2**53 requests
    return np.bincount(index, weights=weights, minlength=BUCKETS).astype(np.int64)


def _check(index: np.ndarray, counts: np.ndarray) -> None:
    """RunError if a bucket (offset from INDEX_MIN) lies off the layout, or a count is not
    positive, or the bins and counts of a sketch differ in length."""
    if len(index) != len(counts):
        raise RunError("a latency sketch's bins and counts differ in number")
    if len(index) and (index.min() < 0 or index.max() >= BUCKETS):
        raise RunError(f"a latency sketch has a bucket outside {INDEX_MIN}..{INDEX_MAX}")
    if len(counts) and counts.min() < 1:
        raise RunError("a latency sketch has a count below 1")


def flat_sketches(
    bins: pa.ChunkedArray | pa.Array, counts: pa.ChunkedArray | pa.Array
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sketches of a column's rows as flat arrays: bucket offsets from INDEX_MIN, counts,
    and the row each belongs to (null rows have none); RunError if malformed (a row's bins
    and counts differing in number, a bucket off the layout, a count below 1)."""
    if isinstance(bins, pa.ChunkedArray):
        bins = bins.combine_chunks()
    if isinstance(counts, pa.ChunkedArray):
        counts = counts.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(bins), 0).to_numpy()
    if not np.array_equal(lengths, pc.fill_null(pc.list_value_length(counts), 0).to_numpy()):
        raise RunError("a latency sketch's bins and counts differ in number")
    owner = pc.list_parent_indices(bins).to_numpy()
    index = pc.list_flatten(bins).to_numpy().astype(np.int64) - INDEX_MIN
    weights = pc.list_flatten(counts).to_numpy()
    _check(index, weights)
    return index, weights, owner


def merge_column(table: pa.Table, metric: str) -> np.ndarray:
    """The dense histogram of ``metric`` over every row of ``table`` (null rows add none;
    a table without the metric's sketch columns, written before them, none at all)."""
    if f"{metric}_sketch_bins" not in table.column_names:
        return np.zeros(BUCKETS, dtype=np.int64)
    index, counts, _ = flat_sketches(
        table[f"{metric}_sketch_bins"], table[f"{metric}_sketch_counts"]
    )
    return merge([index + INDEX_MIN], [counts])


def quantiles_s(dense: np.ndarray, qs: Sequence[float]) -> list[float | None]:
    """The ``qs`` quantiles (in [0, 1]) of a dense histogram [s], DDSketch's estimate: the
    bucket ``i`` holding the sorted value of rank ``floor(q (n − 1))`` (0-based), read as
    ``2 γ^i / (γ + 1)``; None for an empty histogram."""
    cumulative = np.cumsum(dense)
    total = int(cumulative[-1])
    if total == 0:
        return [None] * len(qs)
    out: list[float | None] = []
    for q in qs:
        rank = math.floor(q * (total - 1))
        bucket = int(np.searchsorted(cumulative, rank, side="right"))
        out.append(2 * GAMMA ** (bucket + INDEX_MIN) / (GAMMA + 1))
    return out


def share_within(dense: np.ndarray, threshold_s: float) -> float | None:
    """The share of a dense histogram's values at most ``threshold_s`` (an SLO's attainment
    for one metric), read as :func:`quantiles_s` reads values: a bucket counts as within when
    its estimate ``2 γ^i / (γ + 1)`` is, so the share is exact but for the requests within
    ``ALPHA`` of the threshold; None for an empty histogram."""
    total = int(dense.sum())
    if total == 0:
        return None
    estimates = 2 * GAMMA ** (np.arange(BUCKETS) + INDEX_MIN) / (GAMMA + 1)
    return float(dense[estimates <= threshold_s].sum() / total)


TABLE_OF = {"site": "inference", "region": "inference_regions"}
"""Where the sketches of each kind of key are: a site's per window, a demand region's per
telemetry interval."""


def by_service_and(directory: Path, key: str = "site") -> dict[tuple[str, str], np.ndarray]:
    """The merged histograms of every (service, ``key``) of the run in ``directory`` over the
    whole run (``key`` site or region): ``(len(METRICS), BUCKETS)`` int64 each, rows in the
    order of METRICS. Empty for a run written before the sketches (no sketch columns)."""
    table = TABLE_OF[key]
    present = sketched_metrics(directory, table)
    if not present:
        return {}
    columns = ["service", key]
    columns += [f"{m}_sketch_{part}" for m in present for part in ("bins", "counts")]
    merged: dict[tuple[str, str], np.ndarray] = {}
    for chunk in scan(directory, table, columns):
        if not chunk.num_rows:
            continue
        pair = pc.binary_join_element_wise(chunk["service"], chunk[key], "\x00")
        codes = pc.dictionary_encode(pair).combine_chunks()
        keys = [tuple(k.split("\x00")) for k in codes.dictionary.to_pylist()]
        group = codes.indices.to_numpy()
        for m, metric in enumerate(METRICS):
            if metric not in present:
                continue  # a run written before this metric was sketched: none counted
            index, counts, owner = flat_sketches(
                chunk[f"{metric}_sketch_bins"], chunk[f"{metric}_sketch_counts"]
            )
            dense = np.bincount(
                group[owner] * BUCKETS + index, weights=counts, minlength=len(keys) * BUCKETS
            ).astype(np.int64)
            for g, key in enumerate(keys):
                if key not in merged:
                    merged[key] = np.zeros((len(METRICS), BUCKETS), dtype=np.int64)
                merged[key][m] += dense[g * BUCKETS : (g + 1) * BUCKETS]
    return merged


def has_sketches(directory: Path, table: str = "inference") -> bool:
    """Whether ``table`` of the run in ``directory`` has sketch columns (a table still
    streaming and cut before its schema has this version's)."""
    return bool(sketched_metrics(directory, table))


def sketched_metrics(directory: Path, table: str = "inference") -> tuple[str, ...]:
    """The METRICS whose sketch columns ``table`` of the run in ``directory`` has (a run
    written before TBT and scheduling delay were sketched has the first three; before the
    sketches, none; a table still streaming and cut before its schema, this version's)."""
    names = column_names(directory, table)
    return tuple(m for m in METRICS if f"{m}_sketch_bins" in names)


def percentile_by_period(
    times_s: np.ndarray, bins: pa.ChunkedArray, counts: pa.ChunkedArray, q: float, period_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` quantile [ms] of the requests of each period ``(k P, (k + 1) P]`` of window
    ends (``P = period_s``; e.g. a site's p99 per hour), from the rows' sketches (``bins``,
    ``counts``, one row per entry of ``times_s``): the periods' ends and their quantiles,
    for the periods holding any request."""
    index, weights, owner = flat_sketches(bins, counts)
    period = np.ceil(np.asarray(times_s, dtype=np.float64) / period_s).astype(np.int64) - 1
    held, code = np.unique(period[owner], return_inverse=True)
    ends, values = [], []
    for first in range(0, len(held), _BLOCK):  # a block of periods' histograms at a time
        last = min(first + _BLOCK, len(held))
        mine = (code >= first) & (code < last)
        flat = (code[mine] - first) * BUCKETS + index[mine]
        dense = np.bincount(flat, weights=weights[mine], minlength=(last - first) * BUCKETS)
        cumulative = np.cumsum(dense.reshape(last - first, BUCKETS), axis=1)
        rank = np.floor(q * (cumulative[:, -1] - 1))
        bucket = np.argmax(cumulative > rank[:, None], axis=1)
        ends.append((held[first:last] + 1) * period_s)
        values.append(2 * GAMMA ** (bucket + INDEX_MIN) / (GAMMA + 1) * 1000)
    return np.concatenate([np.zeros(0), *ends]), np.concatenate([np.zeros(0), *values])


_BLOCK = 256
"""Periods merged at once by :func:`percentile_by_period` (256 × BUCKETS × 8 B = 2.6 MB)."""


def window_rows(
    directory: Path,
    service: str | None = None,
    sites: Sequence[str] | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    regions: Sequence[str] | None = None,
) -> pa.Table:
    """The sketch columns of the rows for one service (all if None), and windows ending in
    ``(start_s, end_s]``: of ``inference.arrow`` in ``directory`` for some sites (all if
    None), or with ``regions``, of ``inference_regions.arrow`` for those demand regions (its
    rows are telemetry intervals: a time range is read to an interval)."""
    if sites is not None and regions is not None:
        raise ValueError("choose sites or regions, not both")
    key, keys = ("site", sites) if regions is None else ("region", regions)
    columns = ["time_s", "service", key]
    present = sketched_metrics(directory, TABLE_OF[key])
    columns += [f"{m}_sketch_{part}" for m in present for part in ("bins", "counts")]
    pieces = []
    for chunk in scan(directory, TABLE_OF[key], columns):
        keep = pa.array(np.ones(chunk.num_rows, dtype=bool))
        if service is not None:
            keep = pc.and_(keep, pc.equal(chunk["service"], service))
        if keys is not None:
            keep = pc.and_(keep, pc.is_in(chunk[key], pa.array(list(keys), pa.string())))
        if start_s is not None:
            keep = pc.and_(keep, pc.greater(chunk["time_s"], start_s))
        if end_s is not None:
            keep = pc.and_(keep, pc.less_equal(chunk["time_s"], end_s))
        pieces.append(chunk.filter(keep))
    return pa.concat_tables(pieces)


def percentiles_ms(
    directory: Path,
    metric: str,
    percentiles: Sequence[float],
    service: str | None = None,
    sites: Sequence[str] | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    regions: Sequence[str] | None = None,
) -> list[float | None]:
    """Percentiles (in [0, 100]) of ``metric`` (one of METRICS) [ms] over the requests
    of the rows :func:`window_rows` selects; None where they hold none."""
    rows = window_rows(directory, service, sites, start_s, end_s, regions)
    values = quantiles_s(merge_column(rows, metric), [p / 100 for p in percentiles])
    return [None if v is None else v * 1000 for v in values]
