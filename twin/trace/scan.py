"""Scan a run's table a few columns and a chunk of rows at a time, and aggregate as it goes.

A year's trace holds tens of millions of rows; reading a table whole (decompressed, every
column) to sum four of them would cost gigabytes. :func:`scan` reads only the columns asked
for (the IPC reader skips the others' buffers), through buffered reads rather than a memory
map, in chunks of a quarter of a million rows, so what a summary holds stays flat however
long the run. :func:`grouped` is a group-by whose aggregates combine across chunks (sums, counts,
extremes): each chunk is aggregated in Arrow, the partial results are aggregated again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.trace.errors import RunError, first_line
from twin.trace.layout import TABLE, part_file
from twin.trace.schema import TABLES
from twin.trace.streams import cut_before_schema, whole_batches

CHUNK_ROWS = 1 << 18
"""Rows per chunk of a scan (2 MB per float column; a year of jobs is 18 chunks)."""
COMBINE = {"sum": "sum", "count": "sum", "max": "max", "min": "min"}
"""How the partial results of each aggregate combine into the whole's."""


def scan(
    directory: Path, name: str, columns: Sequence[str], chunk_rows: int = CHUNK_ROWS
) -> Iterator[pa.Table]:
    """The rows of table ``name`` of the run in ``directory``, only ``columns``, in chunks of
    about ``chunk_rows``; RunError if the table is missing, unreadable or malformed (a
    column absent, of another type, or empty where its schema forbids)."""
    file, part = directory / f"{name}{TABLE}", directory / part_file(name)
    where = f"{directory}/{name}"
    schema = TABLES.get(name)
    try:
        if file.is_file():
            reader = ipc.open_file(pa.OSFile(str(file)))
            fields = _fields(reader.schema, columns, where)
            reader = ipc.open_file(pa.OSFile(str(file)), options=_only(fields))
            batches: Iterable[pa.RecordBatch] = (
                reader.get_batch(i) for i in range(reader.num_record_batches)
            )
        elif part.is_file():
            if cut_before_schema(part):  # stopped before the table's first batch
                if schema is None:
                    raise RunError(f"{part} holds no rows yet")
                fields = _fields(schema, columns, where)
                yield schema.empty_table().select(list(columns))
                return
            reader = ipc.open_stream(pa.OSFile(str(part)))
            fields = _fields(reader.schema, columns, where)
            reader = ipc.open_stream(pa.OSFile(str(part)), options=_only(fields))
            batches = whole_batches(reader, validate=True)
        else:
            raise RunError(f"{directory} has no table {name!r}")
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in batches:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= chunk_rows:
                yield _chunk(pending, columns, where)
                pending, rows = [], 0
        if pending or rows == 0:
            yield _chunk(pending, columns, where, reader.schema)
    except RunError:
        raise
    except (pa.ArrowException, OSError, ValueError) as error:
        kind, path = ("file", file) if file.is_file() else ("stream", part)
        raise RunError(f"{path} is not a readable Arrow {kind}: {first_line(error)}") from None


def column_names(directory: Path, name: str) -> tuple[str, ...]:
    """The columns table ``name`` of the run in ``directory`` has, as written (an older run
    may lack columns of this version; a table still streaming and cut before its schema, or
    absent, has this version's); RunError if it is unreadable."""
    file, part = directory / f"{name}{TABLE}", directory / part_file(name)
    try:
        if file.is_file():
            return tuple(ipc.open_file(pa.OSFile(str(file))).schema.names)
        if part.is_file() and not cut_before_schema(part):
            return tuple(ipc.open_stream(pa.OSFile(str(part))).schema.names)
    except (pa.ArrowException, OSError) as error:
        kind, path = ("file", file) if file.is_file() else ("stream", part)
        raise RunError(f"{path} is not a readable Arrow {kind}: {first_line(error)}") from None
    schema = TABLES.get(name)
    return tuple(schema.names) if schema is not None else ()


def _fields(actual: pa.Schema, columns: Sequence[str], where: str) -> list[int]:
    """Indices of ``columns`` in ``actual``, each checked against the table's schema."""
    expected = TABLES.get(where.rsplit("/", 1)[-1])
    indices = []
    for column in columns:
        index = actual.get_field_index(column)
        if index < 0:
            raise RunError(f"{where}: malformed table: no column {column!r}")
        if expected is not None and column in expected.names:
            want = expected.field(column).type
            if not actual.field(index).type.equals(want):
                raise RunError(
                    f"{where}: malformed table: column {column!r} is "
                    f"{actual.field(index).type}, expected {want}"
                )
        indices.append(index)
    return indices


def _only(fields: list[int]) -> ipc.IpcReadOptions:
    return ipc.IpcReadOptions(included_fields=sorted(set(fields)))


def _chunk(
    batches: list[pa.RecordBatch],
    columns: Sequence[str],
    where: str,
    empty: pa.Schema | None = None,
) -> pa.Table:
    """The batches as one table of ``columns`` (in that order), checked for forbidden nulls;
    no batches: an empty table of schema ``empty``."""
    if batches:
        table = pa.Table.from_batches(batches)
        table.validate(full=True)
    else:
        table = (empty or pa.schema([])).empty_table()
    table = table.select(list(columns))
    expected = TABLES.get(where.rsplit("/", 1)[-1])
    for column in columns:
        if expected is None or column not in expected.names:
            continue
        if not expected.field(column).nullable and table.column(column).null_count:
            raise RunError(
                f"{where}: malformed table: column {column!r} has "
                f"{table.column(column).null_count} empty values"
            )
    return table


def grouped(
    chunks: Iterable[pa.Table], keys: list[str], aggregates: list[tuple[str, str]]
) -> list[dict]:
    """Rows of ``keys`` and ``aggregates`` (``(column, "sum" | "count" | "max" | "min")``,
    named ``column_function`` as Arrow does) over every chunk, in no particular order."""
    partials = [
        chunk.group_by(keys, use_threads=False).aggregate(aggregates)
        for chunk in chunks
        if chunk.num_rows
    ]
    if not partials:
        return []
    names = [f"{column}_{function}" for column, function in aggregates]
    combined = (
        pa.concat_tables(partials)
        .group_by(keys, use_threads=False)
        .aggregate([(n, COMBINE[f]) for n, (_, f) in zip(names, aggregates, strict=True)])
    )
    renamed = {f"{n}_{COMBINE[f]}": n for n, (_, f) in zip(names, aggregates, strict=True)}
    return [
        {renamed.get(key, key): value for key, value in row.items()} for row in combined.to_pylist()
    ]
