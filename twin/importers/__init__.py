"""Trace readers: real logs of jobs, requests and transfers into twin's normalised workload
tables (:data:`twin.trace.schema.WORKLOADS`), for ``twin import`` and for replay.

A reader is ``read(path, options) -> Imported``; it refuses a malformed file with the number
of each bad line (:class:`TraceFormatError`) and never returns half a table. Readers are
found by format name per workload kind (modules imported when first used).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.errors import TwinUserError, shorten
from twin.importers.common import Imported, TraceFormatError, shown_path, write_workload
from twin.trace.schema import WORKLOADS

__all__ = [
    "FORMATS",
    "Imported",
    "TraceFormatError",
    "guess_format",
    "read_workload",
    "read_workload_table",
    "write_workload",
]

FORMATS: dict[str, dict[str, str]] = {
    "jobs": {
        "swf": "twin.importers.swf:read",
        "alibaba_gpu_2023": "twin.importers.alibaba_gpu:read",
        "csv": "twin.importers.csv_jobs:read",
    },
    "requests": {
        "azure_llm": "twin.importers.azure_llm:read",
        "alibaba_lora": "twin.importers.alibaba_lora:read",
        "csv": "twin.importers.csv_requests:read",
    },
    "transfers": {
        "csv": "twin.importers.csv_transfers:read",
    },
}
"""Workload kind → format name → ``module:function`` of its reader (``arrow``, a normalised
table from ``twin import``, is read by every kind)."""


def guess_format(path: Path | str, kind: str) -> str:
    """The format a file's name suggests (for configs that give none)."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith((".arrow", ".feather", ".ipc")):
        return "arrow"
    if kind == "jobs" and name.endswith(".swf"):
        return "swf"
    if name.endswith(".csv"):
        hints = {"alibaba_gpu_2023": ("openb_pod", "alibaba_gpu_2023"), "azure_llm": ("azure",)}
        hints |= {"alibaba_lora": ("lora",)}
        for format_name, words in hints.items():
            if format_name in FORMATS[kind] and any(word in name for word in words):
                return format_name
        return "csv"
    known = ", ".join([*FORMATS[kind], "arrow"])
    raise TwinUserError(
        f"cannot tell the format of {shorten(Path(path).name, 80)} from its name; "
        f"give format: one of {known}"
    )


def read_workload(kind: str, format_name: str, path: Path, options: Any = None) -> Imported:
    """Read ``path`` as a ``kind`` workload in ``format_name`` (``arrow``: a table written
    by ``twin import``, taken as it is)."""
    if format_name == "arrow":
        return read_arrow(kind, path)
    reader = _reader(kind, format_name)
    return reader(Path(path), options)


def read_workload_table(kind: str, format_name: str, path: Path, options: Any = None) -> pa.Table:
    """The table :func:`read_workload` gives, read once per file version (path, size,
    modification time), format and options: a scenario's load-time checks, its model and
    every run of a sweep in one process share one read."""
    try:
        info = Path(path).stat()
    except OSError:  # read_workload says why it cannot
        return read_workload(kind, format_name, path, options).table
    return _cached_table(kind, format_name, str(path), info.st_size, info.st_mtime_ns, options)


@lru_cache(maxsize=16)
def _cached_table(
    kind: str, format_name: str, path: str, size: int, mtime_ns: int, options: Any
) -> pa.Table:
    del size, mtime_ns  # part of the cache key only
    return read_workload(kind, format_name, Path(path), options).table


def read_arrow(kind: str, path: Path) -> Imported:
    """A normalised workload table from ``twin import``, checked against its schema."""
    expected = WORKLOADS[kind]
    try:
        with pa.memory_map(str(path)) as source:
            table = ipc.open_file(source).read_all()
    except FileNotFoundError:
        raise TwinUserError(f"no such workload file {shown_path(path)}") from None
    except (OSError, pa.ArrowInvalid) as error:
        raise TwinUserError(
            f"{shown_path(path)} is not an Arrow workload file ({shorten(str(error), 200)})"
        ) from None
    found = (table.schema.metadata or {}).get(b"twin.table", b"").decode()
    if found != expected.metadata[b"twin.table"].decode():
        raise TwinUserError(
            f"{shown_path(path)} holds {found or 'an unknown table'}, not "
            f"{expected.metadata[b'twin.table'].decode()} (made by twin import for {kind})"
        )
    for field in expected:  # an optional column a later twin added: null throughout
        if field.nullable and field.name not in table.schema.names:
            table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
    missing = [f.name for f in expected if f.name not in table.schema.names]
    if missing:
        raise TwinUserError(f"{shown_path(path)} lacks columns {', '.join(missing)}")
    try:
        table = table.select(expected.names).cast(expected)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as error:
        raise TwinUserError(
            f"{shown_path(path)}: columns of the wrong type ({shorten(str(error), 200)})"
        ) from None
    return Imported(table, kind, table.num_rows)


def _reader(kind: str, format_name: str) -> Callable[[Path, Any], Imported]:
    try:
        target = FORMATS[kind][format_name]
    except KeyError:
        known = ", ".join([*FORMATS.get(kind, {}), "arrow"])
        raise TwinUserError(
            f"no {kind} trace format {shorten(format_name, 40)}; known: {known}"
        ) from None
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)
