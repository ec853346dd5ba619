"""``twin fit-iteration``: the fit recovers known coefficients exactly, shows on the shipped
A100 profile what a line cannot follow (convex prefill), refuses a bad profile by line, and
prints a snippet the config accepts."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from twin.analysis.iteration_fit import TERMS, fit_calibrated, read_profile
from twin.cli import main
from twin.config.data_files import data_file
from twin.config.schema import Calibrated
from twin.importers import TraceFormatError

HEADER = "kind,label,num_requests,total_q_tokens,total_ms\n"
KNOWN = {
    "c0_s": 0.0105,
    "prefill_s_per_token": 6e-5,
    "decode_s_per_request": 4e-5,
    "decode_s_per_context_token": 8e-8,
}


def exact_profile(tmp_path):
    c0, c_pf, c_b, c_kv = (KNOWN[name] for name in TERMS)
    rows = []
    for tokens in (32, 256, 1024, 4096):
        rows.append(f"prefill,prefill q={tokens},1,{tokens},{1000 * (c0 + c_pf * tokens)}")
    for batch in (1, 8, 64):
        for ctx in (513, 2048):
            ms = 1000 * (c0 + c_b * batch + c_kv * batch * ctx)
            rows.append(f"decode,decode B={batch} ctx={ctx},{batch},{batch},{ms}")
    for decodes in (0, 8, 32):
        ms = 1000 * (c0 + c_pf * 256 + c_b * decodes + c_kv * decodes * 576)
        label = f"chunk 256 + {decodes} decodes ctx=576"
        rows.append(f"mixed,{label},{decodes + 1},{256 + decodes},{ms}")
    path = tmp_path / "exact.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def test_the_fit_recovers_the_coefficients_of_an_exact_profile(tmp_path):
    fit = fit_calibrated(read_profile(exact_profile(tmp_path)))
    for name, value in KNOWN.items():
        assert fit.coefficients[name] == pytest.approx(value, rel=1e-6)
    assert all(error.mean_abs < 1e-9 for error in fit.errors)
    assert [error.kind for error in fit.errors] == ["prefill", "decode", "mixed"]


def test_on_the_a100_profile_a_line_makes_long_prompts_too_cheap():
    profile = read_profile(data_file("a100_llama3_8b_tp1_iterations.csv.gz"))
    fit = fit_calibrated(profile)
    assert all(value >= 0 for value in fit.coefficients.values())
    by_label = dict(zip(profile.label, fit.fitted_s / profile.time_s - 1, strict=True))
    assert by_label["prefill q=4096"] < 0  # prefill is convex in P; the line is not
    errors = {error.kind: error for error in fit.errors}
    assert errors["decode"].mean_abs < 0.05  # decode is close to linear in B and K
    assert errors["prefill"].mean_abs > 2 * errors["decode"].mean_abs


def test_a_bad_profile_is_refused_by_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER
        + "prefill,prefill q=32,1,32,11.2\n"
        + "decode,decode B=1,1,1,10.8\n"  # no ctx
        + "train,x,1,1,1\n"
        + "prefill,prefill q=64,1,64,-3\n"
    )
    with pytest.raises(TraceFormatError) as caught:
        read_profile(path)
    assert [line for line, _ in caught.value.problems] == [3, 4, 5]
    result = CliRunner().invoke(main, ["fit-iteration", str(path)])
    assert result.exit_code == 2 and "line 3" in result.output and "Traceback" not in result.output


def test_the_printed_snippet_is_a_valid_calibrated_model():
    result = CliRunner().invoke(
        main,
        [
            "fit-iteration",
            "builtin:a100_llama3_8b_tp4_iterations.csv.gz",
            "--kv-capacity-tokens",
            "460000",
        ],
    )
    assert result.exit_code == 0, result.output
    snippet = result.output[result.output.index("iteration:") :]
    model = Calibrated(**yaml.safe_load(snippet)["iteration"])
    assert model.kv_capacity_tokens == 460000 and model.c0_s > 0
    assert np.isfinite(model.prefill_s_per_token)
