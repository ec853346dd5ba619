"""What every trace reader shares: reading a (gzipped) text file line by line, refusing a
malformed line with its line number, the normalised table it builds, and writing that table
whole or not at all."""

from __future__ import annotations

import gzip
import io
import math
import os
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.errors import TwinUserError, shorten

MAX_TRACE_BYTES = 2 * 2**30
"""Largest trace read (uncompressed bytes): a guard against a decompression bomb."""

MAX_ERRORS_SHOWN = 20
"""A refused trace lists at most this many bad lines."""


def shown_path(path: Path | str, limit: int = 200) -> str:
    """A file name as a message shows it (cut in the middle if very long)."""
    text = str(path)
    return text if len(text) <= limit else f"{text[: limit // 2]}…{text[-limit // 2 :]}"


class TraceFormatError(TwinUserError):
    """A trace that cannot be read: the file, and each bad line with its number."""

    def __init__(self, path: Path | str, problems: list[tuple[int, str]], total: int = 0) -> None:
        self.path = str(path)
        self.problems = problems
        self.total = max(total, len(problems))
        shown = [f"  line {line}: {text}" if line else f"  {text}" for line, text in problems]
        more = self.total - len(problems)
        if more > 0:
            shown.append(f"  … and {more} more bad line{'s' if more != 1 else ''}")
        count = self.total
        head = f"{shown_path(self.path)}: {count} bad line{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *shown]))


class LineErrors:
    """Collects the bad lines of one file (the first :data:`MAX_ERRORS_SHOWN` kept) so a
    reader reports them all at once, then raises :class:`TraceFormatError` if any."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.problems: list[tuple[int, str]] = []
        self.count = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_ERRORS_SHOWN:
            self.problems.append((line, message))

    def raise_any(self) -> None:
        if self.count:
            raise TraceFormatError(self.path, self.problems, self.count)


def read_text(path: Path) -> str:
    """The whole text of a trace file (gzip by magic number, not by name), UTF-8."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2)
            handle.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=handle) as unzipped:
                    raw = unzipped.read(MAX_TRACE_BYTES + 1)
            else:
                raw = handle.read(MAX_TRACE_BYTES + 1)
    except FileNotFoundError:
        raise TwinUserError(f"no such trace file {shown_path(path)}") from None
    except IsADirectoryError:
        raise TwinUserError(f"{shown_path(path)} is a directory, not a trace") from None
    except (OSError, EOFError, zlib.error) as error:
        why = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise TwinUserError(f"cannot read trace {shown_path(path)}: {why}") from None
    if len(raw) > MAX_TRACE_BYTES:
        raise TwinUserError(
            f"trace {shown_path(path)} is larger than {MAX_TRACE_BYTES // 2**30} GiB"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise TraceFormatError(path, [(line, "not UTF-8 text")]) from None


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, line without its end) of a text."""
    for number, line in enumerate(io.StringIO(text, newline=None), start=1):
        yield number, line.rstrip("\n")


def number(text: str, what: str, *, integer: bool = False) -> float:
    """A finite number from a trace field, or ValueError saying which field and why."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {shorten(text, 40)}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what}: expected a finite number, got {shorten(text, 40)}")
    if integer and value != int(value):
        raise ValueError(f"{what}: expected a whole number, got {shorten(text, 40)}")
    return value


@dataclass
class Imported:
    """A normalised workload table and what reading it found (for ``twin import``)."""

    table: pa.Table
    kind: str
    """jobs, requests or transfers (a key of :data:`twin.trace.schema.WORKLOADS`)."""
    records: int
    """Records (non-comment lines) the file held."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Records left out, by the documented reason (e.g. 'CPU-only pod')."""
    notes: list[str] = field(default_factory=list)
    """Documented mappings applied (e.g. 'requested time -1 → run time')."""


def write_workload(table: pa.Table, out: Path) -> None:
    """Write ``table`` as an Arrow IPC file at ``out``, atomically: a temporary file beside
    it renamed over it at the end, so a failure leaves nothing half-written."""
    out = Path(out)
    directory = out.parent if str(out.parent) else Path(".")
    if not directory.is_dir():
        raise TwinUserError(f"--out {shorten(str(out), 200)}: no such directory {directory}")
    handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(handle, "wb") as raw, pa.PythonFile(raw, mode="w") as sink:
            with ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temporary, out)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise TwinUserError(
            f"cannot write {shorten(str(out), 200)}: {error.strerror or error}"
        ) from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
