"""The request trace readers (Azure LLM, Alibaba LoRA, plain CSV): every record checked
against the file itself (parsed here with the csv module), the documented mappings, the
round trip through Arrow, and every malformed line refused by number with nothing written."""

from __future__ import annotations

import csv
import gzip
from datetime import datetime, timezone

import numpy as np
import pytest
from click.testing import CliRunner

from twin.cli import main
from twin.config.data_files import data_file
from twin.importers import TraceFormatError, guess_format, read_workload, write_workload
from twin.trace.schema import WORKLOAD_REQUESTS

AZURE = data_file("azure_llm_conversation_tokens.csv.gz")
LORA = data_file("alibaba_lora_requests.csv.gz")


def records(path) -> list[dict[str, str]]:
    with gzip.open(path, "rt", newline="") as handle:
        return list(csv.DictReader(handle))


def column(table, name) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def utc(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc).timestamp()


def test_azure_trace_gives_every_request_its_own_pair_in_the_files_order():
    imported = read_workload("requests", guess_format(AZURE, "requests"), AZURE)
    table = imported.table
    rows = records(AZURE)
    assert table.schema == WORKLOAD_REQUESTS and imported.records == len(rows) == 19366
    assert table.num_rows == len(rows) and not imported.skipped
    assert np.array_equal(column(table, "arrival_s"), [float(r["arrived_at"]) for r in rows])
    pairs = list(zip(column(table, "prompt_tokens"), column(table, "output_tokens"), strict=True))
    assert pairs == [(int(r["num_prefill_tokens"]), int(r["num_decode_tokens"])) for r in rows]
    assert column(table, "line").tolist() == list(range(2, len(rows) + 2))
    assert table.column("service_s").null_count == table.num_rows


def test_lora_trace_keeps_succeeded_and_failed_requests_and_counts_the_others():
    imported = read_workload("requests", guess_format(LORA, "requests"), LORA)
    table = imported.table
    rows = records(LORA)
    kept = [(line, r) for line, r in enumerate(rows, 2) if r["predict_status"] in KEPT_STATUSES]
    assert imported.records == len(rows) == 26823
    assert table.num_rows == len(kept)
    by_status = {s: sum(r["predict_status"] == s for r in rows) for s in ("PENDING", "PROCESSING")}
    assert sorted(imported.skipped.values()) == sorted(by_status.values()) == [3, 30]
    origin = min(utc(r["gmt_create"]) for r in rows)
    order = np.argsort([utc(r["gmt_create"]) for _, r in kept], kind="stable")
    kept = [kept[i] for i in order]
    assert np.array_equal(
        column(table, "arrival_s"), [utc(r["gmt_create"]) - origin for _, r in kept]
    )
    assert column(table, "arrival_s")[0] == 0.0  # the first record is the origin
    assert np.array_equal(
        column(table, "service_s"), [float(r["exec_time_seconds"]) for _, r in kept]
    )
    prompts = [int(float(r["prompt_length"])) if r["prompt_length"] else 0 for _, r in kept]
    assert column(table, "prompt_tokens").tolist() == prompts
    assert not column(table, "output_tokens").any()
    assert column(table, "kind").tolist() == [r["predict_type"] for _, r in kept]
    assert column(table, "line").tolist() == [line for line, _ in kept]


KEPT_STATUSES = ("SUCCEED", "FAILED")


def test_published_azure_layout_counts_from_its_earliest_timestamp(tmp_path):
    path = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    path.write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:15:47.2500000,10,20\n"
        "2023-11-16 18:15:46.0000000,30,40\n"
    )
    imported = read_workload("requests", guess_format(path, "requests"), path)
    assert imported.table.select(
        ["arrival_s", "prompt_tokens", "output_tokens", "line"]
    ).to_pylist() == [
        {"arrival_s": 0.0, "prompt_tokens": 30, "output_tokens": 40, "line": 3},
        {"arrival_s": 1.25, "prompt_tokens": 10, "output_tokens": 20, "line": 2},
    ]
    assert imported.notes == ["1 record out of order sorted by arrival time"]


def test_csv_columns_by_name_optional_lengths_and_service_times(tmp_path):
    path = tmp_path / "requests.csv.gz"
    path.write_bytes(
        gzip.compress(
            b"note,service_s,arrival_s,kind,prompt_tokens\n"
            b"x,0.5,2.5,chat,12\n"
            b",,1,,\n"
            b"y,3,1,batch,7\n"
        )
    )
    table = read_workload("requests", "csv", path).table
    assert [tuple(row.values()) for row in table.to_pylist()] == [
        (1.0, 0, 0, None, None, 3),
        (1.0, 7, 0, 3.0, "batch", 4),
        (2.5, 12, 0, 0.5, "chat", 2),
    ]


@pytest.mark.parametrize("format_name", ["azure_llm", "alibaba_lora", "csv"])
def test_a_normalised_table_round_trips_through_arrow(tmp_path, format_name):
    source = {"azure_llm": AZURE, "alibaba_lora": LORA}.get(format_name)
    if source is None:
        source = tmp_path / "requests.csv"
        source.write_text("arrival_s,prompt_tokens,output_tokens,service_s\n3,1,2,\n1,5,6,0.25\n")
    table = read_workload("requests", format_name, source).table
    out = tmp_path / "requests.arrow"
    write_workload(table, out)
    assert guess_format(out, "requests") == "arrow"
    assert read_workload("requests", "arrow", out).table.equals(table)


MALFORMED = {
    "azure_llm": (
        "arrived_at,num_prefill_tokens,num_decode_tokens\n"
        "0.0,10,20\n"
        "1.0,10\n"  # line 3: two fields
        "-2.0,10,20\n"  # line 4: negative time
        "3.0,ten,20\n"  # line 5: text in a number field
        "4.0,10,2.5\n",  # line 6: not whole
        {3: "expected 3 fields", 4: "negative", 5: "expected a number", 6: "whole number"},
    ),
    "alibaba_lora": (
        "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,"
        "negative_prompt_length,num_images_per_prompt,num_inference_steps,"
        "checkpoint_model_version_id,num_lora\n"
        "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0,63.0,,1.0,30.0,M0,0\n"
        "2024-11-15 16:57:51,TXT_2_IMG,SUCCEED,32.0,G0,63.0,,1.0,30.0,M0\n"
        "2024-11-15 16:57:52,TXT_2_IMG,SUCCEED,-1,G0,63.0,,1.0,30.0,M0,0\n"
        "yesterday,TXT_2_IMG,SUCCEED,3.0,G0,63.0,,1.0,30.0,M0,0\n"
        "2024-11-15 16:57:53,TXT_2_IMG,SUCCEED,3.0,G0,long,,1.0,30.0,M0,0\n"
        "2024-11-15 16:57:54,TXT_2_IMG,LOST,3.0,G0,1,,1.0,30.0,M0,0\n",
        {3: "expected 11 fields", 4: "negative", 5: "date-time", 6: "expected a number", 7: "LOST"},
    ),
    "csv": (
        "arrival_s,prompt_tokens,output_tokens,service_s\n"
        "0,1,1,1\n"
        "1,1,1\n"
        "-1,1,1,1\n"
        "2,1,1,fast\n"
        "3,-4,1,1\n",
        {3: "expected 4 fields", 4: "negative", 5: "expected a number", 6: "negative"},
    ),
}


@pytest.mark.parametrize("format_name", sorted(MALFORMED))
def test_every_malformed_line_is_refused_with_its_number(tmp_path, format_name):
    text, expected = MALFORMED[format_name]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TraceFormatError) as caught:
        read_workload("requests", format_name, path)
    problems = dict(caught.value.problems)
    assert sorted(problems) == sorted(expected)
    for line, words in expected.items():
        assert words in problems[line], (line, problems[line])
    assert f"{len(expected)} bad lines" in str(caught.value)


def test_a_header_of_neither_azure_layout_is_refused_on_line_1(tmp_path):
    path = tmp_path / "azure.csv"
    path.write_text("time,prompt,output\n0,1,1\n")
    with pytest.raises(TraceFormatError) as caught:
        read_workload("requests", "azure_llm", path)
    assert caught.value.problems[0][0] == 1 and "arrived_at" in caught.value.problems[0][1]


@pytest.mark.parametrize("format_name", sorted(MALFORMED))
def test_twin_import_refuses_a_malformed_trace_with_exit_2_and_writes_nothing(
    tmp_path, format_name
):
    text, expected = MALFORMED[format_name]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    out = tmp_path / "out.arrow"
    args = ["import", format_name, str(path), "--out", str(out)]
    if format_name == "csv":
        args += ["--kind", "requests"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for line in expected:
        assert f"line {line}:" in result.output
    assert list(tmp_path.iterdir()) == [path]
