"""Runs written before twin added a column stay readable: a nullable column the table
lacks reads as null throughout; a required one missing is still a malformed table."""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from twin.config import load_config
from twin.simulation import simulate
from twin.trace.reader import RunError, open_run


def rewrite_without(path, columns: list[str]) -> None:
    """The table at ``path`` without ``columns``, as a new file renamed over it (tables
    read before stay mapped to the old one)."""
    with pa.OSFile(str(path), "rb") as source:
        table = ipc.open_file(source).read_all().drop_columns(columns)
    part = path.with_suffix(".rewrite")
    with pa.OSFile(str(part), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(part, path)


def test_a_run_without_later_nullable_columns_reads_them_as_null(tmp_path):
    out = simulate(load_config("tiny", overrides=["horizon=2h"]), out=tmp_path / "run").path
    fresh = open_run(out).table("jobs")
    rewrite_without(out / "jobs.arrow", ["trace_job", "goodput"])
    older = open_run(out).table("jobs")
    assert older.num_rows == fresh.num_rows > 0
    assert older.column("trace_job").null_count == older.num_rows
    assert older.column("goodput").null_count == older.num_rows
    assert older.column("job").equals(fresh.column("job"))
    rewrite_without(out / "jobs.arrow", ["tenant"])  # required: no default can stand in
    with pytest.raises(RunError, match="no column 'tenant'"):
        open_run(out).table("jobs")
