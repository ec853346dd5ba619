"""``twin repair``: finish a run that was killed (SIGKILL, a crash, a full disk).

Such a run's tables are still Arrow IPC streams (``NAME.arrow.part``) holding every batch
flushed before the stop, and its manifest still says it is running. The repair converts the
streams into the final table files (a batch cut short by the kill is left out), counts their
rows and marks the run ``incomplete`` with the reason. It refuses a directory that is not a
twin run, and one that a live process is still writing (it holds the run's lock).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from twin.trace.claim import lock_run_dir
from twin.trace.errors import RunBusyError, RunDirectoryError, RunError, os_error_message
from twin.trace.layout import (
    MANIFEST,
    TMP,
    part_file,
    read_twin_manifest,
    table_file,
    write_manifest,
)
from twin.trace.schema import TABLES
from twin.trace.streams import stream_to_file

REASON = "killed: repaired by twin repair (rows up to the last flushed batch)"
REPAIRED = "tables finished by twin repair"


@dataclass
class Repair:
    """What ``twin repair`` found and did."""

    path: Path
    repaired: bool
    """False if the run needed nothing (it was closed by twin, complete or not)."""
    status: str
    reason: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows per table after the repair."""


def needs_repair(directory: Path, manifest: dict[str, Any]) -> bool:
    """Whether a twin run was left unfinished: table streams remain, or the manifest still
    says it is running."""
    streams = any((directory / part_file(name)).exists() for name in TABLES)
    return streams or str(manifest.get("reason", "")).startswith("running")


def repair_run(path: str | Path) -> Repair:
    """Finish the run in ``path`` if it was left unfinished (see the module)."""
    directory = Path(path)
    manifest = read_twin_manifest(directory) if directory.is_dir() else None
    if manifest is None:
        raise RunError(f"{directory} is not a twin run directory (no {MANIFEST} written by twin)")
    try:
        claim = lock_run_dir(directory)
    except RunBusyError as error:
        holder = f" (pid {error.pid})" if error.pid else ""
        raise RunBusyError(
            f"{directory} is still being written by a running twin{holder}; "
            "let it finish or stop it (Ctrl-C, kill) first",
            error.pid,
        ) from None
    try:
        manifest = read_twin_manifest(directory) or manifest  # as it is now, under the lock
        status = str(manifest.get("status", "incomplete"))
        if not needs_repair(directory, manifest):
            return Repair(directory, False, status, str(manifest.get("reason", "")))
        rows = {name: _finish_table(directory, name) for name in TABLES}
        rows = {name: count for name, count in rows.items() if count is not None}
        manifest["tables"] = {
            name: {"file": table_file(name), "rows": n} for name, n in rows.items()
        }
        if "end_s" not in manifest:
            manifest["end_s"] = _last_time_s(directory, rows)
        manifest["status"] = "incomplete"
        before = str(manifest.get("reason", ""))
        reason = REASON if before.startswith("running") or not before else f"{before}; {REPAIRED}"
        manifest["reason"] = reason
        manifest["repaired_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        try:
            write_manifest(directory, manifest)
        except OSError as error:
            raise RunDirectoryError(os_error_message(error, directory / MANIFEST)) from None
    finally:
        claim.release()
    return Repair(directory, True, "incomplete", reason, rows)


def _finish_table(directory: Path, name: str) -> int | None:
    """Turn table ``name``'s stream into its file (if the kill came before); its rows."""
    final, part = directory / table_file(name), directory / part_file(name)
    temporary = final.with_name(final.name + TMP)
    try:
        temporary.unlink(missing_ok=True)  # a conversion cut short
        if part.is_file():
            if final.is_file() and _rows(final) is not None:
                part.unlink()  # converted just before the kill; the stream is a leftover
            else:
                stream_to_file(part, final, TABLES[name], validate=True)
    except OSError as error:
        raise RunDirectoryError(os_error_message(error, final)) from None
    return _rows(final) if final.is_file() else None


def _rows(file: Path) -> int | None:
    """Rows of an Arrow IPC file (read batch by batch), or None if it is not readable."""
    try:
        with pa.memory_map(str(file), "r") as source:
            reader = ipc.open_file(source)
            return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
    except (pa.ArrowException, OSError, ValueError):
        return None


def _last_time_s(directory: Path, rows: dict[str, int]) -> float:
    """The latest ``time_s`` in the repaired tables: how far the run got before the kill."""
    latest = 0.0
    for name in rows:
        if "time_s" not in TABLES[name].names:
            continue
        file = directory / table_file(name)
        with (
            contextlib.suppress(pa.ArrowException, OSError, ValueError),
            pa.memory_map(str(file), "r") as source,
        ):
            reader = ipc.open_file(source)
            for i in range(reader.num_record_batches):
                value = pc.max(reader.get_batch(i).column("time_s")).as_py()
                if value is not None:
                    latest = max(latest, float(value))
    return latest
