"""``twin sweep`` as a user runs it (a real process with its own local Dask cluster): the
table does not depend on how many workers ran it, re-runs run nothing, Ctrl-C keeps what
was done, and the summary prints each configuration's intervals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow.ipc as ipc

from twin.sweep.table import NOT_REPRODUCIBLE

SWEEP = """\
scenario: tiny
horizon: {horizon}
grid:
  policies.placement: [least_loaded, lowest_carbon]
  policies.scheduler: [fcfs, easy_backfill]
seeds: 2
metrics: [co2_t, jobs.wait_p95_s]
"""


def twin(*args, cwd, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "twin", *args], capture_output=True, text=True, cwd=cwd
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def sweep_file(tmp_path, horizon="1d"):
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(SWEEP.format(horizon=horizon)))
    return path


def table(path):
    with ipc.open_file(str(path)) as reader:
        return reader.read_all()


def test_one_and_two_workers_give_the_same_table_and_a_second_run_runs_nothing(tmp_path):
    path = sweep_file(tmp_path)
    twin("sweep", str(path), "--out", "one", "--workers", "1", "-q", cwd=tmp_path)
    twin("sweep", str(path), "--out", "two", "--workers", "2", "-q", cwd=tmp_path)
    one, two = table(tmp_path / "one/sweep.arrow"), table(tmp_path / "two/sweep.arrow")
    assert one.schema == two.schema and one.num_rows == 8
    for name in one.column_names:
        if name not in NOT_REPRODUCIBLE:
            assert one.column(name).equals(two.column(name)), name
    assert set(one.column("status").to_pylist()) == {"complete"}
    assert all(w > 0 for w in one.column("wall_s").to_pylist())
    again = twin("sweep", str(path), "--out", "one", "-q", cwd=tmp_path)
    assert "8 points: 0 run, 8 already done, 0 failed" in again.stderr
    shown = twin("sweep", "--summary", "one", cwd=tmp_path).stdout
    assert shown.count("co2_t") == 4 and "lower ↓" in shown and "±" in shown


def test_ctrl_c_stops_the_sweep_keeping_the_points_done_without_a_traceback(tmp_path):
    path = sweep_file(tmp_path, horizon="20d")
    command = [sys.executable, "-m", "twin", "sweep", str(path), "--out", "out", "-q", "-w", "1"]
    driver = subprocess.Popen(
        command, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _complete(tmp_path / "out/points"):
        time.sleep(0.05)
    os.killpg(driver.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the driver and its workers
    _, stderr = driver.communicate(timeout=60)
    assert driver.returncode == 130, stderr
    assert "interrupted by SIGINT" in stderr and "Traceback" not in stderr
    statuses = table(tmp_path / "out/sweep.arrow").column("status").to_pylist()
    done = statuses.count("complete")
    assert 1 <= done < 8 and set(statuses) <= {"complete", "incomplete"}
    rest = twin("sweep", str(path), "--out", "out", "-q", "-w", "2", cwd=tmp_path)
    assert f"{8 - done} run, {done} already done, 0 failed" in rest.stderr


def _complete(points):
    """Whether a point folder holds a complete run."""
    for manifest in points.glob("*/manifest.json"):
        try:
            if json.loads(manifest.read_text()).get("status") == "complete":
                return True
        except ValueError:  # being replaced
            continue
    return False
