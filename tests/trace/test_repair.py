"""``twin repair``: a run left unfinished gets its tables and an honest manifest."""

from __future__ import annotations

import json

import pyarrow.ipc as ipc
import pytest
from click.testing import CliRunner

from twin.cli import main
from twin.trace.errors import RunBusyError, RunError
from twin.trace.reader import open_run
from twin.trace.repair import REASON, repair_run
from twin.trace.writer import RunWriter

MANIFEST = {"twin_version": "0", "scenario": "x", "config_hash": "0" * 64, "horizon_s": 50.0}


def killed_run(path, rows=20, flushed=15):
    """A run as SIGKILL leaves it: streams with ``flushed`` rows, the lock gone with the
    process (closing its descriptor is what the kernel does at the kill)."""
    writer = RunWriter(path, MANIFEST, "name: x\n", ("events", "sites"))
    for i in range(rows):
        writer.append("events", (float(i), "submit", None, i, None, None))
        if i + 1 == flushed:
            writer.flush()
    writer.claim.release()
    return writer


def test_repair_finishes_the_streams_and_marks_the_run(tmp_path):
    killed_run(tmp_path / "run")
    before = open_run(tmp_path / "run").table("events")
    result = repair_run(tmp_path / "run")
    assert result.repaired and result.rows == {"events": 15, "sites": 0}
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["config.yaml", "events.arrow", "manifest.json", "sites.arrow"]
    run = open_run(tmp_path / "run")
    assert run.status == "incomplete" and run.manifest["reason"] == REASON
    assert run.manifest["tables"]["events"] == {"file": "events.arrow", "rows": 15}
    assert run.manifest["end_s"] == 14.0, "as far as the tables show"
    assert run.table("events").equals(before)
    with ipc.open_file(tmp_path / "run" / "events.arrow") as reader:
        assert reader.read_all().num_rows == 15


def test_repair_twice_is_nothing_to_do(tmp_path):
    killed_run(tmp_path / "run")
    repair_run(tmp_path / "run")
    manifest = (tmp_path / "run" / "manifest.json").read_bytes()
    again = repair_run(tmp_path / "run")
    assert not again.repaired and again.reason == REASON
    assert (tmp_path / "run" / "manifest.json").read_bytes() == manifest


def test_repair_after_a_kill_inside_the_close(tmp_path):
    """Killed between two tables' conversions: one file is whole, one stream remains."""
    writer = killed_run(tmp_path / "run")
    writer.tables["events"].finish()
    assert (tmp_path / "run" / "events.arrow").exists()
    (tmp_path / "run" / "sites.arrow.tmp").write_bytes(b"half a conversion")
    result = repair_run(tmp_path / "run")
    assert result.rows == {"events": 20, "sites": 0}
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_repair_refuses_a_run_still_being_written(tmp_path):
    writer = RunWriter(tmp_path / "run", MANIFEST, "", ("events",))
    with pytest.raises(RunBusyError, match=r"still being written by a running twin \(pid \d+\)"):
        repair_run(tmp_path / "run")
    writer.close("complete")
    assert not repair_run(tmp_path / "run").repaired


def test_repair_refuses_what_is_not_a_twin_run(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "webapp"}))
    (tmp_path / "events.arrow.part").write_bytes(b"someone else's")
    with pytest.raises(RunError, match="not a twin run directory"):
        repair_run(tmp_path)
    assert (tmp_path / "events.arrow.part").read_bytes() == b"someone else's"
    with pytest.raises(RunError, match="not a twin run directory"):
        repair_run(tmp_path / "missing")


def test_twin_repair_command(tmp_path):
    killed_run(tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(main, ["repair", str(tmp_path / "run")])
    assert result.exit_code == 0 and "repaired" in result.output and "events 15" in result.output
    again = runner.invoke(main, ["repair", str(tmp_path / "run")])
    assert again.exit_code == 0 and "nothing to repair" in again.output
    refused = runner.invoke(main, ["repair", str(tmp_path)])
    assert refused.exit_code == 2 and "not a twin run directory" in refused.output
    assert "Traceback" not in refused.output
