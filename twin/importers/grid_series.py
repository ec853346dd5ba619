"""Reading a grid series: a file of (timestamp, value) rows, e.g. an hourly year of carbon
intensity or day-ahead prices exported from Electricity Maps or ENTSO-E.

A CSV (gzip or not; told by magic number) with a header, or a Parquet file. Timestamps are
ISO 8601 (``2025-01-01T00:00:00+01:00``, ``2025-01-01 00:00Z``; no offset means UTC), or, in
Parquet, a timestamp column. They must strictly increase; values must be finite numbers.
A bad row is refused with its line (CSV; the header is line 1) or row number (Parquet).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from twin.errors import TwinUserError, shorten
from twin.importers.common import LineErrors, TraceFormatError, shown_path
from twin.importers.csv_rows import CsvRecords

PARQUET_MAGIC = b"PAR1"
MAX_SERIES_FILE_BYTES = 256 * 2**20
"""Largest series file read (as stored): a year of minutes is about 20 MB of CSV."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class GridSeriesTable:
    """The rows of a series file, in the file's order (checked to increase in time)."""

    epoch_s: np.ndarray
    """float64: each step's start, seconds since 1970-01-01 UTC."""
    values: np.ndarray
    """float64: the value from that start until the next."""
    lines: np.ndarray
    """int64: the line (CSV) or row (Parquet) each step came from, for messages."""
    where: str
    """How a message names a row's position: 'line' or 'row'."""
    column: str
    """The column the values came from."""


def read_grid_series(
    path: Path, column: str | None, time_column: str | None, field: str = ""
) -> GridSeriesTable:
    """The steps of a series file; ``column`` None means the column named ``field`` if the
    file has one, else the only column besides the timestamps."""
    try:
        if Path(path).exists() and not Path(path).is_dir() and not Path(path).is_file():
            raise TwinUserError(f"{shown_path(path)} is not a regular file")
        size = Path(path).stat().st_size
        if size > MAX_SERIES_FILE_BYTES:
            raise TwinUserError(
                f"{shown_path(path)} is larger than {MAX_SERIES_FILE_BYTES // 2**20} MB"
            )
        with open(path, "rb") as handle:
            parquet = handle.read(4) == PARQUET_MAGIC
    except FileNotFoundError:
        raise TwinUserError(f"no such series file {shown_path(path)}") from None
    except IsADirectoryError:
        raise TwinUserError(f"{shown_path(path)} is a directory, not a series file") from None
    except OSError as error:
        raise TwinUserError(f"cannot read {shown_path(path)}: {error.strerror}") from None
    if parquet:
        return _read_parquet(path, column, time_column, field)
    return _read_csv(path, column, time_column, field)


def read_grid_series_once(
    path: Path, column: str | None, time_column: str | None, field: str = ""
) -> GridSeriesTable:
    """:func:`read_grid_series`, read once per file version (path, size, modification time)
    and columns: the loader's check and the model share one read, as every run of a sweep."""
    try:
        info = Path(path).stat()
    except OSError:  # read_grid_series says why it cannot
        return read_grid_series(path, column, time_column, field)
    return _cached(str(path), info.st_size, info.st_mtime_ns, column, time_column, field)


@lru_cache(maxsize=32)
def _cached(
    path: str, size: int, mtime_ns: int, column: str | None, time_column: str | None, field: str
) -> GridSeriesTable:
    del size, mtime_ns  # part of the cache key only
    return read_grid_series(Path(path), column, time_column, field)


# ---------------------------------------------------------------- columns


def _columns(
    path: Path, header: list[str], column: str | None, time_column: str | None, field: str
) -> tuple[str, str]:
    """(time column, value column) of a header, or an error naming what is there."""
    listed = shown_path(", ".join(header), 200)
    if not header:
        raise TraceFormatError(path, [(1, "no columns: expected a timestamp and a value")])
    time_name = time_column if time_column is not None else header[0]
    if time_name not in header:
        raise TraceFormatError(
            path, [(1, f"no time column {shown_path(time_name, 60)} (has: {listed})")]
        )
    if column is not None:
        if column not in header:
            raise TraceFormatError(
                path, [(1, f"no column {shown_path(column, 60)} (has: {listed})")]
            )
        return time_name, column
    if field and field in header:
        return time_name, field
    others = [name for name in header if name != time_name]
    if len(others) != 1:
        named = f"no column {field} and " if field else ""
        raise TraceFormatError(
            path,
            [(1, f"{named}{len(others)} columns besides {time_name}: give column (has: {listed})")],
        )
    return time_name, others[0]


# ---------------------------------------------------------------- CSV


def _read_csv(
    path: Path, column: str | None, time_column: str | None, field: str
) -> GridSeriesTable:
    errors = LineErrors(path)
    records = CsvRecords(path, (), errors=errors)
    time_name, value_name = _columns(path, records.header, column, time_column, field)
    records.select((time_name, value_name))
    stamps, values, lines = [], [], []
    for line, record in records:
        try:
            stamp = parse_instant(record[time_name])
            value = _value(record[value_name], value_name)
        except ValueError as error:
            errors.add(line, str(error))
            continue
        stamps.append(stamp)
        values.append(value)
        lines.append(line)
    errors.raise_any()
    return _table(path, stamps, values, lines, "line", value_name)


def parse_instant(text: str) -> float:
    """Seconds since 1970 UTC of an ISO 8601 date-time (no offset: UTC)."""
    cleaned = text.strip()
    try:
        moment = dt.datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"timestamp: expected ISO 8601 such as 2025-01-01T00:00:00+01:00, got "
            f"{shorten(cleaned, 40)}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - EPOCH).total_seconds()


def _value(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number, got {shorten(text, 40)!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {shorten(text, 40)}")
    return value


# ---------------------------------------------------------------- Parquet


def _read_parquet(
    path: Path, column: str | None, time_column: str | None, field: str
) -> GridSeriesTable:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        header = handle.schema_arrow.names
        time_name, value_name = _columns(path, header, column, time_column, field)
        table = handle.read(columns=[time_name, value_name])
    except (OSError, pa.ArrowException) as error:
        raise TwinUserError(
            f"{shown_path(path)} is not a readable Parquet file ({shorten(str(error), 200)})"
        ) from None
    times, raw_values = table.column(time_name), table.column(value_name)
    errors = LineErrors(path)
    if pa.types.is_timestamp(times.type):
        zone = times.type.tz
        stamps_us = pc.cast(times, pa.timestamp("us", zone)).cast(pa.int64()).to_pylist()
        stamps = [None if s is None else s / 1e6 for s in stamps_us]
    else:
        stamps = []
        for row, text in enumerate(times.to_pylist(), start=1):
            try:
                stamps.append(parse_instant(str(text)) if text is not None else None)
            except ValueError as error:
                _add(errors, "row", row, str(error))
                stamps.append(None)
    values = []
    for row, cell in enumerate(raw_values.to_pylist(), start=1):
        try:
            values.append(_value(str(cell) if cell is not None else "", value_name))
        except ValueError as error:
            _add(errors, "row", row, str(error))
            values.append(math.nan)
        if stamps[row - 1] is None and pa.types.is_timestamp(times.type):
            _add(errors, "row", row, f"{time_name}: no timestamp")
    errors.raise_any()
    rows = list(range(1, len(values) + 1))
    return _table(path, stamps, values, rows, "row", value_name)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the table


def _table(
    path: Path,
    stamps: list[float],
    values: list[float],
    lines: list[int],
    where: str,
    column: str,
) -> GridSeriesTable:
    """The checked table: at least two steps, timestamps strictly increasing."""
    if len(stamps) < 2:
        raise TraceFormatError(
            path, [(0, f"{len(stamps)} row(s): a series needs at least two timestamped values")]
        )
    epoch = np.asarray(stamps, dtype=np.float64)
    line_numbers = np.asarray(lines, dtype=np.int64)
    steps = np.diff(epoch)
    bad = np.flatnonzero(steps <= 0)
    if len(bad):
        errors = LineErrors(path)
        for k in bad.tolist():
            what = "repeats" if steps[k] == 0 else "comes before"
            _add(
                errors,
                where,
                int(line_numbers[k + 1]),
                f"timestamp {_iso(epoch[k + 1])} {what} the one of {where} "
                f"{line_numbers[k]} ({_iso(epoch[k])}): timestamps must increase",
            )
        errors.raise_any()
    return GridSeriesTable(epoch, np.asarray(values, dtype=np.float64), line_numbers, where, column)


def _add(errors: LineErrors, where: str, number: int, message: str) -> None:
    """File a bad line (CSV) or row (Parquet: no text lines, so the row in the message)."""
    if where == "line":
        errors.add(number, message)
    else:
        errors.add(0, f"row {number}: {message}")


def _iso(epoch_s: float) -> str:
    return (EPOCH + dt.timedelta(seconds=float(epoch_s))).isoformat().replace("+00:00", "Z")
