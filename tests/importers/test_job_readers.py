"""The job readers against the files themselves: every shipped job trace imports, its columns
equal an independent parse of the file after the documented mappings, the skipped records
add up, a malformed file is refused with its line numbers, and ``twin import`` writes its
table whole or not at all."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from twin.cli import main
from twin.config.data_files import data_file
from twin.importers import TraceFormatError, read_arrow, read_workload, write_workload
from twin.importers.jobs import JobOptions

SWF_TRACES = {
    "lublin_256.swf.gz": 10_000,
    "lublin_256_new2.swf.gz": 10_000,
    "nasa_ipsc_1993.swf.gz": 18_239,
}


def swf_fields(name: str) -> np.ndarray:
    """The numbers of an SWF file, parsed here independently of the reader."""
    with gzip.open(data_file(name), "rt") as handle:
        rows = [line.split() for line in handle if line.strip() and not line.startswith(";")]
    return np.array(rows, dtype=float)


@pytest.mark.parametrize(("name", "jobs"), SWF_TRACES.items())
def test_every_swf_trace_imports_with_its_fields(name, jobs):
    imported = read_workload("jobs", "swf", data_file(name))
    table = imported.table
    fields = swf_fields(name)
    assert imported.records == table.num_rows == len(fields) == jobs
    order = np.argsort(fields[:, 1], kind="stable")  # the table is in submission order
    fields = fields[order]
    assert table.column("job").to_pylist() == fields[:, 0].astype(int).tolist()
    assert np.array_equal(table.column("submit_s").to_numpy(), fields[:, 1])
    assert np.array_equal(table.column("duration_s").to_numpy(), fields[:, 3])
    processors = np.where(fields[:, 4] > 0, fields[:, 4], fields[:, 7])
    assert np.array_equal(table.column("accelerators").to_numpy(), processors)
    # requested time -1 everywhere in these traces: the run time (factor 1)
    assert (fields[:, 8] == -1).all()
    assert np.array_equal(table.column("requested_s").to_numpy(), fields[:, 3])
    users = [None if u < 0 else str(int(u)) for u in fields[:, 11]]
    assert table.column("user").to_pylist() == users


def test_swf_mappings_scale_processors_and_walltimes():
    name = "nasa_ipsc_1993.swf.gz"
    fields = swf_fields(name)
    fields = fields[np.argsort(fields[:, 1], kind="stable")]
    options = JobOptions(per_accelerator=4, requested_time="run_time", requested_factor=1.5)
    table = read_workload("jobs", "swf", data_file(name), options).table
    expected = [max(1, math.ceil(p / 4)) for p in fields[:, 4]]
    assert table.column("accelerators").to_pylist() == expected
    assert np.allclose(table.column("requested_s").to_numpy(), fields[:, 3] * 1.5)
    by_group = read_workload("jobs", "swf", data_file(name), JobOptions(user_field="group"))
    assert set(by_group.table.column("user").to_pylist()) == {"1", "2"}  # normal and system


def test_alibaba_pods_are_read_or_skipped_by_their_documented_reason():
    import csv

    imported = read_workload("jobs", "alibaba_gpu_2023", data_file("alibaba_gpu_2023_pods.csv.gz"))
    with gzip.open(data_file("alibaba_gpu_2023_pods.csv.gz"), "rt") as handle:
        pods = list(csv.DictReader(handle))
    pending = [p for p in pods if p["pod_phase"] == "Pending"]
    cpu = [p for p in pods if p["pod_phase"] != "Pending" and int(p["num_gpu"]) == 0]
    kept = [p for p in pods if p["pod_phase"] != "Pending" and int(p["num_gpu"]) > 0]
    assert imported.records == len(pods) == 8152
    assert imported.skipped == {
        "never scheduled (Pending)": len(pending),
        "CPU-only (num_gpu 0)": len(cpu),
    }
    table = imported.table
    assert table.num_rows == len(kept) == 8152 - len(pending) - len(cpu)
    kept.sort(key=lambda p: float(p["creation_time"]))
    assert table.column("submit_s").to_pylist() == [float(p["creation_time"]) for p in kept]
    runs = [float(p["deletion_time"]) - float(p["scheduled_time"]) for p in kept]
    assert table.column("duration_s").to_pylist() == runs
    assert table.column("accelerators").to_pylist() == [int(p["num_gpu"]) for p in kept]
    assert table.column("user").to_pylist() == [p["qos"] for p in kept]
    phases = {"Succeeded": "completed", "Failed": "failed", "Running": "unknown"}
    assert table.column("status").to_pylist() == [phases[p["pod_phase"]] for p in kept]


def test_csv_jobs_take_named_columns_in_any_order(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text(
        "tenant,duration_s,accelerators,submit_s,requested_s,extra\n"
        "academia,100,8,5,,x\n"
        "industry,50.5,1,0,200,y\n"
    )
    table = read_workload("jobs", "csv", path, JobOptions(requested_factor=2.0)).table
    assert table.column("submit_s").to_pylist() == [0.0, 5.0]  # sorted by submission
    assert table.column("tenant").to_pylist() == ["industry", "academia"]
    assert table.column("requested_s").to_pylist() == [200.0, 200.0]  # given; 100 × 2
    assert table.column("job").to_pylist() == [2, 1]  # record numbers
    assert table.column("line").to_pylist() == [3, 2]


@pytest.mark.parametrize(
    ("format_name", "text", "problems"),
    [
        (
            "swf",
            "; header\n1 0 -1 10 4 -1 -1 -1 -1 -1 1 -1 -1 -1 0 -1 -1 -1\n"
            "2 5 -1 10 4 -1 -1 -1 -1 -1 1 -1 -1 -1 0 -1 -1\n"
            "3 -5 -1 10 4 -1 -1 -1 -1 -1 1 -1 -1 -1 0 -1 -1 -1\n"
            "4 9 -1 ten 4 -1 -1 -1 -1 -1 1 -1 -1 -1 0 -1 -1 -1\n",
            {3: "expected 18 fields, found 17", 4: "negative", 5: "expected a number"},
        ),
        (
            "csv",
            "submit_s,accelerators,duration_s\n0,1,10\n1,2\n-3,1,10\n4,one,10\n5,0,10\n",
            {3: "expected 3 fields", 4: "negative", 5: "expected a number", 6: "at least 1"},
        ),
        (
            "alibaba_gpu_2023",
            "name,num_gpu,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
            "p1,1,LS,Running,0,10,5\np2,1,LS,Running,9,3,5\np3,x,LS,Running,0,10,5\n",
            {3: "out of order", 4: "expected a number"},
        ),
    ],
)
def test_a_malformed_trace_is_refused_with_every_bad_line(tmp_path, format_name, text, problems):
    path = tmp_path / "bad.trace"
    path.write_text(text)
    with pytest.raises(TraceFormatError) as caught:
        read_workload("jobs", format_name, path)
    found = dict(caught.value.problems)
    assert set(found) == set(problems)
    for line, words in problems.items():
        assert words in found[line], (line, found[line])


def test_the_header_must_name_the_required_columns(tmp_path):
    path = tmp_path / "jobs.csv"
    path.write_text("submit,accelerators\n0,1\n")
    with pytest.raises(TraceFormatError, match="lacks columns submit_s, duration_s"):
        read_workload("jobs", "csv", path)


def test_write_and_read_back_give_the_same_table(tmp_path):
    table = read_workload("jobs", "swf", data_file("lublin_256.swf.gz")).table
    write_workload(table, tmp_path / "w.arrow")
    again = read_arrow("jobs", tmp_path / "w.arrow")
    assert again.table.equals(table)
    assert again.table.schema.metadata[b"twin.table"] == b"workload_jobs"
    with pytest.raises(Exception, match="not workload_requests"):
        read_arrow("requests", tmp_path / "w.arrow")


def test_twin_import_refuses_a_bad_trace_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.swf"
    bad.write_text("1 0 -1 10 4 -1 -1 -1 -1 -1 1 -1 -1 -1 0 -1 -1 -1\n2 x -1 1 1\n")
    out = tmp_path / "out.arrow"
    out.write_bytes(b"the user's file")
    result = CliRunner().invoke(main, ["import", "swf", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "line 2: expected 18 fields, found 5" in result.output
    assert "Traceback" not in result.output
    assert out.read_bytes() == b"the user's file"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.swf", "out.arrow"]  # no leftovers


def test_twin_import_prints_what_it_read_and_writes_the_table(tmp_path):
    out = tmp_path / "lublin.arrow"
    result = CliRunner().invoke(
        main, ["import", "swf", "builtin:lublin_256.swf.gz", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "10,000" in result.output and "89.2 days" in result.output
    table = read_arrow("jobs", out).table
    gpu_h = float(np.dot(table.column("accelerators").to_numpy(), table["duration_s"])) / 3600
    assert f"{gpu_h:,.0f}" in result.output
    assert "requested time -1 → run time × 1" in result.output


def test_an_unknown_format_or_missing_file_is_a_user_error(tmp_path):
    result = CliRunner().invoke(main, ["import", "swf", str(tmp_path / "none.swf"), "-o", "x"])
    assert result.exit_code == 2 and "no such trace file" in result.output
    result = CliRunner().invoke(main, ["import", "parquet", "f", "-o", "x"])
    assert result.exit_code == 2


def test_a_gzip_trace_is_known_by_its_bytes_not_its_name(tmp_path):
    plain = Path(tmp_path / "jobs.swf")
    plain.write_bytes(gzip.decompress(data_file("lublin_256.swf.gz").read_bytes()))
    assert read_workload("jobs", "swf", plain).table.equals(
        read_workload("jobs", "swf", data_file("lublin_256.swf.gz")).table
    )


def test_an_arrow_workload_without_a_later_optional_column_still_reads(tmp_path):
    table = read_workload("jobs", "swf", data_file("nasa_ipsc_1993.swf.gz")).table
    older = table.drop_columns(["accelerator_types"]).replace_schema_metadata(table.schema.metadata)
    write_workload(older, tmp_path / "old.arrow")
    again = read_arrow("jobs", tmp_path / "old.arrow").table
    assert again.column("accelerator_types").null_count == again.num_rows
    assert again.drop_columns(["accelerator_types"]).equals(older)
    write_workload(
        older.drop_columns(["duration_s"]).replace_schema_metadata(table.schema.metadata),
        tmp_path / "broken.arrow",
    )
    with pytest.raises(Exception, match="lacks columns duration_s"):
        read_arrow("jobs", tmp_path / "broken.arrow")


def test_every_packaged_file_is_listed_and_has_its_source():
    result = CliRunner().invoke(main, ["import", "--list"])
    assert result.exit_code == 0
    listed = [line.removeprefix("builtin:") for line in result.output.split()]
    folder = data_file("lublin_256.swf.gz").parent
    assert sorted(listed) == sorted(p.name for p in folder.iterdir() if p.suffix != ".md")
    sources = (folder / "SOURCES.md").read_text()
    assert all(f"`{name}`" in sources for name in listed), [
        name for name in listed if f"`{name}`" not in sources
    ]
