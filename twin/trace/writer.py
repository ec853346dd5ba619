"""Streaming writer of a run directory.

Rows are buffered per table and written as compressed Arrow record batches, so memory stays
flat however long the run. Each table is written twice while the run goes:

- as an Arrow IPC *stream*, ``NAME.arrow.part``, flushed every ``batch_rows`` rows and at
  least every ``flush_s`` seconds of wall time: what a run killed outright (SIGKILL, a crash
  of the machine) leaves. Readers read it up to its last whole batch; ``twin repair``
  turns it into the final file.
- as the Arrow IPC *file* it becomes, ``NAME.arrow.tmp``, in batches of exactly
  ``batch_rows`` rows (the cut does not depend on the wall clock, so equal runs give equal
  bytes). The close writes its last batch and footer and renames it ``NAME.arrow``, then
  deletes the stream: closing costs the same however long the run was.

The manifest says ``incomplete`` (reason: running) until the close. The writer claims its
directory first (:mod:`twin.trace.claim`): one writer per directory.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.trace.claim import Claim, claim_run_dir
from twin.trace.errors import RunWriteError, os_error_message
from twin.trace.layout import CONFIG, MANIFEST, PART, TMP, part_file, table_file, write_manifest
from twin.trace.schema import SCHEMA_VERSION, TABLES
from twin.trace.streams import BATCH_ROWS, OPTIONS

__all__ = ["MANIFEST", "RunWriter", "TableWriter"]

FLUSH_S = 2.0
"""Longest wall time rows wait in memory before they are written (what a kill can lose)."""


class TableWriter:
    """Buffers rows (tuples in schema order); streams them out, and writes the final file."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int) -> None:
        self.path = path
        """The final file (``NAME.arrow``), written as :attr:`temporary` until the close."""
        self.part = path.with_name(path.name + PART)
        self.temporary = path.with_name(path.name + TMP)
        self.schema = schema
        self._row_type = pa.struct(list(schema))
        self.batch_rows = batch_rows
        self.rows_written = 0
        """Rows in the final file so far."""
        self.rows_streamed = 0
        """Rows in the stream so far."""
        self.finished = False
        """Whether :attr:`path` holds the whole table."""
        self._rows: list[tuple[Any, ...]] = []
        """Rows not written anywhere yet."""
        self._pieces: list[pa.RecordBatch] = []
        """Batches in the stream but not yet in the file (together under ``batch_rows``)."""
        self._piece_rows = 0
        self.broken: RunWriteError | None = None
        """The write the disk refused, if one was: nothing more is written then."""
        self._stream: _Sink | None = _Sink(self.part, ipc.new_stream, schema)
        self._file: _Sink | None = _Sink(self.temporary, ipc.new_file, schema)

    def append(self, row: tuple[Any, ...]) -> None:
        if self.broken is not None:
            raise self.broken
        self._rows.append(row)
        if len(self._rows) + self._piece_rows >= self.batch_rows:
            self._write_batch()

    def flush(self) -> None:
        """Stream the buffered rows; RunWriteError if the disk refuses."""
        if self.broken is not None:
            raise self.broken
        if self._rows:
            batch = self._batch(self._rows)
            self._to_stream(batch)
            self._pieces.append(batch)
            self._piece_rows += batch.num_rows
            self._rows.clear()

    def _write_batch(self) -> None:
        """A whole batch is buffered: stream it, and write it to the file in one piece (cut
        the same whenever the stream was flushed: equal runs, equal bytes)."""
        self.flush()
        self._to_file(self._pieces)

    def _to_file(self, pieces: list[pa.RecordBatch]) -> None:
        table = pa.Table.from_batches(pieces, schema=self.schema).combine_chunks()
        (batch,) = table.to_batches()
        try:
            self._file.write(batch)  # type: ignore[union-attr]
        except OSError as error:
            raise self._broke(error, self.temporary) from None
        self.rows_written += batch.num_rows
        self._pieces = []
        self._piece_rows = 0

    def _to_stream(self, batch: pa.RecordBatch) -> None:
        try:
            self._stream.write(batch)  # type: ignore[union-attr]
        except OSError as error:
            raise self._broke(error, self.part) from None
        self.rows_streamed += batch.num_rows

    def _broke(self, error: OSError, path: Path) -> RunWriteError:
        """Give up writing after ``error`` on ``path``: the error to raise (now and after)."""
        self.broken = RunWriteError(os_error_message(error, path))
        self.abandon()
        return self.broken

    def _batch(self, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
        """The rows as one record batch: converted by Arrow as a struct of the schema's
        fields, straight from the tuples (no transposing in Python), then split into its
        columns (the same arrays, byte for byte, as converting column by column)."""
        rows_struct = pa.array(rows, type=self._row_type)
        return pa.RecordBatch.from_arrays(rows_struct.flatten(), schema=self.schema)

    def finish(self) -> None:
        """Write the last batch and the footer, rename the file to its final name, delete
        the stream; RunWriteError if the disk refuses (the stream then stays)."""
        if self.broken is not None or self._file is None:
            raise self.broken or RunWriteError(f"{self.path}: the table was abandoned")
        self.flush()  # the stream gets every row first: it is what stays if the file fails
        if self._pieces:
            self._to_file(self._pieces)
        try:
            self._file.close()  # type: ignore[union-attr]
            self._file = None
            os.replace(self.temporary, self.path)
        except OSError as error:
            raise self._broke(error, self.path) from None
        self.finished = True
        if self._stream is not None:
            self._stream.close(cut=True)  # not needed any more: quietly
            self._stream = None
        with contextlib.suppress(OSError):
            self.part.unlink()

    def abandon(self) -> None:
        """Stop writing (after an I/O error): drop the unfinished file, keep the stream up
        to its last whole batch, drop what was not streamed."""
        self._rows.clear()
        self._pieces = []
        self._piece_rows = 0
        for sink in (self._stream, self._file):
            if sink is not None:
                sink.close(cut=True)
        self._stream = self._file = None
        with contextlib.suppress(OSError):
            self.temporary.unlink(missing_ok=True)


class _Sink:
    """An Arrow IPC writer on a file; a failed write can be cut off (so a stream ends in
    whole batches and the disk gets the half batch back)."""

    def __init__(self, path: Path, new: Any, schema: pa.Schema) -> None:
        self.path = path
        self._file = pa.OSFile(str(path), "wb")
        self._writer = new(self._file, schema, options=OPTIONS)
        self._whole = 0
        """Bytes up to the end of the last whole write."""

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)
        self._whole = self._file.tell()

    def close(self, cut: bool = False) -> None:
        """End the file (footer or end-of-stream); if ``cut``, quietly, and truncate it to
        its last whole write."""
        if not cut:
            self._writer.close()
            self._file.close()
            return
        for handle in (self._writer, self._file):
            with contextlib.suppress(OSError, pa.ArrowException):
                handle.close()
        with contextlib.suppress(OSError):
            os.truncate(self.path, self._whole)


class RunWriter:
    """Owns a run directory while the model writes it (from its claim to its close)."""

    def __init__(
        self,
        directory: Path,
        manifest: dict[str, Any],
        config_yaml: str,
        tables: tuple[str, ...] = tuple(TABLES),
        batch_rows: int = BATCH_ROWS,
        overwrite: bool = False,
        flush_s: float = FLUSH_S,
    ) -> None:
        self.directory = Path(directory)
        self.claim: Claim = claim_run_dir(self.directory, overwrite)
        self.flush_s = flush_s
        self._wall_start = time.perf_counter()
        self._flushed_at = time.monotonic()
        self._appends = 0
        self.manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            **manifest,
            "status": "incomplete",
            "reason": f"running (pid {os.getpid()})",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"python": platform.python_version(), "machine": platform.machine()},
            "tables": {},
        }
        self.tables: dict[str, TableWriter] = {}
        self.closed = False
        self.failed: RunWriteError | None = None
        """The first write the disk refused, if any: the close then converts nothing."""
        try:
            (self.directory / CONFIG).write_text(config_yaml, encoding="utf-8")
            self._write_manifest()
            for name in tables:
                path = self.directory / table_file(name)
                self.tables[name] = TableWriter(path, TABLES[name], batch_rows)
        except OSError as error:
            self.claim.release()
            raise RunWriteError(os_error_message(error, self.directory)) from None
        except BaseException:
            self.claim.release()
            raise

    def append(self, table: str, row: tuple[Any, ...]) -> None:
        try:
            self.tables[table].append(row)
        except RunWriteError as error:
            self.failed = self.failed or error
            raise
        self._appends += 1
        if not self._appends & 1023:
            self.flush_due()

    def flush_due(self) -> None:
        """Flush every table if rows have waited ``flush_s`` or more (cheap otherwise)."""
        if time.monotonic() - self._flushed_at >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Write every table's buffered rows now; RunWriteError if the disk refuses."""
        self._flushed_at = time.monotonic()
        try:
            for table in self.tables.values():
                table.flush()
        except RunWriteError as error:
            self.failed = self.failed or error
            raise

    def close(self, status: str, **extra: Any) -> None:
        """Finish every table (last batch, footer, final name), write the manifest with
        ``status`` and ``extra``, release the directory.

        A table the disk refuses to finish keeps its stream, readable up to its last whole
        batch; the manifest then says ``incomplete`` and why (if it can still be written),
        ``twin repair`` finishes the run once there is room, and RunWriteError is raised
        after everything else was done.
        """
        if self.closed:
            return
        self.closed = True
        try:
            for name, table in self.tables.items():
                if table.broken is None:
                    try:
                        table.finish()
                    except RunWriteError as error:
                        self.failed = self.failed or error
                self.failed = self.failed or table.broken
                file, rows = (
                    (table_file(name), table.rows_written)
                    if table.finished
                    else (part_file(name), table.rows_streamed)
                )
                self.manifest["tables"][name] = {"file": file, "rows": rows}
            self.manifest.update(extra)
            if status != "complete" and "reason" not in extra:
                self.manifest["reason"] = "closed before the end of the run"
            if self.failed is not None:
                status = "incomplete"
                self.manifest["reason"] = self._unfinished_reason(self.manifest.get("reason"))
            elif status == "complete":
                self.manifest.pop("reason", None)
            self.manifest["status"] = status
            self.manifest["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            self.manifest["wall_time_s"] = round(time.perf_counter() - self._wall_start, 3)
            try:
                self._write_manifest()
            except OSError as error:
                self.failed = self.failed or RunWriteError(
                    os_error_message(error, self.directory / MANIFEST)
                )
        finally:
            self.claim.release()
        if self.failed is not None:
            raise self.failed

    def _unfinished_reason(self, reason: object) -> str:
        streams = [n for n, table in self.tables.items() if not table.finished]
        note = (
            f"{self.failed}; tables left as streams ({', '.join(streams)}): "
            f"twin repair {self.directory} finishes them once the disk has room"
        )
        return note if not reason or str(reason) == str(self.failed) else f"{reason}; {note}"

    def _write_manifest(self) -> None:
        write_manifest(self.directory, self.manifest)
