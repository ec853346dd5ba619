"""The runs directory: which runs there are, what state each is in, and opening them.

- **Containment**: :class:`RunStore` opens only run directories inside its runs directory,
  and of each only files that resolve inside it too and are regular files
  (:mod:`twin.dashboards.files`); anything else is refused with the reason, nothing of it is
  read. Checked when listed and again when opened.
- **Caching**: the runs list is rebuilt at most once a second, by one thread while the others
  use the previous list; each run's :class:`RunInfo` is rebuilt only when one of its files
  changed (path, inode, size, mtime), and so is its :class:`RunData` (an LRU of a few) and
  its parsed ``config.yaml``. Derived values shared between runs (figures) live in
  :attr:`RunStore.derived`.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa
from twin.dashboards.columns import REQUIRED_TABLES, check_columns
from twin.dashboards.data import RunData
from twin.dashboards.errors import MalformedError, RunAccessError, RunError, malformed
from twin.dashboards.files import RunFiles, inside, read_bytes, read_table, scan, table_schema
from twin.dashboards.geo import Geo, load_yaml, parse_geo
from twin.dashboards.inputs import shown
from twin.dashboards.limits import (
    CONFIG_CACHE_SIZE,
    FIGURE_CACHE_SIZE,
    LISTING_TTL_S,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_NAME_CHARS,
    MAX_SHOWN_CHARS,
    RUN_CACHE_SIZE,
)
from twin.dashboards.memo import Memo
from twin.dashboards.values import finite

from twin.trace.layout import MANIFEST
from twin.trace.reader import Run, check_manifest

STATUSES = ("complete", "incomplete", "malformed", "refused", "missing")
SWEEP_TABLE = "sweep.arrow"
"""A directory of the runs dir holding this is a sweep (``twin sweep``), not a run."""
POINTS = "points"
"""The folder of a sweep directory holding its points' run directories."""


@dataclass(frozen=True)
class RunInfo:
    """One line of the runs list: the manifest's facts and the run's state."""

    name: str
    status: str  # one of STATUSES
    scenario: str = ""
    horizon_s: float | None = None
    wall_time_s: float | None = None
    tables: tuple[str, ...] = ()
    problem: str = ""
    seed: int | None = None
    whatifs: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    headline: tuple[tuple[str, float], ...] = ()
    """A few totals from the manifest (jobs, energy, CO2, cost) as (label, value)."""

    @property
    def readable(self) -> bool:
        return self.status in ("complete", "incomplete")


HEADLINE = (
    ("jobs", "jobs_submitted"),
    ("MWh", "energy_mwh"),
    ("t CO2", "co2_t"),
    ("€", "cost_eur"),
)
"""The manifest totals the runs list shows: (label, manifest key)."""
MAX_LISTED = 20
"""What-ifs or overrides listed per run (a manifest may hold any number)."""


def _texts(value: Any) -> tuple[str, ...]:
    """A manifest's list of strings, shortened (anything else: none)."""
    if not isinstance(value, list):
        return ()
    return tuple(_short(item) for item in value[:MAX_LISTED] if isinstance(item, str))


@dataclass(frozen=True)
class Config:
    """A run's ``config.yaml`` as the dashboard uses it: the parsed document and the map,
    or why there is none."""

    geo: Geo
    problem: str = ""
    document: Any = None
    """The parsed YAML (None: no config.yaml, or an unreadable one)."""


class CheckedRun(Run):
    """A :class:`~twin.trace.reader.Run` that reads only the checked files of a run (so
    :func:`twin.trace.summary.summarize` and the pages read through the same checks)."""

    def __init__(self, files: RunFiles, manifest: dict[str, Any]) -> None:
        super().__init__(files.directory, manifest)
        self.files = files
        self._loaded: Memo[pa.Table] = Memo()

    @property
    def table_names(self) -> list[str]:
        return sorted(self.files.tables)

    def has(self, name: str) -> bool:
        return name in self.files.tables

    def table(self, name: str) -> pa.Table:
        ref = self.files.tables.get(name)
        if ref is None:
            raise malformed(name, f"the run has no table {name!r}")
        return self._loaded.get(name, lambda: read_table(self.files.root, ref, name))

    @property
    def config_text(self) -> str:  # type: ignore[override]
        ref = self.files.config
        if ref is None:
            return ""
        try:
            return read_bytes(self.files.root, ref, MAX_CONFIG_BYTES).decode("utf-8")
        except (RunError, UnicodeDecodeError):
            return ""


class RunStore:
    """The run directories under ``runs_dir``, listed and opened on demand (see module)."""

    def __init__(
        self,
        runs_dir: str | Path,
        cache_size: int = RUN_CACHE_SIZE,
        listing_ttl_s: float = LISTING_TTL_S,
    ) -> None:
        root = Path(runs_dir).expanduser()
        if not root.is_dir():
            raise RunError(f"{runs_dir} is not a directory (make a run first: twin run)")
        self.root = root.resolve()
        self.cache_size = cache_size
        self.listing_ttl_s = listing_ttl_s
        self.derived: Memo[Any] = Memo(size=FIGURE_CACHE_SIZE)
        """Values derived from runs (figures), keyed by the runs' ``token``s."""
        self._runs: Memo[RunData] = Memo(size=cache_size)
        self._infos: Memo[RunInfo] = Memo(size=4096)
        self._configs: Memo[Config] = Memo(size=CONFIG_CACHE_SIZE)
        self._tokens = itertools.count()
        self._listing: tuple[float, list[RunInfo]] | None = None
        self._listing_gate = threading.Lock()

    # -- names -----------------------------------------------------------------------------

    def resolve(self, name: Any) -> Path:
        """The directory of run ``name``: refused unless ``name`` is one entry of the runs
        directory, or a point of a sweep there (``<sweep>/points/<point>``), with no ``..``
        or empty part, that resolves inside it."""
        if not isinstance(name, str) or not name or "\x00" in name or len(name) > MAX_NAME_CHARS:
            raise RunAccessError(f"refused: {shown(name)} is not a run name")
        if PurePath(name).is_absolute():
            raise RunAccessError(f"refused: {shown(name)} is an absolute path, not a run name")
        parts = name.split("/")
        nested = len(parts) == 3 and parts[1] == POINTS
        if not (len(parts) == 1 or nested) or not all(map(_plain, parts)):
            raise RunAccessError(f"refused: {shown(name)} is outside the runs directory")
        try:
            path = (self.root / name).resolve()
        except (OSError, RuntimeError):
            raise RunAccessError(f"refused: {shown(name)} cannot be resolved") from None
        if path == self.root or not inside(self.root, path):
            raise RunAccessError(f"refused: {shown(name)} is outside the runs directory")
        return path

    def names(self) -> list[str]:
        """The run directories under the runs dir (hidden ones and sweeps left out)."""
        return self._entries(sweeps=False)

    def sweep_names(self) -> list[str]:
        """The sweep directories under the runs dir (those holding a ``sweep.arrow``)."""
        return self._entries(sweeps=True)

    def _entries(self, sweeps: bool) -> list[str]:
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return []
        found = []
        for entry in entries:
            try:
                visible = not entry.name.startswith(".") and entry.is_dir()
                if visible and os.path.lexists(os.path.join(entry.path, SWEEP_TABLE)) == sweeps:
                    found.append(entry.name)
            except OSError:
                continue
        return sorted(found)

    def _files(self, name: Any) -> RunFiles:
        path = self.resolve(name)
        if not path.exists():
            raise RunError(f"run not found: {shown(name)}")
        if not path.is_dir():
            raise RunError(f"{shown(name)} is not a run directory")
        files = scan(self.root, path)
        if files.manifest is None:
            raise RunError(f"{shown(name)} is not a run directory (no {MANIFEST})")
        return files

    # -- the runs list ---------------------------------------------------------------------

    def list_runs(self) -> list[RunInfo]:
        """Every directory under the runs dir, each with its state (nothing outside read).

        Reused for ``listing_ttl_s``; then one thread rebuilds it (cheaply: only runs whose
        files changed are looked at again) while the others get the previous list."""
        listing = self._listing
        if listing is not None and time.monotonic() - listing[0] < self.listing_ttl_s:
            return list(listing[1])
        if listing is None:
            self._listing_gate.acquire()  # the first list: wait for whoever builds it
        elif not self._listing_gate.acquire(blocking=False):
            return list(listing[1])
        try:
            listing = self._listing
            if listing is None or time.monotonic() - listing[0] >= self.listing_ttl_s:
                infos = [self.info(name) for name in self.names()]
                listing = self._listing = (time.monotonic(), infos)
        finally:
            self._listing_gate.release()
        return list(listing[1])

    def info(self, name: Any) -> RunInfo:
        """What the manifest says, and whether the run is readable (never raises)."""
        label = name if isinstance(name, str) and len(name) <= MAX_NAME_CHARS else shown(name)
        try:
            files = self._files(name)
        except RunAccessError as error:
            return RunInfo(label, "refused", problem=str(error))
        except RunError as error:
            missing = str(error).startswith("run not found")
            return RunInfo(label, "missing" if missing else "malformed", problem=str(error))
        return self._infos.get((name, files.fingerprint), lambda: self._info(label, files))

    def _info(self, name: str, files: RunFiles) -> RunInfo:
        tables = tuple(sorted(files.tables))
        try:
            manifest = self._manifest(files)
        except RunAccessError as error:
            return RunInfo(name, "refused", tables=tables, problem=str(error))
        except RunError as error:
            return RunInfo(name, "malformed", tables=tables, problem=str(error))
        problems = [f"no {table}.arrow" for table in REQUIRED_TABLES if table not in tables]
        for table in tables:
            try:
                check_columns(table, table_schema(self.root, files.tables[table], table))
            except RunAccessError as error:
                return RunInfo(name, "refused", tables=tables, problem=str(error))
            except RunError as error:
                problems.append(str(error))
        config = self._config(files)
        if config.problem:
            problems.append(config.problem)
        status = str(manifest.get("status"))
        if problems:
            status = "malformed"
        elif status == "incomplete":
            problems.append(_short(manifest.get("reason") or "the run did not finish"))
        elif status != "complete":
            problems.append(f"unknown status {shown(manifest.get('status'))}")
            status = "malformed"
        return RunInfo(
            name,
            status,
            scenario=_short(manifest.get("scenario", name)),
            horizon_s=finite(manifest.get("horizon_s")),
            wall_time_s=finite(manifest.get("wall_time_s")),
            tables=tables,
            problem="; ".join(problems),
            seed=manifest["seed"] if isinstance(manifest.get("seed"), int) else None,
            whatifs=_texts(manifest.get("whatifs")),
            overrides=_texts(manifest.get("overrides")),
            headline=tuple(
                (label, value)
                for label, key in HEADLINE
                if (value := finite(manifest.get(key))) is not None
            ),
        )

    # -- opening a run ---------------------------------------------------------------------

    def get(self, name: Any) -> RunData:
        """Run ``name`` opened, cached until one of its files changes: RunAccessError if it
        (or a file of it) is outside the runs dir or not a regular file, RunError if it is not
        a readable run."""
        files = self._files(name)
        key = (name, files.fingerprint)
        fresh = key not in self._runs

        def build() -> RunData:
            run = CheckedRun(files, self._manifest(files))
            config = self._config(files)
            return RunData(
                name, run, geo=config.geo, config=config.document, token=next(self._tokens)
            )

        data = self._runs.get(key, build)
        if fresh:  # older versions of this run will not be asked for again
            self._runs.discard(lambda old: old[0] == name and old != key)
        return data

    def _manifest(self, files: RunFiles) -> dict[str, Any]:
        data = read_bytes(self.root, files.manifest, MAX_MANIFEST_BYTES)  # type: ignore[arg-type]
        try:
            manifest = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise malformed(MANIFEST, "not UTF-8 text") from None
        except RecursionError:
            raise malformed(MANIFEST, "not readable JSON (nested too deep)") from None
        except ValueError as error:
            raise malformed(MANIFEST, f"not readable JSON ({str(error)[:100]})") from None
        if not isinstance(manifest, dict):
            raise malformed(MANIFEST, "does not hold a JSON object")
        try:
            return check_manifest(manifest, MANIFEST)  # the field types twin.trace expects
        except RunError as error:
            raise malformed(MANIFEST, str(error).removeprefix(f"{MANIFEST}: ")) from None

    def config_dict(self, name: Any) -> dict[str, Any]:
        """A run's resolved ``config.yaml`` as a mapping, read through the store's file
        checks (inside the runs dir, size-capped); RunError saying why if it cannot be."""
        config = self._config(self._files(name))
        if config.problem:
            raise MalformedError(config.problem)
        if config.document is None:
            raise malformed("config.yaml", "the run has no config.yaml")
        if not isinstance(config.document, dict):
            raise malformed("config.yaml", "not a mapping")
        return config.document

    def _config(self, files: RunFiles) -> Config:
        """The run's ``config.yaml``, parsed once per file identity, and its map."""
        ref = files.config
        if ref is None:
            return Config(Geo())

        def build() -> Config:
            try:
                text = read_bytes(self.root, ref, MAX_CONFIG_BYTES).decode("utf-8")
                document = load_yaml(text) if text.strip() else {}
                return Config(parse_geo(document), document=document)
            except UnicodeDecodeError:
                return Config(Geo(), "malformed: config.yaml: not UTF-8 text")
            except RunError as error:
                return Config(Geo(), str(error))

        return self._configs.get(ref.identity, build)


def _plain(part: str) -> bool:
    """One directory entry's name: not empty, not ``.`` or ``..``, no separator."""
    return part not in ("", ".", "..") and not any(
        sep and sep in part for sep in (os.sep, os.altsep)
    )


def _short(value: Any) -> str:
    """A manifest field as a short text."""
    text = value if isinstance(value, str) else shown(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"


__all__ = [
    "POINTS",
    "STATUSES",
    "SWEEP_TABLE",
    "CheckedRun",
    "RunAccessError",
    "RunError",
    "RunInfo",
    "RunStore",
]
