"""Arrow IPC streams of a run's tables: read up to the last whole batch, convert to files.

While a run goes each table is also an IPC *stream* (``NAME.arrow.part``): a reader, or
``twin repair`` after a kill, gets every batch written before the stop, and a batch cut short
at the end is left out. :func:`stream_to_file` turns such a stream into the IPC *file*
(``NAME.arrow``) the run would have closed with, batch by batch so memory stays flat,
re-cut into batches of a fixed row count (the stream's batches follow the wall clock, the
file's do not).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.trace.errors import RunError, first_line
from twin.trace.layout import TMP

OPTIONS = ipc.IpcWriteOptions(compression="zstd")
_CONTINUATION = b"\xff\xff\xff\xff"
"""How every message of an IPC stream starts (then its metadata length, int32)."""
BATCH_ROWS = 8192
"""Rows per record batch of a finished table file."""


def open_stream(path: Path) -> ipc.RecordBatchStreamReader:
    """A reader of the stream in ``path``; RunError if its schema cannot be read."""
    try:
        return ipc.open_stream(pa.memory_map(str(path), "r"))
    except (pa.ArrowException, OSError, ValueError) as error:
        raise RunError(f"{path} is not a readable Arrow stream: {first_line(error)}") from None


def whole_batches(
    reader: ipc.RecordBatchStreamReader, validate: bool = False
) -> Iterator[pa.RecordBatch]:
    """The batches of a stream up to the first one that is cut short or unreadable (and, if
    ``validate``, up to the first whose data is inconsistent)."""
    while True:
        try:
            batch = reader.read_next_batch()
            if validate:
                batch.validate(full=True)
        except StopIteration:
            return
        except (pa.ArrowException, OSError, ValueError):
            return  # the tail of a stream cut by a kill, a crash or a full disk
        yield batch


def read_stream(path: Path, schema: pa.Schema | None = None) -> pa.Table:
    """The whole batches of the stream in ``path``. A stream cut before the end of its
    first message (the schema, written with the first batch) is an empty ``schema`` table,
    if the schema is known: the run stopped before the table's first batch."""
    if schema is not None and cut_before_schema(path):
        return schema.empty_table()
    reader = open_stream(path)
    return pa.Table.from_batches(list(whole_batches(reader, validate=True)), schema=reader.schema)


def cut_before_schema(path: Path) -> bool:
    """Whether ``path`` is empty or the start of a stream cut inside its schema message (a
    continuation marker, then fewer metadata bytes than it announces)."""
    with path.open("rb") as handle:
        head = handle.read(8)
        if not head:
            return True
        if len(head) < 8:
            return _CONTINUATION.startswith(head[:4])
        if head[:4] != _CONTINUATION:
            return False
        length = int.from_bytes(head[4:], "little", signed=True)
        return length > 0 and len(handle.read(length)) < length


def stream_to_file(
    part: Path,
    final: Path,
    schema: pa.Schema,
    batch_rows: int = BATCH_ROWS,
    validate: bool = False,
) -> int:
    """Convert the stream ``part`` into the IPC file ``final`` (via a temporary name, so
    ``final`` is whole or absent) and remove ``part``; returns the rows written. ``validate``
    checks each batch's data too (for streams of unknown history: ``twin repair``)."""
    temporary = final.with_name(final.name + TMP)
    rows = 0
    try:
        if cut_before_schema(part):
            batches: Iterator[pa.RecordBatch] = iter(())
        else:
            reader = open_stream(part)
            schema = reader.schema
            batches = whole_batches(reader, validate)
        with (
            pa.OSFile(str(temporary), "wb") as sink,
            ipc.new_file(sink, schema, options=OPTIONS) as writer,
        ):
            for batch in rebatch(batches, schema, batch_rows):
                writer.write_batch(batch)
                rows += batch.num_rows
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, final)
    part.unlink()
    return rows


def rebatch(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches`` again, in batches of exactly ``batch_rows`` (the last one
    shorter): the cut does not depend on how the rows arrived."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        while count >= batch_rows:
            table = pa.Table.from_batches(pending, schema=schema)
            yield _one_batch(table.slice(0, batch_rows))
            pending = table.slice(batch_rows).to_batches()
            count -= batch_rows
    if count:
        yield _one_batch(pa.Table.from_batches(pending, schema=schema))


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    (batch,) = table.combine_chunks().to_batches()
    return batch
