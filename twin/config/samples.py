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
    return _read(str(path), info.st_size, info.st_mtime_ns, column)


@lru_cache(maxsize=32)
def _read(path: str, size: int, mtime_ns: int, column: str | None) -> array:
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
        rows = csv.reader(io.StringIO(text, newline=""))
        header = next(rows, None)
        if not header:
            raise SampleFileError(f"{path} is empty: expected a header line and numbers")
        if column is None:
            index = 0
        elif column in header:
            index = header.index(column)
        else:
            raise SampleFileError(
                f"{path} has no column {shorten(column)}; its columns: "
                f"{', '.join(shorten(name, 40) for name in header[:20])}"
            )
        values = array("d")
        for line, row in enumerate(rows, start=2):
            if len(row) <= index or not row[index].strip():
                continue
            try:
                value = float(row[index])
            except ValueError:
                raise SampleFileError(
                    f"{path} line {line}: {shorten(row[index])} is not a number"
                ) from None
            if not math.isfinite(value) or abs(value) > 1e15:
                raise SampleFileError(
                    f"{path} line {line}: {row[index]} is not a finite sample (|x| ≤ 1e15)"
                )
            values.append(value)
    except csv.Error as error:
        raise SampleFileError(f"{path} is not readable CSV: {error}") from None
    if not values:
        raise SampleFileError(f"{path} has no numbers in column {shorten(header[index])}")
    return values


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
