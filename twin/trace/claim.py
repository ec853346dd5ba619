"""Claiming a run directory: one writer at a time, and ``--overwrite`` only of twin's own runs.

A run takes an exclusive ``flock`` on ``.twin.lock`` inside its directory before it looks at
what the directory holds, and keeps it until it closes. The kernel drops the lock when the
process ends, however it ends, so a run killed with SIGKILL leaves no stale lock behind: only
a live process blocks another run, ``--overwrite`` or ``twin repair``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path

from twin.trace.errors import RunBusyError, RunDirectoryError, os_error_message
from twin.trace.layout import LOCK, MANIFEST, read_twin_manifest, twin_files


@dataclass
class Claim:
    """The lock of one run directory, held by this process until :meth:`release`."""

    directory: Path
    fd: int

    def release(self) -> None:
        """Remove the lock file and drop the lock (in that order, so a process that opened
        the old file notices and locks a new one); idempotent."""
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            (self.directory / LOCK).unlink()
        os.close(self.fd)
        self.fd = -1


def claim_run_dir(directory: str | Path, overwrite: bool = False) -> Claim:
    """Create ``directory`` if needed and claim it for a new run.

    RunDirectoryError if another run holds it, if it holds files and ``overwrite`` is not
    set, or if those files are not a twin run's. With ``overwrite``, twin's own files are
    removed and anything else in the directory is left alone.
    """
    directory = Path(directory)
    try:
        if directory.exists() and not directory.is_dir():
            raise RunDirectoryError(
                f"{directory} exists and is not a directory; choose another --out"
            )
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunDirectoryError(os_error_message(error, directory)) from None
    claim = lock_run_dir(directory)
    try:
        present = _entries(directory)
        if present:
            if not overwrite:
                raise RunDirectoryError(
                    f"{directory} already exists and is not empty; "
                    "choose another --out or pass --overwrite"
                )
            if read_twin_manifest(directory) is None:
                raise RunDirectoryError(
                    f"{directory} is not a twin run directory (no {MANIFEST} written by twin); "
                    "refusing to overwrite it"
                )
            remove_twin_files(directory)
    except BaseException:
        claim.release()
        raise
    return claim


def lock_run_dir(directory: Path) -> Claim:
    """Take the lock of an existing run directory; RunBusyError if a live process holds it,
    RunDirectoryError if the lock file cannot be made."""
    path = directory / LOCK
    while True:
        try:
            fd = _open_lock(path)
        except OSError as error:
            raise RunDirectoryError(os_error_message(error, directory)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _holder(directory)
            holder = f" (pid {pid})" if pid else ""
            raise RunBusyError(
                f"another twin run{holder} is writing into {directory}; "
                "wait for it to end or choose another --out",
                pid,
            ) from None
        if _still_the_lock_file(fd, path):
            return Claim(directory, fd)
        os.close(fd)  # the lock file was removed or replaced meanwhile: lock the new one


def remove_twin_files(directory: Path) -> list[str]:
    """Remove the files twin writes in a run (regular files only, never the lock, never
    anything else); returns the names of what is left besides the lock."""
    ours = twin_files() - {LOCK}
    for name in sorted(ours):
        path = directory / name
        if path.is_symlink() or path.is_file():
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as error:
                raise RunDirectoryError(os_error_message(error, path)) from None
    return sorted(entry.name for entry in _entries(directory))


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return [entry for entry in entries if entry.name != LOCK]
    except OSError as error:
        raise RunDirectoryError(os_error_message(error, directory)) from None


def _open_lock(path: Path) -> int:
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    while True:
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pass
        try:
            return os.open(path, flags)
        except FileNotFoundError:
            continue  # removed between the two opens: try to create it again


def _still_the_lock_file(fd: int, path: Path) -> bool:
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _holder(directory: Path) -> int | None:
    """The pid of the run writing ``directory``, as its manifest says (if it says so yet)."""
    manifest = read_twin_manifest(directory) or {}
    match = re.fullmatch(r"running \(pid (\d+)\)", str(manifest.get("reason", "")))
    return int(match.group(1)) if match else None
