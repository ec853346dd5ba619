"""Runs and sweeps for the comparison tests: the ``tiny`` scenario over short horizons, run
in-process, and a ``sweep.arrow`` written from them with the sweep table's own schema (the
directory layout of ``twin sweep``: ``DIR/points/<point>/`` and ``DIR/sweep.arrow``)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from twin.analysis import measure
from twin.config import load_config
from twin.simulation import simulate
from twin.sweep.table import METRIC, sweep_schema

SEEDS = (1, 2, 3, 4)
HORIZON = "12h"
HALF = ("sites.north.pools[0].count=32", "sites.south.pools[0].count=64")
"""Half the accelerators of tiny."""
FCFS = ("policies.scheduler=fcfs",)
"""tiny's scheduler is easy_backfill."""


def run_tiny(out: Path, seed: int, sets: Sequence[str] = (), horizon: str = HORIZON) -> Path:
    """A run of tiny with ``sets`` overrides, written to ``out``."""
    scenario = load_config("tiny", [], [f"horizon={horizon}", f"seed={seed}", *sets])
    return simulate(scenario, out).path


def run_seeds(folder: Path, sets: Sequence[str] = (), seeds: Sequence[int] = SEEDS) -> Path:
    """A folder of runs of one configuration, one per seed (``folder/seed-N``)."""
    for seed in seeds:
        run_tiny(folder / f"seed-{seed}", seed, sets)
    return folder


def set_manifest(run: Path, **fields: object) -> None:
    """Change fields of a run's manifest (a run that stopped, a run of another version)."""
    path = run / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(fields)
    path.write_text(json.dumps(manifest))


def write_sweep(
    directory: Path,
    configurations: dict[str, Sequence[str]],
    seeds: Sequence[int] = SEEDS,
    metrics: Sequence[str] = ("jobs.wait_mean_s", "co2_t"),
    failed: Sequence[tuple[str, int]] = (),
) -> Path:
    """A sweep directory: label → overrides, each run for ``seeds`` into ``points/``, and
    its ``sweep.arrow`` (one ``param:sets`` column holding the overrides). The ``failed``
    (label, seed) points are rows of a point that failed before writing its run."""
    schema = sweep_schema(["sets"], list(metrics))
    rows = []
    for label, sets in configurations.items():
        config = hashlib.sha256(label.encode()).hexdigest()[:12]
        for seed in seeds:
            point = hashlib.sha256(f"{label}/{seed}".encode()).hexdigest()[:16]
            fails = (label, seed) in failed
            if fails:
                values = dict.fromkeys(metrics, math.nan)
            else:
                values = measure(run_tiny(directory / "points" / point, seed, sets), metrics)
            row = {
                "point": point,
                "config": config,
                "label": label,
                "seed": seed,
                "status": "failed" if fails else "complete",
                "reason": "MemoryError: the worker ran out of memory" if fails else None,
                "run": f"points/{point}",
                "wall_s": 0.1,
                "host": "test",
                "param:sets": ", ".join(sets),
            }
            row.update({METRIC + name: values[name] for name in metrics})
            rows.append(row)
    table = pa.Table.from_pylist(rows, schema=schema)
    with ipc.new_file(str(directory / "sweep.arrow"), schema) as writer:
        writer.write_table(table)
    return directory


class Kit:
    """The builders above, for tests (handed out by the ``kit`` fixture)."""

    SEEDS = SEEDS
    HALF = HALF
    FCFS = FCFS
    run_tiny = staticmethod(run_tiny)
    run_seeds = staticmethod(run_seeds)
    set_manifest = staticmethod(set_manifest)
    write_sweep = staticmethod(write_sweep)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Folders of 4 seeds of tiny over 12 h: as it is, with fcfs, with half the
    accelerators; and a sweep of the three, labelled as ``twin sweep`` does."""
    root = tmp_path_factory.mktemp("compare")
    folders = {
        "base": run_seeds(root / "base"),
        "fcfs": run_seeds(root / "fcfs", FCFS),
        "half": run_seeds(root / "half", HALF),
    }
    folders["sweep"] = write_sweep(
        root / "sweep", {"base": (), FCFS[0]: FCFS, ", ".join(HALF): HALF}
    )
    return folders
