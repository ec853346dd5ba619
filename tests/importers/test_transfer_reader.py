"""The CSV transfer list reader (:mod:`twin.importers.csv_transfers`): columns by name,
sizes in bytes or GB, labels, order of start, and every malformed line refused by number."""

from __future__ import annotations

import gzip

import pytest

from twin.config.errors import TwinUserError
from twin.importers import TraceFormatError, guess_format, read_workload, write_workload
from twin.importers.csv_transfers import read
from twin.trace.schema import WORKLOAD_TRANSFERS


def rows(table) -> list[tuple]:
    return [tuple(row.values()) for row in table.to_pylist()]


def test_columns_by_name_in_any_order_sizes_labels_and_the_file_lines(tmp_path):
    path = tmp_path / "moves.csv"
    path.write_text(
        "label,destination,note,bytes,source,start_s\n"
        "first,b,ignored,1e9,a,5\n"
        '"with, comma",a,,250,b,0.5\n'
        "\n"
        ",p,,0,a,5\n"
    )
    imported = read(path)
    assert imported.kind == "transfers" and imported.records == 3
    assert imported.table.schema == WORKLOAD_TRANSFERS
    # In order of start; the two at 5 s keep the file's order.
    assert rows(imported.table) == [
        (0.5, "b", "a", 250.0, "with, comma", 3),
        (5.0, "a", "b", 1e9, "first", 2),
        (5.0, "a", "p", 0.0, None, 5),
    ]


def test_gb_column_gzip_and_no_label_column(tmp_path):
    path = tmp_path / "moves.csv.gz"
    path.write_bytes(gzip.compress(b"start_s,source,destination,gb\n0,a,b,2.5\n60,b,a,0.001\n"))
    table = read_workload("transfers", guess_format(path, "transfers"), path).table
    assert rows(table) == [(0.0, "a", "b", 2.5e9, None, 2), (60.0, "b", "a", 1e6, None, 3)]


def test_a_normalised_table_round_trips_through_arrow(tmp_path):
    source = tmp_path / "moves.csv"
    source.write_text("start_s,source,destination,bytes,label\n3,a,b,10,x\n1,b,a,20,\n")
    table = read(source).table
    out = tmp_path / "moves.arrow"
    write_workload(table, out)
    assert guess_format(out, "transfers") == "arrow"
    assert read_workload("transfers", "arrow", out).table.equals(table)


def test_every_malformed_line_is_refused_with_its_number_and_nothing_returned(tmp_path):
    path = tmp_path / "moves.csv"
    path.write_text(
        "start_s,source,destination,bytes,label\n"
        "0,a,b,10,fine\n"
        "1,a,b,10\n"  # 3: four fields
        "-2,a,b,10,x\n"  # 4: negative time
        "3,a,b,-10,x\n"  # 5: negative bytes
        "soon,a,b,10,x\n"  # 6: text in a number field
        "4,a,b,lots,x\n"  # 7
        "5,,b,10,x\n"  # 8: empty source
        "6,a, ,10,x\n"  # 9: empty destination
        "7,a,a,10,x\n"  # 10: nowhere to go
        "8,a,b,inf,x\n"  # 11: not finite
        "9,a,b,nan,x\n"  # 12
        "10,a,b,10,x,extra\n"  # 13: six fields
    )
    with pytest.raises(TraceFormatError) as error:
        read(path)
    assert error.value.total == 11
    assert error.value.problems == [
        (3, "expected 5 fields (as the header), found 4"),
        (4, "start_s: negative (-2)"),
        (5, "bytes: negative (-10 bytes)"),
        (6, "start_s: expected a number, got 'soon'"),
        (7, "bytes: expected a number, got 'lots'"),
        (8, "source: empty; expected a site or PoP id"),
        (9, "destination: empty; expected a site or PoP id"),
        (10, "source and destination are both 'a'"),
        (11, "bytes: expected a finite number, got 'inf'"),
        (12, "bytes: expected a finite number, got 'nan'"),
        (13, "expected 5 fields (as the header), found 6"),
    ]
    assert f"{path}: 11 bad lines:" in str(error.value)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("start_s,source,destination,label", "header lacks a size column: expected one of"),
        ("start_s,source,destination,bytes,gb", "header names both bytes and gb"),
        ("time,source,destination,bytes", "header lacks column start_s"),
    ],
)
def test_a_header_without_exactly_one_size_column_or_a_required_one_is_refused_at_line_1(
    tmp_path, header, message
):
    path = tmp_path / "moves.csv"
    fields = ["0", "a", "b"] + ["1"] * (header.count(",") - 2)
    path.write_text(f"{header}\n{','.join(fields)}\n")
    with pytest.raises(TraceFormatError) as error:
        read(path)
    ((line, text),) = error.value.problems
    assert line == 1 and text.startswith(message)


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "moves.csv"
    path.write_text("")
    with pytest.raises(TraceFormatError, match="line 1: empty file"):
        read(path)


def test_an_arrow_file_of_another_workload_is_refused_as_a_transfer_list(tmp_path):
    from twin.importers.csv_jobs import read as read_jobs

    jobs = tmp_path / "jobs.csv"
    jobs.write_text("submit_s,accelerators,duration_s\n0,1,60\n")
    out = tmp_path / "jobs.arrow"
    write_workload(read_jobs(jobs).table, out)
    with pytest.raises(TwinUserError, match="holds workload_jobs, not workload_transfers"):
        read_workload("transfers", "arrow", out)
