"""The data files packaged with twin (``configs/data``): empirical samples and workload
traces a config names as ``builtin:NAME``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from twin.errors import TwinUserError, shorten

BUILTIN_PREFIX = "builtin:"


def data_file(name: str) -> Path:
    """A packaged data file (``configs/data/NAME``), e.g. the Philly run-time trace."""
    folder = Path(str(resources.files("twin.configs").joinpath("data")))
    known = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if name not in known:
        raise TwinUserError(f"no built-in data file {shorten(name)}; known: {', '.join(known)}")
    return folder / name


def trace_file(file: str) -> Path:
    """Where a workload trace is: ``builtin:NAME`` (``configs/data/NAME``) or a path (made
    absolute by the loader)."""
    if file.startswith(BUILTIN_PREFIX):
        return data_file(file.removeprefix(BUILTIN_PREFIX))
    if "\x00" in file:
        raise TwinUserError(f"{shorten(file)}: a file name cannot hold a NUL byte")
    return Path(file)
