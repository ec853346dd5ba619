"""The files of a run directory, each checked before it is read.

A run directory exposes ``manifest.json``, ``config.yaml`` and its tables (``NAME.arrow``,
or ``NAME.arrow.part`` for a run that was killed or is still running). Each must resolve
inside the runs directory (a symlink may point to another file inside it, not out) and be a
regular file (a FIFO would hang a read, a device never ends); otherwise the whole run is
refused with the reason, and nothing of it is read. The check is made when the directory is
scanned and again when each file is opened: the file opened is the one checked (same device
and inode), opened without following a link and without blocking. Reads are bounded
(:mod:`twin.dashboards.limits`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
from twin.dashboards.errors import MalformedError, RunAccessError, RunError, malformed
from twin.dashboards.limits import MAX_TABLE_BYTES

from twin.trace.layout import CONFIG, MANIFEST, TABLE
from twin.trace.layout import PART as _PART
from twin.trace.reader import check_table
from twin.trace.schema import TABLES
from twin.trace.streams import whole_batches

PART = TABLE + _PART
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


@dataclass(frozen=True)
class FileRef:
    """One checked file of a run: its name there, the regular file inside the runs directory
    it resolves to, and that file's identity when checked."""

    name: str
    entry: Path
    path: Path
    device: int
    inode: int
    size: int
    mtime_ns: int

    @property
    def identity(self) -> tuple[str, int, int, int, int]:
        """Path, inode, size and mtime: a changed file has a new identity."""
        return (str(self.path), self.device, self.inode, self.size, self.mtime_ns)


@dataclass(frozen=True)
class RunFiles:
    """The checked files of one run directory."""

    root: Path
    directory: Path
    manifest: FileRef | None = None
    config: FileRef | None = None
    tables: dict[str, FileRef] = field(default_factory=dict)

    @property
    def fingerprint(self) -> tuple[object, ...]:
        """Changes whenever one of the files changes (a cache key for what is read)."""
        refs = [self.manifest, self.config, *(self.tables[n] for n in sorted(self.tables))]
        return (str(self.directory), *(r.identity if r else None for r in refs))


def inside(root: Path, path: Path) -> bool:
    return path == root or path.is_relative_to(root)


def check_file(root: Path, entry: Path) -> FileRef:
    """``entry`` (a name in a run directory) resolved and checked: RunAccessError if it
    points outside ``root`` or is not a regular file, RunError if it cannot be looked at."""
    name = entry.name
    try:
        target = entry.resolve() if entry.is_symlink() else entry
    except (OSError, RuntimeError):  # RuntimeError: a loop of links (Python < 3.13)
        raise RunAccessError(f"refused: {name} cannot be resolved (a loop of links?)") from None
    if not inside(root, target):
        raise RunAccessError(f"refused: {name} points outside the runs directory")
    try:
        found = os.stat(target)
    except OSError as error:
        raise RunError(f"not readable: {name} ({_why(error)})") from None
    if not stat.S_ISREG(found.st_mode):
        raise RunAccessError(f"refused: {name} is not a regular file")
    return FileRef(
        name, entry, target, found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns
    )


def scan(root: Path, directory: Path) -> RunFiles:
    """Every file the dashboard reads of the run in ``directory`` (itself resolved inside
    ``root``), each checked; RunAccessError at the first that fails."""
    refs: dict[str, FileRef] = {}
    parts: dict[str, FileRef] = {}
    manifest = config = None
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as error:
        raise RunError(f"not readable: {directory.name} ({_why(error)})") from None
    for entry in entries:
        name = entry.name
        if name == MANIFEST:
            manifest = check_file(root, Path(entry.path))
        elif name == CONFIG:
            config = check_file(root, Path(entry.path))
        elif name.endswith(TABLE) and len(name) > len(TABLE):
            refs[name.removesuffix(TABLE)] = check_file(root, Path(entry.path))
        elif name.endswith(PART) and len(name) > len(PART):
            parts[name.removesuffix(PART)] = check_file(root, Path(entry.path))
    return RunFiles(root, directory, manifest, config, {**parts, **refs})


# ---------------------------------------------------------------------------------------------
# Opening a checked file
# ---------------------------------------------------------------------------------------------


def _open(root: Path, ref: FileRef) -> tuple[int, os.stat_result]:
    """A file descriptor on ``ref``, checked again now: still inside, still regular, and
    the very file that was checked."""
    fresh = check_file(root, ref.entry)
    if (fresh.device, fresh.inode) != (ref.device, ref.inode):
        raise RunError(f"not readable: {ref.name} was replaced while being read; reload")
    try:
        fd = os.open(fresh.path, _FLAGS)
    except OSError as error:
        raise RunError(f"not readable: {ref.name} ({_why(error)})") from None
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode) or (found.st_dev, found.st_ino) != (ref.device, ref.inode):
        os.close(fd)
        raise RunAccessError(f"refused: {ref.name} changed into something else while opened")
    return fd, found


def read_bytes(root: Path, ref: FileRef, limit: int) -> bytes:
    """The contents of ``ref``, at most ``limit`` bytes (else "too large", unread)."""
    if ref.size > limit:
        raise _too_large(ref.name, ref.size, limit)
    fd, found = _open(root, ref)
    try:
        if found.st_size > limit:
            raise _too_large(ref.name, found.st_size, limit)
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as error:
        raise RunError(f"not readable: {ref.name} ({_why(error)})") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise _too_large(ref.name, len(data), limit)
    return data


def read_table(root: Path, ref: FileRef, table: str) -> pa.Table:
    """The Arrow table in ``ref``: an IPC file (``.arrow``), or for ``.arrow.part`` the whole
    record batches of a stream cut short (a killed or running run), its data validated and
    its columns checked against :mod:`twin.trace.schema` (``twin.trace``'s own rules), else
    ``malformed: <table>: …``. Read into memory: nothing stays mapped to a file someone
    could truncate under the server."""
    data = read_bytes(root, ref, MAX_TABLE_BYTES)
    if not data and not (ref.name.endswith(PART) and table in TABLES):
        raise malformed(table, f"{ref.name} is empty")
    try:
        if not data:  # a stream not yet written to
            loaded = TABLES[table].empty_table()
        elif ref.name.endswith(PART):
            loaded = _read_partial(pa.py_buffer(data))
        else:
            loaded = ipc.open_file(pa.BufferReader(pa.py_buffer(data))).read_all()
            loaded.validate(full=True)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise malformed(table, f"{ref.name} is not an Arrow file ({_why(error)})") from None
    try:
        return check_table(table, loaded)
    except RunError as error:
        raise malformed(table, str(error).split("malformed table: ", 1)[-1]) from None


def table_schema(root: Path, ref: FileRef, table: str) -> pa.Schema:
    """The schema of the table in ``ref``, reading only its footer (``.arrow``) or its first
    message (``.arrow.part``): a cheap readability check for the runs list."""
    if ref.size == 0:
        raise malformed(table, f"{ref.name} is empty")
    if ref.size > MAX_TABLE_BYTES:
        raise _too_large(ref.name, ref.size, MAX_TABLE_BYTES)
    fd, _ = _open(root, ref)
    try:
        with os.fdopen(fd, "rb") as handle:
            source = pa.PythonFile(handle, mode="r")
            if not ref.name.endswith(PART):
                return ipc.open_file(source).schema
            if handle.read(6) != b"ARROW1":
                handle.seek(0)
            else:
                handle.seek(8)
            return ipc.open_stream(source).schema
    except (pa.ArrowException, OSError, ValueError) as error:
        raise malformed(table, f"{ref.name} is not an Arrow file ({_why(error)})") from None


def _read_partial(buffer: pa.Buffer) -> pa.Table:
    """The whole, valid record batches of an IPC stream (or of an IPC file cut before its
    footer: magic bytes, then a stream), up to where it was cut."""
    start = 8 if buffer.slice(0, 6).to_pybytes() == b"ARROW1" else 0
    reader = ipc.open_stream(pa.BufferReader(buffer.slice(start)))
    return pa.Table.from_batches(list(whole_batches(reader, validate=True)), schema=reader.schema)


def _too_large(name: str, size: int, limit: int) -> MalformedError:
    return malformed(name, f"too large ({size / 1e6:,.1f} MB; at most {limit / 1e6:,.1f} MB)")


def _why(error: BaseException) -> str:
    """An error's message without file contents or paths (strerror for OS errors)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
