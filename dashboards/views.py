"""Arrays over trace tables: a time-sorted view with its key column encoded, and
downsampling of series (what keeps the dashboard's cost bound to what is shown).

Everything here turns what pyarrow or numpy may raise on a malformed table (a column of the
wrong type, non-finite times) into ``malformed: <table>: …``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from twin.dashboards.columns import NUMBER, TEXT, kind_of
from twin.dashboards.errors import RunError, malformed
from twin.dashboards.limits import MAX_TIME_S
from twin.dashboards.memo import Memo

LOG = logging.getLogger("twin.dashboards")
T = TypeVar("T")
_ARRAY_ERRORS = (pa.ArrowException, ValueError, TypeError, OverflowError)
DATA_ERRORS = (
    pa.ArrowException,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    OverflowError,
    ZeroDivisionError,
    AttributeError,
)
"""What pyarrow, numpy or the summary may raise on a malformed table."""


def converted(what: str, build: Callable[[], T]) -> T:
    """``build()``, with what a malformed table makes it raise turned into ``malformed:
    <what>: <why>`` (a RunError) and logged in one line, without a traceback."""
    try:
        return build()
    except RunError as error:
        LOG.info("%s", error)
        raise
    except DATA_ERRORS as error:
        lines = str(error).strip().splitlines()
        why = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
        problem = malformed(what, why)
        LOG.info("%s", problem)
        raise problem from None


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of ``(x, y)`` keeping each bucket's min and max (peaks
    survive, unlike a stride). ``x`` is sorted; NaNs in ``y`` are ignored where possible."""
    n = len(x)
    if n <= max_points or max_points < 2:
        return x, y
    buckets = max_points // 2
    width = -(-n // buckets)
    padded = np.full(buckets * width, np.nan)
    padded[:n] = y
    grid = padded.reshape(buckets, width)
    nan = np.isnan(grid)
    low = np.where(nan, np.inf, grid).argmin(axis=1)
    high = np.where(nan, -np.inf, grid).argmax(axis=1)
    base = np.arange(buckets) * width
    index = np.sort(np.stack([base + low, base + high], axis=1), axis=1).ravel()
    index = np.unique(np.minimum(index, n - 1))
    return x[index], y[index]


def column_of(table: pa.Table, name: str, kind: str, what: str) -> pa.ChunkedArray:
    """Column ``name`` of ``table``, checked to hold ``kind`` (NUMBER or TEXT)."""
    if name not in table.column_names:
        raise malformed(what, f"no column {name!r}")
    column = table.column(name)
    found = kind_of(column.type)
    if found is not None and found != kind:
        raise malformed(what, f"column {name!r} holds {found}, expected {kind}")
    return column


def floats(table: pa.Table, name: str, what: str = "table") -> np.ndarray:
    """A numeric column as float64 numpy (nulls → NaN)."""
    column = column_of(table, name, NUMBER, what)
    try:
        return np.asarray(pc.cast(column, pa.float64()).to_numpy(), dtype=float)
    except _ARRAY_ERRORS as error:
        raise malformed(what, f"column {name!r}: {error}") from None


def codes(table: pa.Table, name: str, what: str = "table") -> tuple[list[str], np.ndarray]:
    """Dictionary-encode a text column: (distinct values, int code per row; -1 for null)."""
    column = column_of(table, name, TEXT, what)
    try:
        if pa.types.is_null(column.type):
            return [], np.full(len(column), -1)
        encoded = pc.dictionary_encode(column.combine_chunks())
        indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return [str(v) for v in encoded.dictionary.to_pylist()], np.asarray(indices, dtype=int)
    except _ARRAY_ERRORS as error:
        raise malformed(what, f"column {name!r}: {error}") from None


def group_sum(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` over equal consecutive ``times`` (sorted): (stamps, sums)."""
    if not len(times):
        return times, values
    starts = np.flatnonzero(np.r_[True, np.diff(times) > 0])
    return times[starts], np.add.reduceat(np.nan_to_num(values), starts)


class TableView:
    """A time-stamped table sorted by time, with a key column (site, link, …) encoded.

    Building it costs one pass over the table (once per run, cached); afterwards finding the
    rows of a stamp is a binary search and a key's rows are cached. ``name`` names the table
    in messages; times must be finite and within ±MAX_TIME_S.
    """

    def __init__(self, table: pa.Table, time: str, key: str, name: str = "table") -> None:
        self.name = name
        times = floats(table, time, name)
        bad = ~np.isfinite(times) | (np.abs(times) > MAX_TIME_S)
        if bad.any():
            raise malformed(
                name, f"{int(bad.sum()):,} rows of {time!r} are not times within ±{MAX_TIME_S:g} s"
            )
        if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
            order = np.argsort(times, kind="stable")
            table, times = table.take(pa.array(order)), times[order]
        self.table = table
        self.times = times
        self.keys, self.codes = codes(table, key, name)
        self._index = {k: i for i, k in enumerate(self.keys)}
        self._columns: Memo[np.ndarray] = Memo()
        self._rows: Memo[np.ndarray] = Memo(size=256)

    def __len__(self) -> int:
        return len(self.times)

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def column(self, name: str) -> np.ndarray:
        """A numeric column as floats (built once; malformed if missing or not numbers)."""
        return self._columns.get(name, lambda: floats(self.table, name, self.name))

    def rows_of(self, key: str) -> np.ndarray:
        """Row indices of ``key``, in time order (none for a key the table lacks)."""
        code = self._index.get(key)
        if code is None:
            return np.array([], dtype=int)
        return self._rows.get(key, lambda: np.flatnonzero(self.codes == code))

    def rows_at(self, t: float) -> tuple[int, int, float | None]:
        """Rows ``[lo, hi)`` of the last stamp at or before ``t`` (the first stamp if ``t`` is
        before it) and that stamp: two binary searches."""
        times = self.times
        if not len(times):
            return 0, 0, None
        hi = int(np.searchsorted(times, t, side="right"))
        stamp = float(times[max(hi, 1) - 1])
        if hi == 0:
            hi = int(np.searchsorted(times, stamp, side="right"))
        lo = int(np.searchsorted(times, stamp, side="left"))
        return lo, hi, stamp

    @cached_property
    def stamps(self) -> np.ndarray:
        """Distinct stamps, in order."""
        if not len(self.times):
            return self.times
        return self.times[np.r_[True, np.diff(self.times) > 0]]

    def key_at(self, row: int) -> str | None:
        code = int(self.codes[row])
        return self.keys[code] if code >= 0 else None


__all__ = [
    "DATA_ERRORS",
    "TableView",
    "codes",
    "column_of",
    "converted",
    "downsample",
    "floats",
    "group_sum",
]
