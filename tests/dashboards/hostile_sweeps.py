"""Sweep directories made to break the Sweeps page: garbage, truncated and wrong-typed
``sweep.arrow`` files, and points or tables that lead outside the runs directory (to files
holding the secret)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow as pa

from .conftest import point_row, write_arrow, write_sweep
from .hostile import SECRET

GOOD_SWEEP = "sweep_good"
PARAMS = ("policies.placement",)
METRICS = ("co2_t", "jobs.completed")
LABELS = ("policies.placement=least_loaded", "policies.placement=lowest_carbon")
SWEEP_BROKEN = {
    "sweep_garbage": "not an Arrow file",
    "sweep_truncated": "sweep.arrow",
    "sweep_empty": "empty",
    "sweep_nocolumn": "no column 'status'",
    "sweep_wrongtype": "holds text, expected numbers",
    "sweep_badstatus": "status 'weird'",
    "sweep_badseed": "seed",
    "sweep_nullparam": "empty values",
}
"""Malformed sweeps and a word their problem names."""
SWEEP_REFUSED = {
    "sweep_dotdot": "not in the sweep's points folder",
    "sweep_absolute": "not in the sweep's points folder",
    "sweep_symlink": "resolves outside the runs directory",
    "sweep_pointslink": "resolves outside the runs directory",
    "sweep_link": "points outside the runs directory",
    "sweep_fifo": "not a regular file",
    "sweep_escape": "outside the runs directory",
}
"""Sweeps that must be refused, nothing of them shown, and a word of the reason."""
SWEEPS = [GOOD_SWEEP, *SWEEP_BROKEN, *SWEEP_REFUSED]


def rows(label_text: str = "") -> list[dict]:
    found = []
    for index, label in enumerate(LABELS):
        value = label.split("=", 1)[1]
        for seed in (1, 2):
            metrics = {"co2_t": 1.0 + index + 0.1 * seed, "jobs.completed": 10.0 * seed}
            row = point_row(label + label_text, seed, {"policies.placement": value, **metrics})
            found.append(row)
    return found


def sweep(root: Path, name: str, table_rows: list[dict], **columns: pa.Array) -> Path:
    """A sweep ``root/name`` of ``table_rows`` (columns replaced by ``columns``)."""
    directory = root / name
    write_sweep(directory, table_rows, PARAMS, METRICS)
    if columns:
        table = pa.ipc.open_file(pa.memory_map(str(directory / "sweep.arrow"))).read_all()
        for column, values in columns.items():
            index = table.schema.get_field_index(column)
            if values is None:
                table = table.remove_column(index)
            else:
                table = table.set_column(index, column, values)
        write_arrow(directory / "sweep.arrow", table)
    return directory


def make_hostile_sweeps(root: Path, outside: Path, base: Path) -> None:
    """The sweeps above in ``root``; their secrets in ``outside``."""
    good = sweep(root, GOOD_SWEEP, rows())
    for row in rows():
        shutil.copytree(base, good / row["run"])
    data = (good / "sweep.arrow").read_bytes()
    (sweep(root, "sweep_garbage", []) / "sweep.arrow").write_bytes(os.urandom(3000))
    (sweep(root, "sweep_truncated", []) / "sweep.arrow").write_bytes(data[: len(data) // 2])
    (sweep(root, "sweep_empty", []) / "sweep.arrow").write_bytes(b"")
    sweep(root, "sweep_nocolumn", rows(), status=None)
    sweep(root, "sweep_wrongtype", rows(), **{"metric:co2_t": pa.array(["lots"] * 4)})
    sweep(root, "sweep_badstatus", [r | {"status": "weird"} for r in rows()])
    sweep(root, "sweep_badseed", rows(), seed=pa.array([1.5, 2.0, 1.0, 2.0]))
    sweep(root, "sweep_nullparam", [r | {"policies.placement": None} for r in rows()])

    # leading outside: a run column, a point linked out, the table or the folder linked out
    sweep(root, "sweep_dotdot", [r | {"run": "../../etc"} for r in rows()])
    sweep(root, "sweep_absolute", [r | {"run": "/etc"} for r in rows()])
    linked = sweep(root, "sweep_symlink", rows())
    secret_run = outside / "secret_run"
    shutil.copytree(base, secret_run)
    (secret_run / "manifest.json").write_text(
        (base / "manifest.json").read_text().replace('"tiny"', f'"{SECRET}"')
    )
    for row in rows():
        (linked / row["run"]).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(secret_run, linked / row["run"], target_is_directory=True)
    secret_points = outside / "secret_points"  # the points folder itself linked outside
    for row in rows():
        shutil.copytree(secret_run, secret_points / row["run"].split("/")[1])
    os.symlink(secret_points, sweep(root, "sweep_pointslink", rows()) / "points")
    secret_sweep = sweep(outside, "secret_sweep", rows(f" {SECRET}"))
    (root / "sweep_link").mkdir()
    os.symlink(secret_sweep / "sweep.arrow", root / "sweep_link" / "sweep.arrow")
    (root / "sweep_fifo").mkdir()
    os.mkfifo(root / "sweep_fifo" / "sweep.arrow")
    os.symlink(secret_sweep, root / "sweep_escape", target_is_directory=True)
