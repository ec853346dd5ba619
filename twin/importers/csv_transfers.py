"""A plain CSV of data transfers with named columns, for a known set of data movements.

Columns (a header line names them; their order is free; other columns are ignored):

* ``start_s``: when the transfer starts, s from the trace's zero (≥ 0);
* ``source``, ``destination``: site or PoP ids of the scenario (not empty, not the same);
* ``bytes`` or ``gb`` (exactly one of the two): the size, bytes or 1e9 bytes (≥ 0);
* ``label`` (optional): any text, carried to ``transfers.arrow``; empty → none.

A record with the wrong field count, a negative time or size, text in a number field or an
empty id is refused with its line number (every bad line at once, never half a table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from twin.importers.common import Imported, LineErrors, TraceFormatError, number
from twin.importers.csv_rows import CsvRecords
from twin.trace.schema import WORKLOAD_TRANSFERS

REQUIRED = ("start_s", "source", "destination")
OPTIONAL = ("bytes", "gb", "label")
GB = 1e9


def read(path: Path, options: Any = None) -> Imported:
    """The transfers of a CSV file as a normalised table, in order of start (``options``
    unused: a transfer list needs no mapping)."""
    errors = LineErrors(path)
    columns: dict[str, list] = {name: [] for name in WORKLOAD_TRANSFERS.names}
    records = CsvRecords(path, REQUIRED, OPTIONAL, errors)
    for line, record in records:
        _check_size_column(path, record)
        try:
            row = _transfer(record)
        except ValueError as error:
            errors.add(line, str(error))
            continue
        for name, value in zip(WORKLOAD_TRANSFERS.names, (*row, line), strict=True):
            columns[name].append(value)
    errors.raise_any()
    table = pa.table(columns, schema=WORKLOAD_TRANSFERS)
    if table.num_rows:  # stable: equal start times keep the file's order
        table = table.take(pc.sort_indices(table, [("start_s", "ascending")]))
    return Imported(table, "transfers", records.count)


def _check_size_column(path: Path, record: dict[str, str]) -> None:
    """The header names exactly one of ``bytes`` and ``gb`` (a record has the columns of
    the header it was read with)."""
    given = [name for name in ("bytes", "gb") if name in record]
    if len(given) != 1:
        why = "names both bytes and gb" if given else "lacks a size column"
        raise TraceFormatError(path, [(1, f"header {why}: expected one of bytes or gb")])


def _transfer(record: dict[str, str]) -> tuple[float, str, str, float, str | None]:
    start = number(record["start_s"], "start_s")
    if start < 0:
        raise ValueError(f"start_s: negative ({start:g})")
    if "bytes" in record:
        size = number(record["bytes"], "bytes")
    else:
        size = number(record["gb"], "gb") * GB
    if size < 0:
        raise ValueError(f"{'bytes' if 'bytes' in record else 'gb'}: negative ({size:g} bytes)")
    source, destination = record["source"], record["destination"]
    for name, value in (("source", source), ("destination", destination)):
        if not value:
            raise ValueError(f"{name}: empty; expected a site or PoP id")
    if source == destination:
        raise ValueError(f"source and destination are both {source!r}")
    return start, source, destination, size, record.get("label") or None
