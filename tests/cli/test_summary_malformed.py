"""`twin summary` on broken run folders: a clear message and exit 2, never a traceback."""

from __future__ import annotations

import json
import re
import shutil

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from click.testing import CliRunner

from twin.cli import main
from twin.config import load_config
from twin.simulation import simulate
from twin.trace.errors import RunError
from twin.trace.reader import open_run
from twin.trace.summary import summarize


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "good"
    simulate(load_config("tiny", overrides=["horizon=3h"]), out)
    return out


def rewrite_table(path, change):
    table = ipc.open_file(pa.memory_map(str(path))).read_all()
    table = change(table)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def drop_column(name):
    return lambda table: table.drop_columns([name])


def to_string(name):
    def change(table):
        index = table.schema.get_field_index(name)
        return table.set_column(index, name, table.column(name).cast(pa.string()))

    return change


def null_column(name):
    def change(table):
        index = table.schema.get_field_index(name)
        nulls = pa.nulls(table.num_rows, table.schema.field(name).type)
        return table.set_column(index, pa.field(name, nulls.type, nullable=True), nulls)

    return change


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def garbage_stream(folder):
    """Only the stream of a table (a killed run), and garbage in it."""
    (folder / "jobs.arrow").unlink()
    (folder / "jobs.arrow.part").write_bytes(b"\x00garbage" * 100)


def edit_manifest(change):
    def edit(folder):
        path = folder / "manifest.json"
        path.write_text(change(json.loads(path.read_text())))

    return edit


BROKEN = {
    "missing column": (
        lambda f: rewrite_table(f / "jobs.arrow", drop_column("state")),
        "no column 'state'",
    ),
    "wrong type": (
        lambda f: rewrite_table(f / "jobs.arrow", to_string("wait_s")),
        "column 'wait_s' is string, expected double",
    ),
    "nulls where none may be": (
        lambda f: rewrite_table(f / "sites.arrow", null_column("site")),
        "column 'site' has",
    ),
    "truncated file": (lambda f: truncate(f / "sites.arrow"), "not a readable Arrow file"),
    "garbage bytes": (
        lambda f: (f / "jobs.arrow").write_bytes(bytes(range(256)) * 8),
        "not a readable Arrow file",
    ),
    "empty file": (lambda f: (f / "jobs.arrow").write_bytes(b""), "not a readable Arrow file"),
    "missing table": (lambda f: (f / "sites.arrow").unlink(), "has no table 'sites'"),
    "garbage stream": (garbage_stream, "not a readable Arrow stream"),
    "manifest not an object": (
        edit_manifest(lambda m: json.dumps([m])),
        "does not hold a JSON object",
    ),
    "manifest not JSON": (edit_manifest(lambda m: "{" + json.dumps(m)), "not readable JSON"),
    "manifest field of the wrong type": (
        edit_manifest(lambda m: json.dumps({**m, "horizon_s": "x"})),
        "horizon_s must be int or float, got 'x'",
    ),
    "manifest tables not a mapping": (
        edit_manifest(lambda m: json.dumps({**m, "tables": [1, 2]})),
        "tables must be dict",
    ),
    "no manifest": (lambda f: (f / "manifest.json").unlink(), "is not a run directory"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_run_is_a_clear_error(tmp_path, good_run, case):
    folder = tmp_path / "broken"
    shutil.copytree(good_run, folder)
    damage, message = BROKEN[case]
    damage(folder)
    result = CliRunner().invoke(main, ["summary", str(folder)])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert result.output.startswith("error:")
    with pytest.raises(RunError, match=re.escape(message)):
        summarize(open_run(folder))


def test_the_good_run_summarises(good_run):
    result = CliRunner().invoke(main, ["summary", str(good_run)])
    assert result.exit_code == 0 and "jobs by state" in result.output
