"""Read a run directory back: manifest, resolved config and memory-mapped Arrow tables.

A finished table is an Arrow IPC file (``NAME.arrow``). A table of a run that was killed or
is still running exists only as its stream (``NAME.arrow.part``): it is read up to its last
whole record batch. Whatever cannot be read, or does not have the columns and types of
:mod:`twin.trace.schema`, is a :class:`RunError` with a message saying why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.trace.errors import RunError, first_line
from twin.trace.layout import CONFIG, MANIFEST, MAX_MANIFEST_BYTES, PART, TABLE, part_file
from twin.trace.schema import TABLES
from twin.trace.streams import read_stream

__all__ = ["Run", "RunError", "check_manifest", "check_table", "open_run"]

_NUMBER = (int, float)
MANIFEST_TYPES: dict[str, tuple[type, ...]] = {
    "schema_version": (str,),
    "twin_version": (str,),
    "scenario": (str,),
    "config_hash": (str,),
    "status": (str,),
    "reason": (str,),
    "seed": (int,),
    "start": (str,),
    "start_s": _NUMBER,
    "end_s": _NUMBER,
    "horizon_s": _NUMBER,
    "wall_time_s": (*_NUMBER, type(None)),
    "tables": (dict,),
}
"""Types of the manifest fields readers use; a field may be absent, not of another type."""


@dataclass
class Run:
    """A run directory opened for reading. Tables are memory-mapped, not copied."""

    path: Path
    manifest: dict[str, Any]
    _tables: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        return str(self.manifest.get("status", "unknown"))

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def scenario(self) -> str:
        return str(self.manifest.get("scenario", self.path.name))

    @cached_property
    def config_text(self) -> str:
        """The resolved config the run was made with (YAML text)."""
        path = self.path / CONFIG
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    @property
    def table_names(self) -> list[str]:
        """Tables the run holds, finished (``.arrow``) or still streams (``.arrow.part``)."""
        names = {p.name.removesuffix(TABLE) for p in self.path.glob(f"*{TABLE}")}
        names |= {p.name.removesuffix(TABLE + PART) for p in self.path.glob(f"*{TABLE}{PART}")}
        return sorted(names)

    def has(self, name: str) -> bool:
        return (self.path / f"{name}{TABLE}").is_file() or (self.path / part_file(name)).is_file()

    def table(self, name: str) -> pa.Table:
        """The table ``name`` (memory-mapped; cached per Run); RunError if it is missing,
        unreadable or lacks a column of its schema."""
        if name not in self._tables:
            self._tables[name] = check_table(name, self._read(name), self.path)
        return self._tables[name]

    def _read(self, name: str) -> pa.Table:
        file = self.path / f"{name}{TABLE}"
        part = self.path / part_file(name)
        try:
            if file.is_file():
                table = ipc.open_file(pa.memory_map(str(file), "r")).read_all()
                table.validate(full=True)
                return table
            if part.is_file():
                return read_stream(part, TABLES.get(name))
        except RunError:
            raise
        except (pa.ArrowException, OSError, ValueError) as error:
            raise RunError(f"{file} is not a readable Arrow file: {first_line(error)}") from None
        raise RunError(f"{self.path} has no table {name!r} (it has {self.table_names})")


def check_table(name: str, table: pa.Table, where: str | Path = "") -> pa.Table:
    """``table`` if it has every column of table ``name``'s schema, with its type and no
    nulls where none may be; else RunError. Extra columns are allowed; unknown names pass.
    A nullable column the table lacks (a run written before twin added it) is read as null
    throughout, so older runs stay readable."""
    schema = TABLES.get(name)
    if schema is None:
        return table
    label = f"{where}/{name}" if where else name
    for expected in schema:
        index = table.schema.get_field_index(expected.name)
        if index < 0 and expected.nullable:
            table = table.append_column(expected, pa.nulls(table.num_rows, expected.type))
            continue
        if index < 0:
            raise RunError(f"{label}: malformed table: no column {expected.name!r}")
        actual = table.schema.field(index)
        if not actual.type.equals(expected.type):
            raise RunError(
                f"{label}: malformed table: column {expected.name!r} is {actual.type}, "
                f"expected {expected.type}"
            )
        if not expected.nullable and table.column(index).null_count:
            raise RunError(
                f"{label}: malformed table: column {expected.name!r} has "
                f"{table.column(index).null_count} empty values"
            )
    return table


def check_manifest(manifest: Any, where: str | Path = MANIFEST) -> dict[str, Any]:
    """``manifest`` if it is a JSON object whose known fields have their types; else
    RunError naming the field."""
    if not isinstance(manifest, dict):
        raise RunError(f"{where} does not hold a JSON object")
    for key, types in MANIFEST_TYPES.items():
        if key not in manifest:
            continue
        value = manifest[key]
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise RunError(f"{where}: {key} must be {expected}, got {value!r:.60}")
    return manifest


def open_run(path: str | Path) -> Run:
    """Open a run directory written by ``twin run``; RunError if it is not one."""
    directory = Path(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise RunError(f"{directory} is not a run directory (no {MANIFEST})")
    try:
        if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            raise RunError(f"{manifest_path} is too large to be a run's manifest")
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunError(f"{manifest_path} is not readable JSON: {error}") from None
    return Run(directory, check_manifest(manifest, manifest_path))
