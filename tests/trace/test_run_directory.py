"""The run directory contract: complete runs, interrupted runs, and what readers can open."""

from __future__ import annotations

import json

import pyarrow.ipc as ipc
import pytest

from twin.config import load_config
from twin.simulation import simulate
from twin.trace.reader import RunError, open_run
from twin.trace.schema import SCHEMA_VERSION, TABLES


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "tiny"
    simulate(load_config("tiny", overrides=["horizon=6h"]), out)
    return open_run(out)


def test_manifest_describes_the_run(tiny_run):
    manifest = tiny_run.manifest
    assert manifest["status"] == "complete"
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["scenario"] == "tiny" and manifest["seed"] == 1
    assert len(manifest["config_hash"]) == 64
    assert manifest["end_s"] == manifest["horizon_s"] == 6 * 3600
    for name, entry in manifest["tables"].items():
        assert tiny_run.table(name).num_rows == entry["rows"]


def test_tables_carry_their_schema_and_version(tiny_run):
    assert set(tiny_run.table_names) == {"events", "jobs", "sites"}, "tiny has no network"
    for name in tiny_run.table_names:
        schema = TABLES[name]
        table = tiny_run.table(name)
        assert table.schema.equals(schema, check_metadata=False)
        assert table.schema.metadata[b"twin.schema_version"] == SCHEMA_VERSION.encode()
        assert table.schema.metadata[b"twin.table"] == name.encode()


def test_no_temporary_files_remain(tiny_run):
    assert not list(tiny_run.path.glob("*.part"))


def test_pandas_reads_the_tables(tiny_run):
    pd = pytest.importorskip("pandas")
    jobs = pd.read_feather(tiny_run.path / "jobs.arrow")
    assert len(jobs) == tiny_run.table("jobs").num_rows


class BoomError(RuntimeError):
    pass


@pytest.mark.parametrize("error", [KeyboardInterrupt, BoomError])
def test_interrupted_run_is_marked_incomplete_and_stays_readable(tmp_path, error):
    scenario = load_config("tiny")
    calls = []

    def progress(now):
        calls.append(now)
        if len(calls) == 50:
            raise error("stop")

    with pytest.raises(error):
        simulate(scenario, tmp_path / "run", progress=progress)
    run = open_run(tmp_path / "run")
    assert run.status == "incomplete"
    assert "stop" in run.manifest["reason"]
    assert 0 < run.manifest["end_s"] < scenario.horizon
    jobs = run.table("jobs")
    assert jobs.num_rows == run.manifest["tables"]["jobs"]["rows"] > 0
    with ipc.open_file(str(tmp_path / "run" / "sites.arrow")) as reader:
        assert reader.num_record_batches >= 1


def test_a_killed_run_leaves_an_incomplete_manifest(tmp_path):
    """What a run looks like before it closes (as after SIGKILL): the manifest says so."""
    from twin.trace.writer import RunWriter

    writer = RunWriter(tmp_path / "run", {"scenario": "x"}, "name: x\n")
    writer.append("events", (0.0, "submit", None, 1, None, 1.0))
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert open_run(tmp_path / "run").status == "incomplete"
    writer.close("complete")
    assert open_run(tmp_path / "run").table("events").num_rows == 1


def test_open_run_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(RunError, match="not a run directory"):
        open_run(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(RunError, match="not readable JSON"):
        open_run(tmp_path)


def test_corrupt_table_is_a_run_error(tmp_path):
    (tmp_path / "manifest.json").write_text('{"status": "complete"}')
    (tmp_path / "jobs.arrow").write_bytes(b"garbage")
    with pytest.raises(RunError, match="not a readable Arrow file"):
        open_run(tmp_path).table("jobs")


def test_the_trace_reference_lists_every_job_state():
    """Every state a job can be written with is named in the column's description."""
    from twin.model.job import JobState

    description = TABLES["jobs"].field("state").metadata[b"description"].decode()
    for state in JobState:
        assert state.value in description, state
