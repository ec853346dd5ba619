"""Sample files of empirical distributions: a CSV (optionally gzipped) column of numbers.

Read and checked when a scenario is loaded (so ``twin validate`` catches a missing column, a
garbage file or a non-number), then handed to the model's samplers. Cached per file identity
(path, size, modification time), so a sweep of many runs reads a trace once per process.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import zlib
from array import array
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from twin.config.errors import TwinUserError, shorten

MAX_SAMPLE_FILE_BYTES = 256 * 2**20
"""Largest sample file read (uncompressed bytes)."""


class SampleFileError(TwinUserError):
    """A sample file that cannot be used; the message says why (the caller adds the path)."""


def read_samples(path: Path, column: str | None) -> array:
    """The numbers of ``column`` (default: the first) of a CSV file, as ``array('d')``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SampleFileError(f"no such file {path}") from None
    except (OSError, ValueError) as error:
        raise SampleFileError(f"cannot read {path}: {getattr(error, 'strerror', error)}") from None
    if not path.is_file():
        raise SampleFileError(f"{path} is not a regular file")
    header, columns = _read(str(path), info.st_size, info.st_mtime_ns)
    index = _column_index(path, header, column)
    return _numbers(path, header[index], columns[index])


def read_sample_rows(path: Path, first: str | None, second: str | None) -> tuple[array, array]:
    """The numbers of two columns of a CSV file, row by row: only the rows where both cells
    hold a number, so that the i-th values of the two arrays come from the same line."""
    read_samples(path, first)  # the file's and the columns' own errors
    read_samples(path, second)
    info = path.stat()
    header, columns = _read(str(path), info.st_size, info.st_mtime_ns)
    a, b = _column_index(path, header, first), _column_index(path, header, second)
    both = [
        i
        for i, (x, y) in enumerate(zip(columns[a], columns[b], strict=True))
        if x.strip() and y.strip()
    ]
    if not both:
        raise SampleFileError(
            f"{path} has no line with numbers in both {shorten(header[a])} and {shorten(header[b])}"
        )
    return (
        _numbers(path, header[a], [columns[a][i] for i in both]),
        _numbers(path, header[b], [columns[b][i] for i in both]),
    )


def _column_index(path: Path, header: list[str], column: str | None) -> int:
    """Where ``column`` (default: the first) is in the header, or an error listing them."""
    if column is None:
        return 0
    if column in header:
        return header.index(column)
    raise SampleFileError(
        f"{path} has no column {shorten(column)}; its columns: "
        f"{', '.join(shorten(name, 40) for name in header[:20])}"
    )


@lru_cache(maxsize=16)
def _read(path: str, size: int, mtime_ns: int) -> tuple[list[str], list[list[str]]]:
    """The header and the text of every column of a CSV file (cached per file version: a
    trace with several columns is read once)."""
    del size, mtime_ns  # part of the cache key only
    try:
        raw = _bytes(Path(path))
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SampleFileError(f"{path} is not UTF-8 CSV text (offset {error.start})") from None
    except (OSError, EOFError, zlib.error) as error:
        raise SampleFileError(f"cannot read {path}: {error}") from None
    if "\x00" in text:
        raise SampleFileError(f"{path} holds binary data, not CSV text")
    try:
        # without quotes a CSV line is its cells split at commas (several times faster)
        lines = text.splitlines()
        rows = csv.reader(io.StringIO(text, newline="")) if '"' in text else _split(lines)
        header = next(rows, None)
        if not header:
            raise SampleFileError(f"{path} is empty: expected a header line and numbers")
        body = list(rows)
        width = len(header)
        if all(len(row) == width for row in body):
            columns = [list(cells) for cells in zip(*body, strict=True)] or [[] for _ in header]
        else:  # ragged: short rows miss their last cells, long ones' extras are ignored
            columns = [[row[i] if i < len(row) else "" for row in body] for i in range(width)]
    except csv.Error as error:
        raise SampleFileError(f"{path} is not readable CSV: {error}") from None
    return header, columns


def _split(lines: list[str]) -> Iterator[list[str]]:
    for line in lines:
        yield line.split(",") if line else []


def _numbers(path: Path, name: str, cells: list[str]) -> array:
    """The non-empty cells of a column as finite numbers (|x| ≤ 1e15), or an error naming the
    first cell that is not one."""
    import numpy as np  # light enough, and only when a scenario has empirical samples

    kept = [cell for cell in cells if cell.strip()]
    try:
        values = np.asarray(kept, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.all(np.isfinite(values) & (np.abs(values) <= 1e15)):
        for line, cell in enumerate(cells, start=2):
            if not cell.strip():
                continue
            try:
                value = float(cell)
            except ValueError:
                raise SampleFileError(
                    f"{path} line {line}: {shorten(cell)} is not a number"
                ) from None
            if not math.isfinite(value) or abs(value) > 1e15:
                raise SampleFileError(
                    f"{path} line {line}: {cell} is not a finite sample (|x| ≤ 1e15)"
                )
    if not kept:
        raise SampleFileError(f"{path} has no numbers in column {shorten(name)}")
    return array("d", values.tobytes())  # type: ignore[union-attr]


def _bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it ends in ``.gz``; at most the size limit."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read(MAX_SAMPLE_FILE_BYTES + 1)
    if len(data) > MAX_SAMPLE_FILE_BYTES:
        raise SampleFileError(
            f"{path} holds more than {MAX_SAMPLE_FILE_BYTES // 2**20} MB of samples"
        )
    return data
