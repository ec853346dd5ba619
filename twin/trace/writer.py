"""Streaming writer of a run directory.

Rows are buffered per table and written as compressed Arrow record batches, so memory stays
flat however long the run. Tables are written under temporary names (``.arrow.part``) and
renamed at the end; the manifest says ``incomplete`` until :meth:`RunWriter.close` marks it
``complete``. A run that fails or is interrupted is closed as ``incomplete``: its tables are
still valid Arrow files holding every row written before the stop.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.trace.schema import SCHEMA_VERSION, TABLES

MANIFEST = "manifest.json"
PART = ".part"


class TableWriter:
    """Buffers rows (tuples in schema order) and writes them as record batches."""

    def __init__(self, path: Path, schema: pa.Schema, batch_rows: int) -> None:
        self.path = path
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows_written = 0
        self._rows: list[tuple[Any, ...]] = []
        self._sink = pa.OSFile(str(path), "wb")
        options = ipc.IpcWriteOptions(compression="zstd")
        self._writer = ipc.new_file(self._sink, schema, options=options)

    def append(self, row: tuple[Any, ...]) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self._rows:
            return
        columns = list(zip(*self._rows, strict=True))
        arrays = [
            pa.array(column, type=field.type)
            for column, field in zip(columns, self.schema, strict=True)
        ]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows_written += len(self._rows)
        self._rows.clear()

    def close(self) -> None:
        self.flush()
        self._writer.close()
        self._sink.close()


class RunWriter:
    """Owns a run directory while the model writes it."""

    def __init__(
        self,
        directory: Path,
        manifest: dict[str, Any],
        config_yaml: str,
        tables: tuple[str, ...] = tuple(TABLES),
        batch_rows: int = 8192,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._wall_start = time.perf_counter()
        self.manifest: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            **manifest,
            "status": "incomplete",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"python": platform.python_version(), "machine": platform.machine()},
            "tables": {},
        }
        (self.directory / "config.yaml").write_text(config_yaml, encoding="utf-8")
        self._write_manifest()
        self.tables = {
            name: TableWriter(self._part_path(name), TABLES[name], batch_rows) for name in tables
        }
        self.closed = False

    def _part_path(self, name: str) -> Path:
        return self.directory / f"{name}.arrow{PART}"

    def append(self, table: str, row: tuple[Any, ...]) -> None:
        self.tables[table].append(row)

    def close(self, status: str, **extra: Any) -> None:
        """Close every table, rename them to their final names and write the manifest."""
        if self.closed:
            return
        self.closed = True
        for name, table in self.tables.items():
            table.close()
            os.replace(table.path, self.directory / f"{name}.arrow")
            self.manifest["tables"][name] = {"file": f"{name}.arrow", "rows": table.rows_written}
        self.manifest.update(extra)
        self.manifest["status"] = status
        self.manifest["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.manifest["wall_time_s"] = round(time.perf_counter() - self._wall_start, 3)
        self._write_manifest()

    def _write_manifest(self) -> None:
        temporary = self.directory / (MANIFEST + PART)
        temporary.write_text(json.dumps(self.manifest, indent=2, default=str), encoding="utf-8")
        os.replace(temporary, self.directory / MANIFEST)
