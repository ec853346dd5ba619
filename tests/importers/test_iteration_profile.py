"""The iteration-profile reader: both layouts give the same iterations, gzip is read, bad
rows are refused by line, and the grid checks of the interpolating model name what is
missing."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from twin.config.data_files import data_file
from twin.importers import TraceFormatError
from twin.importers.iteration_profile import profile_problems, read_iteration_profile

VIDUR = (
    "kind,label,num_requests,total_q_tokens,total_ms,tensor_parallel_communication_ms_all_layers\n"
    "prefill,prefill q=512,1,512,39,6\n"
    "prefill,8 x prefill q=512,8,4096,304.5,21\n"
    "decode,decode B=8 ctx=513,8,8,11.5,2.5\n"
    "mixed,chunk 256 + 8 decodes ctx=576,9,264,27.5,4.5\n"
)
PLAIN = (
    "kind,prefill_tokens,prompts,decode_batch,decode_context,time_ms,tp_comm_ms\n"
    "prefill,512,,,,39,6\n"
    "prefill,4096,8,0,0,304.5,21\n"
    "decode,0,1,8,513,11.5,2.5\n"
    "mixed,256,1,8,576,27.5,4.5\n"
)


def written(tmp_path, text, name="profile.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", [VIDUR, PLAIN], ids=["vidur", "plain"])
def test_both_layouts_read_the_same_iterations(tmp_path, text):
    profile = read_iteration_profile(written(tmp_path, text))
    assert profile.kind.tolist() == ["prefill", "prefill", "decode", "mixed"]
    assert profile.label == [
        "prefill q=512",
        "8 x prefill q=512",
        "decode B=8 ctx=513",
        "chunk 256 + 8 decodes ctx=576",
    ]
    assert profile.prompts.tolist() == [1, 8, 1, 1]
    assert profile.prefill_tokens.tolist() == [512, 4096, 0, 256]
    assert profile.decode_batch.tolist() == [0, 0, 8, 8]
    assert profile.decode_context.tolist() == [0, 0, 513, 576]
    assert profile.time_s == pytest.approx([0.039, 0.3045, 0.0115, 0.0275])
    assert profile.tp_comm_s == pytest.approx([0.006, 0.021, 0.0025, 0.0045])
    assert profile.prompts.dtype == np.int64 and profile.decode_context.dtype == np.float64


def test_without_a_communication_column_it_is_nan_and_prompts_default_to_one(tmp_path):
    text = "kind,prefill_tokens,decode_batch,decode_context,time_ms\nprefill,100,0,0,9\n"
    profile = read_iteration_profile(written(tmp_path, text))
    assert profile.prompts.tolist() == [1] and np.isnan(profile.tp_comm_s).all()


def test_a_gzipped_profile_reads_as_the_plain_text(tmp_path):
    path = tmp_path / "profile.csv.gz"
    path.write_bytes(gzip.compress(VIDUR.encode()))
    assert (
        read_iteration_profile(path).label == read_iteration_profile(written(tmp_path, VIDUR)).label
    )


def test_the_shipped_profiles_are_whole_grids():
    for name in ("a100_llama3_8b_tp1_iterations.csv.gz", "a100_llama3_8b_tp4_iterations.csv.gz"):
        profile = read_iteration_profile(data_file(name))
        assert len(profile.label) == 85 and profile_problems(profile) == []
    assert (profile.tp_comm_s > 0).all()  # TP4 communicates in every iteration


def test_bad_vidur_rows_are_refused_by_line(tmp_path):
    text = (
        VIDUR.splitlines()[0] + "\n"
        "prefill,prefill q=32,1,32,11.2,0\n"  # line 2: fine
        "decode,decode B=1,1,1,10.8,0\n"  # 3: no ctx
        "train,x,1,1,1,0\n"  # 4: unknown kind
        "prefill,prefill q=64,1,64,-3,0\n"  # 5: negative time
        "mixed,chunk 256 + 8 decodes ctx=576,8,264,27,0\n"  # 6: 8 requests, 9 needed
        "prefill,prefill q=64,1,64,5,6\n"  # 7: communication longer than the iteration
        "prefill,prefill q=64,1.5,64,5,0\n"  # 8: half a prompt
    )
    with pytest.raises(TraceFormatError) as caught:
        read_iteration_profile(written(tmp_path, text))
    problems = dict(caught.value.problems)
    assert sorted(problems) == [3, 4, 5, 6, 7, 8]
    assert "ctx=N" in problems[3] and "num_requests" in problems[6]
    assert "whole number" in problems[8]


def test_bad_plain_rows_are_refused_by_line(tmp_path):
    text = (
        PLAIN.splitlines()[0] + "\n"
        "decode,0,1,0,513,11,0\n"  # line 2: a decode row without decodes
        "decode,0,1,8,0,11,0\n"  # 3: context 0
        "prefill,0,1,0,0,11,0\n"  # 4: prefill of nothing
        "prefill,64,1,4,0,11,0\n"  # 5: decodes in a prefill row
        "mixed,256,2,8,576,27,0\n"  # 6: a mixed row of two prompts
        "decode,0,1,8,513,0,0\n"  # 7: zero time
        "decode,0,1,8,513,11,0\n"  # 8: fine
    )
    with pytest.raises(TraceFormatError) as caught:
        read_iteration_profile(written(tmp_path, text))
    problems = dict(caught.value.problems)
    assert sorted(problems) == [2, 3, 4, 5, 6, 7]
    assert problems[2].startswith("decode_batch") and problems[5].startswith("decode_batch")


def test_a_header_of_neither_layout_says_what_it_lacks(tmp_path):
    with pytest.raises(TraceFormatError) as caught:
        read_iteration_profile(written(tmp_path, "kind,prefill_tokens,time_ms\nprefill,5,1\n"))
    assert caught.value.problems[0][0] == 1
    assert "decode_batch" in caught.value.problems[0][1]


def test_the_grid_checks_name_the_first_missing_pair(tmp_path):
    head = PLAIN.splitlines()[0] + "\n"
    rows = [f"decode,0,1,{b},{c},{10 + b},0" for b in (1, 8) for c in (513, 1024)]
    rows.remove("decode,0,1,8,1024,18,0")
    rows += [f"mixed,{chunk},1,{d},576,30,0" for chunk in (256, 512) for d in (0, 8)]
    rows.remove("mixed,512,1,0,576,30,0")
    rows.append("mixed,256,1,16,640,30,0")
    rows.append("prefill,512,2,0,0,80,0")  # two prompts: not a single-prompt prefill
    problems = profile_problems(read_iteration_profile(written(tmp_path, head + "\n".join(rows))))
    assert problems == [
        "no prefill row of one prompt (kind prefill, prompts 1)",
        "decode rows are not a full grid of batch × context: no row of batch 8 at context 1024",
        "mixed rows are at contexts 576, 640: expected one context",
        "mixed rows are not a full grid of chunk × decode batch: no row of chunk 512 with 0 "
        "decodes",
    ]
