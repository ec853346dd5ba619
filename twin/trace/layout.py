"""The names of the files in a run directory, and how to recognise a run directory of twin."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from twin.trace.schema import TABLES

MANIFEST = "manifest.json"
CONFIG = "config.yaml"
LOCK = ".twin.lock"
"""Held (``flock``) by the process writing the run; released when it ends or dies."""
TABLE = ".arrow"
PART = ".part"
"""Suffix of a file being written: an Arrow IPC stream while the run goes."""
TMP = ".tmp"
"""Suffix of a file being converted or replaced; renamed over its final name when whole."""
MAX_MANIFEST_BYTES = 16_000_000
"""A manifest is a few kB; a bigger file of that name is not one of twin's."""
TWIN_FIELDS = ("schema_version", "twin_version", "scenario", "config_hash")
"""Manifest fields every run of twin has: how ``--overwrite`` and ``twin repair`` know one."""


def table_file(name: str) -> str:
    """The final file of table ``name`` (Arrow IPC file format)."""
    return f"{name}{TABLE}"


def part_file(name: str) -> str:
    """The file table ``name`` streams into while the run goes (Arrow IPC stream format)."""
    return f"{name}{TABLE}{PART}"


def twin_files() -> frozenset[str]:
    """Every file name twin writes in a run directory (the only ones ``--overwrite`` removes)."""
    names = {MANIFEST, MANIFEST + TMP, CONFIG, LOCK}
    for name in TABLES:
        names |= {table_file(name), part_file(name), table_file(name) + TMP}
    return frozenset(names)


def is_twin_manifest(data: Any) -> bool:
    """Whether ``data`` (a parsed ``manifest.json``) is the manifest of a twin run."""
    return isinstance(data, dict) and all(isinstance(data.get(f), str) for f in TWIN_FIELDS)


def read_twin_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of the twin run in ``directory``, or None if it holds none."""
    path = directory / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if is_twin_manifest(data) else None


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` whole or not at all (a temporary file renamed over it)."""
    temporary = directory / (MANIFEST + TMP)
    try:
        temporary.write_text(json.dumps(manifest, indent=2, default=str), encoding="utf-8")
        os.replace(temporary, directory / MANIFEST)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
