"""The errors of run directories: what cannot be read, and what cannot be claimed or written."""

from __future__ import annotations

import errno
from pathlib import Path


class RunError(Exception):
    """A path that is not a readable run directory, or a run table that is malformed."""


class RunDirectoryError(RunError):
    """A run directory that cannot be claimed or written: busy, not empty, not twin's, not
    writable, or on a full disk. The message names the path and what to do."""


class RunWriteError(RunDirectoryError):
    """Writing a run directory this process holds failed (a full disk, say)."""


class RunBusyError(RunDirectoryError):
    """A run directory whose lock a live process holds (a run writing it, or a repair)."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


def os_error_message(error: OSError, path: str | Path) -> str:
    """A one-line description of an OS error met while writing ``path`` (no traceback)."""
    code = error.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: no space left to write {path}"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied: cannot write {path}"
    if code == errno.EROFS:
        return f"{path} is on a read-only file system"
    if code == errno.ENAMETOOLONG:
        return f"the name is too long: {path}"
    if code == errno.ENOTDIR:
        return f"{path}: a part of this path is a file, not a directory"
    if code == errno.EEXIST:
        return f"{path} exists and is not a directory"
    reason = error.strerror or str(error) or type(error).__name__
    return f"cannot write {path}: {reason}"


def first_line(error: BaseException) -> str:
    """The first line of an error's message (pyarrow's run to several), or its type."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
