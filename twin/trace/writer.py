"""Streaming writer of a run directory.

Rows are buffered per table and written as compressed Arrow record batches, so memory stays
flat however long the run. While the run goes each table is an Arrow IPC stream
(``NAME.arrow.part``), flushed every ``batch_rows`` rows and at least every ``flush_s`` seconds
of wall time, so a run killed outright (SIGKILL, a crash of the machine) keeps every batch
written before the kill: readers read such streams, and ``twin repair`` finishes them. The
close converts each stream into an Arrow IPC file (``NAME.arrow``) and writes the manifest;
the manifest says ``incomplete`` (reason: running) until then.

The writer claims its directory first (:mod:`twin.trace.claim`): one writer per directory.
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
from twin.trace.layout import CONFIG, MANIFEST, PART, part_file, table_file, write_manifest
from twin.trace.schema import SCHEMA_VERSION, TABLES
from twin.trace.streams import BATCH_ROWS, OPTIONS, stream_to_file

__all__ = ["MANIFEST", "RunWriter", "TableWriter"]

FLUSH_S = 2.0
"""Longest wall time rows wait in memory before they are written (what a kill can lose)."""


class TableWriter:
    """Buffers rows (tuples in schema order) and streams them out as record batches."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int) -> None:
        self.path = path
        """The final file (``NAME.arrow``); rows stream into :attr:`part` until the close."""
        self.part = path.with_name(path.name + PART)
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows_written = 0
        self.finished = False
        """Whether :attr:`path` holds the whole table (the stream was converted)."""
        self._rows: list[tuple[Any, ...]] = []
        self._sink: pa.NativeFile | None = pa.OSFile(str(self.part), "wb")
        self._writer: ipc.RecordBatchStreamWriter | None = ipc.new_stream(
            self._sink, schema, options=OPTIONS
        )

    def append(self, row: tuple[Any, ...]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows as one batch; RunWriteError if the disk refuses."""
        if not self._rows or self._writer is None:
            return
        columns = list(zip(*self._rows, strict=True))
        arrays = [
            pa.array(column, type=field.type)
            for column, field in zip(columns, self.schema, strict=True)
        ]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        offset = self._sink.tell()  # type: ignore[union-attr]
        try:
            self._writer.write_batch(batch)
        except OSError as error:
            self.abandon()
            with contextlib.suppress(OSError):  # drop the half batch: room for the manifest
                os.truncate(self.part, offset)
            raise RunWriteError(os_error_message(error, self.part)) from None
        self.rows_written += len(self._rows)
        self._rows.clear()

    def finish(self) -> None:
        """Flush, end the stream and convert it into the final file; RunWriteError if the
        disk refuses (the stream then stays, readable up to its last whole batch)."""
        self.flush()
        if self._writer is not None:
            try:
                self._writer.close()
                self._sink.close()  # type: ignore[union-attr]
            except OSError as error:
                self.abandon()
                raise RunWriteError(os_error_message(error, self.part)) from None
            self._writer = self._sink = None
        try:
            self.rows_written = stream_to_file(self.part, self.path, self.schema)
        except OSError as error:
            raise RunWriteError(os_error_message(error, self.path)) from None
        self.finished = True

    def abandon(self) -> None:
        """Stop writing (after an I/O error): drop the buffer, close what can be closed,
        keep the stream as it is."""
        self._rows.clear()
        for handle in (self._writer, self._sink):
            with contextlib.suppress(OSError, pa.ArrowException):
                if handle is not None:
                    handle.close()
        self._writer = self._sink = None


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
        """Finish every table (stream → file), write the manifest, release the directory.

        Once the disk has refused a write, no table is converted (that needs room for a
        copy): the streams stay, readable up to their last whole batch, the manifest is
        written if it still can be, with the reason, and ``twin repair`` finishes the run
        once there is room. Raises RunWriteError afterwards if a write failed.
        """
        if self.closed:
            return
        self.closed = True
        try:
            for name, table in self.tables.items():
                if self.failed is None:
                    try:
                        table.finish()
                    except RunWriteError as error:
                        self.failed = error
                if not table.finished:
                    with contextlib.suppress(RunWriteError):
                        table.flush()  # small writes may still fit where a copy did not
                    table.abandon()
                file = table_file(name) if table.finished else part_file(name)
                self.manifest["tables"][name] = {"file": file, "rows": table.rows_written}
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
