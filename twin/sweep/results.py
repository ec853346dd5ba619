"""A sweep's results: ``DIR/sweep.arrow`` (one row per point, in point order, so equal
sweeps give equal tables however their points were scheduled) and ``DIR/sweep.yaml`` (the
sweep as resolved)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import yaml

from twin.config import TwinUserError
from twin.sweep.catalogue import Catalogue
from twin.sweep.execute import PointResult
from twin.sweep.points import Sweep
from twin.sweep.spec import yaml_text
from twin.sweep.table import METRIC, PARAM, sweep_schema

TABLE = "sweep.arrow"
RESOLVED = "sweep.yaml"
NOT_RUN = "not run: the sweep was interrupted"


def write_results(
    sweep_dir: str | Path,
    sweep: Sweep,
    catalogue: Catalogue,
    results: Mapping[str, PointResult],
) -> Path:
    """Write ``sweep.yaml`` and ``sweep.arrow`` (points without a result: ``incomplete``)."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    data = sweep.spec.to_data()
    if catalogue.root != sweep_dir / "points":
        data["catalogue"] = str(catalogue.root)
    _replace(sweep_dir / RESOLVED, yaml.safe_dump(data, sort_keys=False).encode("utf-8"))
    table = results_table(sweep, catalogue, results, sweep_dir)
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    _replace(sweep_dir / TABLE, sink.getvalue().to_pybytes())
    return sweep_dir / TABLE


def results_table(
    sweep: Sweep, catalogue: Catalogue, results: Mapping[str, PointResult], sweep_dir: Path
) -> pa.Table:
    """The rows of ``sweep.arrow``, one per point in the sweep's order."""
    spec = sweep.spec
    schema = sweep_schema(spec.params, list(spec.metrics))
    columns: dict[str, list[object]] = {name: [] for name in schema.names}
    for point in sweep.points:
        result = results.get(point.key, PointResult(point.key, "incomplete", NOT_RUN))
        row: dict[str, object] = {
            "point": point.key,
            "config": point.config.id,
            "label": point.config.label,
            "seed": point.seed,
            "status": result.status,
            "reason": result.reason,
            "run": os.path.relpath(catalogue.run_dir(point), sweep_dir),
            "wall_s": result.wall_s,
            "host": result.host,
        }
        row.update({PARAM + path: yaml_text(value) for path, value in point.config.params})
        row.update({METRIC + m: result.metrics.get(m, math.nan) for m in spec.metrics})
        for name in schema.names:
            columns[name].append(row[name])
    return pa.table(columns, schema=schema)


def read_results(sweep_dir: Path) -> pa.Table:
    """The ``sweep.arrow`` of ``sweep_dir``; a user error if it is not a sweep's folder."""
    path = Path(sweep_dir) / TABLE
    if not path.is_file():
        raise TwinUserError(f"{sweep_dir} is not a sweep directory: it holds no {TABLE}")
    try:
        with pa.memory_map(str(path)) as source:
            return ipc.open_file(source).read_all()
    except (OSError, pa.ArrowInvalid) as error:
        raise TwinUserError(f"cannot read {path}: {error}") from None


def check_sweep_dir(sweep_dir: Path) -> None:
    """A sweep writes into an empty or missing folder, or into a sweep's own folder."""
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise TwinUserError(f"--out {sweep_dir} exists and is not a directory")
    if sweep_dir.is_dir() and any(sweep_dir.iterdir()) and not (sweep_dir / RESOLVED).is_file():
        raise TwinUserError(
            f"--out {sweep_dir} is not empty and is not a sweep directory (no {RESOLVED}); "
            "choose an empty or new folder"
        )


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
