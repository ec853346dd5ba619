"""A sweep as the dashboard sees it: ``<sweep>/sweep.arrow`` (written by ``twin sweep``, laid
out by ``twin.sweep.table``) read like a run's files, its points grouped by configuration,
and each metric's mean with its Student-t interval over seeds.

- **Containment**: ``sweep.arrow`` must resolve inside the runs directory and be a regular
  file (:func:`~twin.dashboards.files.check_file`, read bounded and without following a
  link). Every point's ``run`` must be ``points/<entry>`` and resolve inside the runs
  directory too; a sweep with one that does not is refused whole, like a run with a file
  linked outside. A point opens in Replay as the run ``<sweep>/points/<entry>``.
- **Checks**: the fixed columns with their kinds, ``param:`` columns of text, ``metric:``
  columns of numbers, a known status; anything else is ``malformed: sweep.arrow: …``.
- **Caching**: a parsed sweep is kept by the identity of its ``sweep.arrow`` (path, inode,
  size, mtime) in :attr:`RunStore.derived`: re-read only when the file changed.
- **Error bars**: a configuration's interval is over its complete points only
  (:func:`twin.analysis.stats.mean_interval`); points of different configurations are never
  pooled (parameters other than x and the line parameter are held at one value).
"""

from __future__ import annotations

import math
import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
from twin.dashboards.columns import NUMBER, TEXT, kind_of
from twin.dashboards.errors import RunAccessError, RunError, malformed
from twin.dashboards.files import check_file, inside, read_bytes
from twin.dashboards.inputs import shown
from twin.dashboards.limits import MAX_SHOWN_CHARS, MAX_SWEEP_BYTES, MAX_SWEEP_POINTS
from twin.dashboards.store import POINTS, SWEEP_TABLE, RunStore
from twin.dashboards.values import Band
from twin.dashboards.views import converted

from twin.analysis.stats import Interval, mean_interval, paired_difference

PARAM = "param:"
METRIC = "metric:"
FIXED = {
    "point": TEXT,
    "config": TEXT,
    "label": TEXT,
    "seed": NUMBER,
    "status": TEXT,
    "reason": TEXT,
    "run": TEXT,
    "wall_s": NUMBER,
    "host": TEXT,
}
"""The fixed columns of ``sweep.arrow`` (``twin.sweep.table.FIXED``) and their kinds."""
NOT_NULL = ("point", "config", "label", "seed", "status", "run")
POINT_STATUSES = ("complete", "incomplete", "failed")


@dataclass(frozen=True)
class Point:
    """One row of ``sweep.arrow``: a configuration run with one seed."""

    point: str
    config: str
    label: str
    seed: int
    status: str
    reason: str
    run: str
    """The point's run as the runs directory names it: ``<sweep>/points/<entry>``."""
    wall_s: float | None
    host: str
    params: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class Configuration:
    """The points of one configuration (one value per parameter, several seeds)."""

    id: str
    label: str
    params: dict[str, str]
    points: tuple[Point, ...]

    def values(self, metric: str) -> dict[int, float]:
        """The metric by seed, over the complete points where it is defined."""
        return {
            p.seed: p.metrics[metric]
            for p in self.points
            if p.status == "complete" and math.isfinite(p.metrics.get(metric, math.nan))
        }

    def interval(self, metric: str) -> Interval:
        """Mean and Student-t interval of the metric over the complete points."""
        return mean_interval([p.metrics.get(metric, math.nan) for p in self.complete])

    @property
    def complete(self) -> list[Point]:
        return [p for p in self.points if p.status == "complete"]


@dataclass(frozen=True)
class Bands:
    """What a metric-against-parameter figure shows: one band per line, and the values the
    other parameters were held at."""

    bands: list[Band]
    held: dict[str, str] = field(default_factory=dict)
    numeric: bool = False
    order: list[str] = field(default_factory=list)
    """The x values in axis order."""


class Sweep:
    """A parsed ``sweep.arrow``: its parameters, metrics, points and configurations."""

    def __init__(
        self,
        name: str,
        params: Sequence[str],
        metrics: Sequence[str],
        points: Sequence[Point],
        version: Hashable = None,
    ) -> None:
        self.name = name
        self.version = version
        """Identifies the file read (a cache key for what is derived from it)."""
        self.params = tuple(params)
        self.metrics = tuple(metrics)
        self.points = tuple(points)
        grouped: dict[str, list[Point]] = {}
        for point in self.points:
            grouped.setdefault(point.config, []).append(point)
        self.configurations = {
            config: Configuration(config, found[0].label, found[0].params, tuple(found))
            for config, found in grouped.items()
        }

    @property
    def status(self) -> str:
        """``complete`` when every point is, else ``incomplete``."""
        done = all(p.status == "complete" for p in self.points)
        return "complete" if done else "incomplete"

    def numeric(self, param: str) -> bool:
        """Whether every value of ``param`` reads as a number."""
        return all(_number(c.params[param]) is not None for c in self.configurations.values())

    def order(self, param: str) -> list[str]:
        """The distinct values of ``param``: numerically sorted if all are numbers, else in
        the order the file has them."""
        values = list(dict.fromkeys(c.params[param] for c in self.configurations.values()))
        if self.numeric(param):
            values.sort(key=float)
        return values

    def bands(
        self, metric: str, x: str, line: str | None = None, hold: dict[str, str] | None = None
    ) -> Bands:
        """Mean and interval of ``metric`` at each value of ``x``, one band per value of
        ``line`` (or one band); every other parameter held at its value in ``hold``, else
        at its first value."""
        line = None if line == x else line
        if not self.configurations:
            return Bands([])
        hold = hold or {}
        held = {p: hold.get(p, self.order(p)[0]) for p in self.params if p not in (x, line)}
        chosen = [
            c
            for c in self.configurations.values()
            if all(c.params[p] == value for p, value in held.items())
        ]
        positions = {value: i for i, value in enumerate(self.order(x))}
        numeric = self.numeric(x)
        bands = []
        for value in self.order(line) if line else [None]:
            mine = [c for c in chosen if line is None or c.params[line] == value]
            mine.sort(key=lambda c: positions[c.params[x]])
            intervals = [c.interval(metric) for c in mine]
            bands.append(
                Band(
                    name=f"{line}={value}" if line else metric,
                    x=[_number(c.params[x]) if numeric else c.params[x] for c in mine],
                    mean=[i.mean for i in intervals],
                    low=[i.low for i in intervals],
                    high=[i.high for i in intervals],
                    n=[i.n for i in intervals],
                    points=[len(c.points) for c in mine],
                    configs=[c.id for c in mine],
                )
            )
        return Bands([b for b in bands if b.x], held, numeric, list(positions))

    def common_seed(self, a: str, b: str) -> int | None:
        """The smallest seed both configurations have a complete point of."""
        seeds_a = {p.seed for p in self.configurations[a].complete}
        seeds = sorted(seeds_a & {p.seed for p in self.configurations[b].complete})
        return seeds[0] if seeds else None

    def run_of(self, config: str, seed: int) -> str:
        """The run of the point of ``config`` with ``seed``."""
        return next(p.run for p in self.configurations[config].points if p.seed == seed)

    def paired(self, a: str, b: str, metric: str) -> Interval:
        """B − A over the seeds both have (common random numbers pair them)."""
        values_a = self.configurations[a].values(metric)
        return paired_difference(values_a, self.configurations[b].values(metric))


@dataclass(frozen=True)
class SweepInfo:
    """One line of the sweeps list."""

    name: str
    status: str  # complete, incomplete, malformed, refused, missing
    points: int = 0
    configurations: int = 0
    params: tuple[str, ...] = ()
    problem: str = ""

    @property
    def readable(self) -> bool:
        return self.status in ("complete", "incomplete")


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def load_sweep(store: RunStore, name: Any) -> Sweep:
    """Sweep ``name`` of the runs directory, parsed once per version of its ``sweep.arrow``:
    RunAccessError if it or a point's run is outside the runs directory or not a regular
    file, RunError if there is no such sweep or its table is malformed."""
    if not isinstance(name, str) or "/" in name:
        raise RunAccessError(f"refused: {shown(name)} is not a sweep name")
    path = store.resolve(name)
    entry = path / SWEEP_TABLE
    if not path.is_dir() or not os.path.lexists(entry):
        raise RunError(f"sweep not found: {shown(name)} (no {SWEEP_TABLE})")
    ref = check_file(store.root, entry)

    def build() -> Sweep:
        data = read_bytes(store.root, ref, MAX_SWEEP_BYTES)
        table = _read_ipc(data)
        sweep = converted(SWEEP_TABLE, lambda: parse_sweep(name, table, ref.identity))
        check_points(store, path, sweep)
        return sweep

    return store.derived.get(("sweep", name, ref.identity), build)


def check_points(store: RunStore, path: Path, sweep: Sweep) -> None:
    """RunAccessError unless every point's run that exists resolves inside the runs
    directory: the sweep's ``points`` folder resolved once, and each of its entries that is
    a link (one directory scan, not a path resolution per point)."""
    folder = path / POINTS
    if not sweep.points or not folder.is_dir():
        return
    try:
        inside_root = inside(store.root, folder.resolve())
        links = {e.name for e in os.scandir(folder) if e.is_symlink()}
    except (OSError, RuntimeError):
        raise RunAccessError(f"refused: {sweep.name}/{POINTS} cannot be resolved") from None
    for point in sweep.points:
        entry = point.run.rsplit("/", 1)[1]
        if not inside_root or (entry in links and not _resolves_inside(store, folder / entry)):
            raise RunAccessError(
                f"refused: {SWEEP_TABLE}: the run of point {_cut(point.point)} "
                "resolves outside the runs directory"
            )


def _resolves_inside(store: RunStore, link: Path) -> bool:
    try:
        return inside(store.root, link.resolve())
    except (OSError, RuntimeError):
        return False


def sweep_infos(store: RunStore) -> list[SweepInfo]:
    """Every sweep directory of the runs directory, with its state (never raises)."""
    return [sweep_info(store, name) for name in store.sweep_names()]


def sweep_info(store: RunStore, name: Any) -> SweepInfo:
    label = name if isinstance(name, str) else shown(name)
    try:
        sweep = load_sweep(store, name)
    except RunAccessError as error:
        return SweepInfo(label, "refused", problem=str(error))
    except RunError as error:
        missing = str(error).startswith("sweep not found")
        return SweepInfo(label, "missing" if missing else "malformed", problem=str(error))
    failed = sum(p.status != "complete" for p in sweep.points)
    return SweepInfo(
        label,
        sweep.status,
        len(sweep.points),
        len(sweep.configurations),
        sweep.params,
        f"{failed} of {len(sweep.points)} points not complete" if failed else "",
    )


def _read_ipc(data: bytes) -> pa.Table:
    if not data:
        raise malformed(SWEEP_TABLE, "the file is empty")
    try:
        table = ipc.open_file(pa.BufferReader(pa.py_buffer(data))).read_all()
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError) as error:
        why = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise malformed(SWEEP_TABLE, f"not an Arrow file ({why})") from None
    return table


def parse_sweep(name: str, table: pa.Table, version: Hashable = None) -> Sweep:
    """The sweep in ``table`` (a ``sweep.arrow``), checked: ``malformed: sweep.arrow: …`` if
    a column is missing or of the wrong kind, a value missing or a status unknown;
    RunAccessError if a point's run is not ``points/<entry>``."""
    names = table.column_names
    if len(set(names)) != len(names):
        raise malformed(SWEEP_TABLE, "duplicate column names")
    if table.num_rows > MAX_SWEEP_POINTS:
        raise malformed(SWEEP_TABLE, f"{table.num_rows:,} points (at most {MAX_SWEEP_POINTS:,})")
    params = [n.removeprefix(PARAM) for n in names if n.startswith(PARAM) and n != PARAM]
    metrics = [n.removeprefix(METRIC) for n in names if n.startswith(METRIC) and n != METRIC]
    kinds = FIXED | {PARAM + p: TEXT for p in params} | {METRIC + m: NUMBER for m in metrics}
    columns: dict[str, list[Any]] = {}
    for column, wanted in kinds.items():
        if column not in names:
            raise malformed(SWEEP_TABLE, f"no column {column!r}")
        found = kind_of(table.schema.field(column).type)
        if found is not None and found != wanted:
            raise malformed(SWEEP_TABLE, f"column {column!r} holds {found}, expected {wanted}")
        values = table.column(column).to_pylist()
        required = column in NOT_NULL or column.startswith(PARAM)
        if required and any(v is None for v in values):
            raise malformed(SWEEP_TABLE, f"column {column!r} has empty values")
        columns[column] = values
    points = [_point(name, columns, row, params, metrics) for row in range(table.num_rows)]
    return Sweep(name, params, metrics, points, version)


def _point(
    name: str, columns: dict[str, list[Any]], row: int, params: list[str], metrics: list[str]
) -> Point:
    seed, status = columns["seed"][row], columns["status"][row]
    if isinstance(seed, bool) or not float(seed).is_integer():
        raise malformed(SWEEP_TABLE, f"seed {shown(seed)} is not an integer")
    if status not in POINT_STATUSES:
        raise malformed(SWEEP_TABLE, f"status {shown(status)} is not one of {POINT_STATUSES}")
    run = columns["run"][row]
    parts = run.split("/")
    if len(parts) != 2 or parts[0] != POINTS or parts[1] in ("", ".", ".."):
        raise RunAccessError(
            f"refused: {SWEEP_TABLE}: the run of point {_cut(columns['point'][row])} is "
            f"{shown(run)}, not in the sweep's {POINTS} folder"
        )
    wall = columns["wall_s"][row]
    return Point(
        point=columns["point"][row],
        config=columns["config"][row],
        label=columns["label"][row],
        seed=int(seed),
        status=status,
        reason=columns["reason"][row] or "",
        run=f"{name}/{run}",
        wall_s=float(wall) if wall is not None and math.isfinite(wall) else None,
        host=columns["host"][row] or "",
        params={p: columns[PARAM + p][row] for p in params},
        metrics={m: _float(columns[METRIC + m][row]) for m in metrics},
    )


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _number(text: str) -> float | None:
    """A parameter's YAML text as a finite number, if it is one."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"


__all__ = [
    "METRIC",
    "PARAM",
    "Bands",
    "Configuration",
    "Point",
    "Sweep",
    "SweepInfo",
    "load_sweep",
    "parse_sweep",
    "sweep_info",
    "sweep_infos",
]
