"""Tables that survive however a run stops: streams while running, files at the close.

The writer streams each table into ``NAME.arrow.part`` (Arrow IPC stream format) and turns it
into ``NAME.arrow`` (IPC file format) when the run closes. These tests stop runs in every way
the library can see from inside one process; signals and SIGKILL are in tests/cli.
"""

from __future__ import annotations

import errno
import json
import random

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
import yaml

from twin.config import TwinUserError, builtin_scenarios, load_config, validate_scenario
from twin.config.errors import ConfigError
from twin.model.world import World
from twin.simulation import simulate
from twin.trace import writer as writer_module
from twin.trace.errors import RunWriteError
from twin.trace.reader import open_run
from twin.trace.writer import RunWriter

MANIFEST = {
    "twin_version": "test",
    "scenario": "x",
    "config_hash": "0" * 64,
    "seed": 1,
    "horizon_s": 100.0,
}


def event(i: int) -> tuple:
    return (float(i), "submit", None if i % 3 else "north", i, None, float(i % 7))


def events_of(table: pa.Table) -> list[tuple]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_flushed_rows_are_readable_before_the_close(tmp_path):
    """As after SIGKILL: no close, and the reader gets every flushed row from the stream."""
    writer = RunWriter(tmp_path / "run", MANIFEST, "name: x\n", ("events", "jobs"))
    for i in range(10):
        writer.append("events", event(i))
    writer.flush()
    writer.append("events", event(10))  # still in memory: a kill now would lose it
    run = open_run(tmp_path / "run")
    assert run.status == "incomplete" and run.manifest["reason"].startswith("running (pid ")
    assert run.table_names == ["events", "jobs"]
    assert events_of(run.table("events")) == [event(i) for i in range(10)]
    assert run.table("jobs").num_rows == 0  # nothing written yet: the empty table
    writer.close("complete")
    assert open_run(tmp_path / "run").table("events").num_rows == 11


def test_a_stream_cut_anywhere_reads_as_its_whole_batches(tmp_path):
    writer = RunWriter(tmp_path / "run", MANIFEST, "", ("events",), batch_rows=100)
    for i in range(300):
        writer.append("events", event(i))  # three batches of 100, written as they fill
    part = tmp_path / "run" / "events.arrow.part"
    data = part.read_bytes()
    sizes = []
    for cut in [*sorted(random.Random(3).sample(range(len(data)), 40)), len(data)]:
        part.write_bytes(data[:cut])
        rows = events_of(open_run(tmp_path / "run").table("events"))
        assert len(rows) % 100 == 0 and rows == [event(i) for i in range(len(rows))]
        sizes.append(len(rows))
    assert sizes == sorted(sizes) and sizes[-1] == 300 and 100 in sizes and 200 in sizes


def test_rows_wait_at_most_flush_s_of_wall_time(tmp_path):
    patient = RunWriter(tmp_path / "a", MANIFEST, "", ("events",), flush_s=3600.0)
    eager = RunWriter(tmp_path / "b", MANIFEST, "", ("events",), flush_s=0.0)
    for writer in (patient, eager):
        writer.append("events", event(0))
        writer.flush_due()
    assert open_run(tmp_path / "a").table("events").num_rows == 0
    assert open_run(tmp_path / "b").table("events").num_rows == 1


def test_finished_files_do_not_depend_on_when_rows_were_flushed(tmp_path):
    """Flushes follow the wall clock; the finished files must not (determinism)."""
    rng = random.Random(7)
    files = []
    for label, flushes in (("steady", ()), ("jumpy", set(rng.sample(range(20000), 50)))):
        writer = RunWriter(tmp_path / label, MANIFEST, "", ("events",))
        for i in range(20000):
            writer.append("events", event(i))
            if i in flushes:
                writer.flush()
        writer.close("complete")
        files.append((tmp_path / label / "events.arrow").read_bytes())
    assert files[0] == files[1]
    with ipc.open_file(tmp_path / "steady" / "events.arrow") as reader:
        assert [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)] == [
            8192,
            8192,
            3616,
        ]


def test_the_close_leaves_arrow_ipc_files_only(tmp_path):
    pd = pytest.importorskip("pandas")
    simulate(load_config("tiny", overrides=["horizon=2h"]), tmp_path / "run")
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["config.yaml", "events.arrow", "jobs.arrow", "manifest.json", "sites.arrow"]
    jobs = pd.read_feather(tmp_path / "run" / "jobs.arrow")
    assert len(jobs) == open_run(tmp_path / "run").manifest["tables"]["jobs"]["rows"] > 0


# -- every way a run ends leaves a readable run with the reason ------------------------------


def assert_readable_incomplete(path, *reason_parts):
    run = open_run(path)
    assert run.status == "incomplete"
    for part in reason_parts:
        assert part in run.manifest["reason"]
    for name in run.table_names:
        assert run.table(name).num_rows == run.manifest["tables"][name]["rows"]
    assert not list(path.glob("*.tmp")) and not (path / ".twin.lock").exists()
    return run


def test_an_exception_while_the_world_is_built(tmp_path):
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["policies"]["scheduler"] = "nope"  # World refuses it (load_config would too)
    with pytest.raises(ConfigError, match="unknown scheduler 'nope'"):
        simulate(validate_scenario(data), tmp_path / "run")
    run = assert_readable_incomplete(tmp_path / "run", "unknown scheduler 'nope'")
    assert run.table_names == ["events", "jobs", "sites"] and run.manifest["end_s"] == 0.0


@pytest.mark.parametrize("error", [RuntimeError("boom"), TwinUserError("column 'nope'")])
def test_an_exception_while_the_run_goes(tmp_path, error):
    def progress(now):
        if now > 6 * 3600:
            raise error

    with pytest.raises(type(error)):
        simulate(load_config("tiny"), tmp_path / "run", progress=progress)
    run = assert_readable_incomplete(tmp_path / "run", str(error))
    assert 6 * 3600 < run.manifest["end_s"] < 86400
    assert run.table("events").num_rows > 0


def test_an_interrupt_closes_the_books(tmp_path):
    """A Ctrl-C stops the model between events, so jobs still in the system get their rows."""

    def progress(now):
        if now > 12 * 3600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(load_config("tiny"), tmp_path / "run", progress=progress)
    run = assert_readable_incomplete(tmp_path / "run", "KeyboardInterrupt")
    states = set(run.table("jobs").column("state").to_pylist())
    assert run.table("jobs").num_rows == run.manifest["jobs_submitted"] > 0
    assert states & {"queued", "running"}, "jobs in the system at the stop are recorded"


def test_an_exception_in_finish(tmp_path, monkeypatch):
    def finish(self):
        raise RuntimeError("finish broke")

    monkeypatch.setattr(World, "finish", finish)  # fault injection: finish has no real failure
    with pytest.raises(RuntimeError, match="finish broke"):
        simulate(load_config("tiny", overrides=["horizon=3h"]), tmp_path / "run")
    run = assert_readable_incomplete(tmp_path / "run", "RuntimeError: finish broke")
    assert run.manifest["end_s"] == 3 * 3600


def test_a_failure_in_the_close_keeps_the_rest(tmp_path, monkeypatch):
    """The disk refuses to finish one table: that table stays a readable stream with every
    row, the others are finished, the manifest says why and the error names the disk."""
    close = writer_module._Sink.close

    def refusing(self, cut=False):
        if not cut and self.path.name == "jobs.arrow.tmp":
            raise OSError(errno.ENOSPC, "No space left on device")
        return close(self, cut)

    monkeypatch.setattr(writer_module._Sink, "close", refusing)  # fault injection
    with pytest.raises(RunWriteError, match="the disk is full"):
        simulate(load_config("tiny", overrides=["horizon=3h"]), tmp_path / "run")
    run = assert_readable_incomplete(tmp_path / "run", "the disk is full", "twin repair")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["tables"]["events"]["file"] == "events.arrow"
    assert manifest["tables"]["jobs"]["file"] == "jobs.arrow.part"
    assert run.table("jobs").num_rows == manifest["jobs_submitted"] > 0, "no row is lost"


def test_a_run_in_another_thread(tmp_path):
    """Signal handlers can only be set in the main thread: a library caller's thread runs
    without them, and the run is the same."""
    import threading

    outcome = {}

    def work():
        try:
            outcome["run"] = simulate(load_config("tiny", overrides=["horizon=2h"]), tmp_path / "r")
        except BaseException as error:  # reported below
            outcome["error"] = error

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert open_run(tmp_path / "r").complete


def test_a_signal_during_the_close_waits_for_it(tmp_path, monkeypatch):
    """Ctrl-C while the tables are being finished: the close completes, then the run
    reports the interruption (a second Ctrl-C cannot lose the tables)."""
    import os
    import signal

    from twin.interrupts import RunInterrupted
    from twin.trace.writer import TableWriter

    finish = TableWriter.finish

    def finish_after_a_signal(self):
        os.kill(os.getpid(), signal.SIGINT)  # handled at once, in this thread
        finish(self)

    monkeypatch.setattr(TableWriter, "finish", finish_after_a_signal)
    with pytest.raises(RunInterrupted, match="stopped by SIGINT"):
        simulate(load_config("tiny", overrides=["horizon=2h"]), tmp_path / "run")
    run = open_run(tmp_path / "run")
    assert run.complete, "the run had reached its horizon when the signal came"
    for name in run.table_names:
        assert run.table(name).num_rows == run.manifest["tables"][name]["rows"]
