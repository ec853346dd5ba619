"""Read a run directory back: manifest, resolved config and memory-mapped Arrow tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.trace.writer import MANIFEST


class RunError(Exception):
    """A path that is not a readable run directory."""


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
        path = self.path / "config.yaml"
        return path.read_text(encoding="utf-8") if path.exists() else ""

    @property
    def table_names(self) -> list[str]:
        return sorted(p.name.removesuffix(".arrow") for p in self.path.glob("*.arrow"))

    def has(self, name: str) -> bool:
        return (self.path / f"{name}.arrow").exists()

    def table(self, name: str) -> pa.Table:
        """The table ``name`` (memory-mapped; cached per Run)."""
        if name not in self._tables:
            file = self.path / f"{name}.arrow"
            if not file.exists():
                raise RunError(f"{self.path} has no table {name!r} (it has {self.table_names})")
            try:
                source = pa.memory_map(str(file), "r")
                self._tables[name] = ipc.open_file(source).read_all()
            except (pa.ArrowInvalid, OSError) as error:
                raise RunError(f"{file} is not a readable Arrow file: {error}") from None
        return self._tables[name]


def open_run(path: str | Path) -> Run:
    """Open a run directory written by ``twin run``; RunError if it is not one."""
    directory = Path(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise RunError(f"{directory} is not a run directory (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunError(f"{manifest_path} is not readable JSON: {error}") from None
    if not isinstance(manifest, dict):
        raise RunError(f"{manifest_path} does not hold a JSON object")
    return Run(directory, manifest)
