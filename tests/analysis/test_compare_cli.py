"""``twin compare`` through click: the table and its marks, strict JSON, refusals and
``--force`` warnings, and user mistakes (exit 2, a message naming what is wrong, no
traceback); last, a sweep made by ``twin sweep`` on Dask, compared by configuration."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from twin.cli import main

FCFS = "policies.scheduler=fcfs"


def twin(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["compare", *map(str, args)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_the_table_marks_half_the_accelerators_worse_and_a_policy_as_noise(runs):
    code, out = twin(runs["base"], runs["fcfs"], runs["half"], "--metric", "jobs.wait_mean_s")
    assert code == 0, out
    assert "baseline" in out and "group 2" in out and str(runs["half"]) in out
    marks = {cells[4].strip(): cells[-2].strip() for cells in table_rows(out) if cells[4].strip()}
    assert marks == {"1": "noise", "2": "worse"}
    assert "95% Student-t interval" in out


def table_rows(out: str) -> list[list[str]]:
    """The cells of the table's lines."""
    return [line.split("│") for line in out.splitlines() if line.startswith("│")]


def test_json_is_strict_and_says_the_same(runs):
    code, out = twin(runs["base"], runs["half"], runs["half"] / "seed-1", "--json")
    assert code == 0, out
    data = strict_json(out)
    assert [g["baseline"] for g in data["groups"]] == [True, False, False]
    waits = next(m for m in data["metrics"] if m["metric"] == "jobs.wait_mean_s")
    half, single = waits["comparisons"]
    assert half["mark"] == "worse" and half["distinguishable"] and half["pairs"] == 4
    assert half["delta"]["low"] > 0 and half["method"] == "paired"
    assert single["mark"] == "1 seed: cannot tell noise" and single["delta"]["half_width"] is None
    assert data["confidence"] == 0.95
    assert twin(runs["base"], runs["half"], runs["half"] / "seed-1", "--json")[1] == out


def test_a_wider_confidence_gives_wider_intervals(runs):
    widths = []
    for level in ("0.8", "0.99"):
        code, out = twin(runs["base"], runs["fcfs"], "--json", "--confidence", level)
        assert code == 0, out
        widths.append(strict_json(out)["metrics"][3]["comparisons"][0]["delta"]["half_width"])
    assert widths[0] < widths[1]


def test_differing_horizons_are_refused_then_forced_with_a_loud_warning_per_row(
    runs, kit, tmp_path
):
    kit.run_tiny(tmp_path / "short", 1, horizon="6h")
    code, out = twin(runs["base"], tmp_path / "short")
    assert code == 2
    assert "refusing to compare" in out and "horizon differs" in out and "--force" in out
    code, out = twin(runs["base"], tmp_path / "short", "--force")
    assert code == 0, out
    assert out.count("WARNING ⚠1") == 2  # before and after the table
    marks = [cells[-2] for cells in table_rows(out) if cells[4].strip()]
    assert len(marks) == 6 and all("1 seed: cannot tell noise ⚠1" in m for m in marks)
    data = strict_json(twin(runs["base"], tmp_path / "short", "--force", "--json")[1])
    assert all("horizon differs" in m["comparisons"][0]["warnings"][0] for m in data["metrics"])


def test_an_incomplete_run_is_refused_by_name(runs, kit, tmp_path):
    shutil.copytree(runs["half"], tmp_path / "half")
    kit.set_manifest(tmp_path / "half" / "seed-2", status="incomplete", reason="disk full")
    code, out = twin(runs["base"], tmp_path / "half")
    assert code == 2
    assert "seed-2 is incomplete (disk full)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{tmp}/nowhere"], "no such run directory, folder of runs or sweep"),
        (["{base}s"], "(did you mean '{base}'?)"),
        (["{tmp}"], "is not a run directory (no manifest.json), a folder of run directories"),
        (["{tmp}/nowhere@base"], "does not exist (SWEEP@CONFIG names a configuration)"),
        (["{base}@base"], "is not a sweep directory (no sweep.arrow)"),
        (["{sweep}@polices.scheduler=fcfs"], "did you mean 'policies.scheduler=fcfs'?"),
        (["{base}", "--metric", "jobs.wait_p96_s"], "--metric[0]: unknown metric"),
        (["{base}", "--metric", "co2_t[site=nort]"], "no site 'nort' (did you mean 'north'?)"),
        (["{base}", "--metric", "inference.chat.slo_attainment"], "no service 'chat'"),
        (["{base}", "--confidence", "1.5"], "Invalid value for '--confidence'"),
    ],
)
def test_user_mistakes_exit_2_with_the_reason(runs, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    filled = [
        a.format(tmp=tmp_path / "empty", base=runs["base"], sweep=runs["sweep"]) for a in args
    ]
    code, out = twin(*filled)
    assert code == 2
    assert message.format(base=runs["base"]) in " ".join(out.split()), out


def test_a_garbled_sweep_table_is_a_user_error(runs, tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "sweep.arrow").write_bytes(b"not arrow at all")
    code, out = twin(tmp_path / "sweep")
    assert code == 2 and "is not a readable Arrow file" in out


def test_a_sweep_made_by_twin_sweep_compares_by_configuration(tmp_path):
    """The real thing: ``twin sweep`` on a local Dask cluster (one worker process), then
    the whole sweep and one configuration by label; the two policies differ in nothing that
    is not noise on the cost, and pair over the 3 seeds."""
    sweep_file = tmp_path / "policies.yaml"
    sweep_file.write_text(
        "scenario: tiny\nhorizon: 6h\ngrid:\n  policies.scheduler: [easy_backfill, fcfs]\n"
        "seeds: 3\nmetrics: [cost_eur, jobs.wait_mean_s]\n"
    )
    made = CliRunner().invoke(
        main, ["sweep", str(sweep_file), "--out", str(tmp_path / "s"), "-w", "1", "-q"]
    )
    assert made.exit_code == 0, made.output
    code, out = twin(tmp_path / "s", "--json", "--metric", "cost_eur", "--metric", "energy_mwh")
    assert code == 0, out
    data = strict_json(out)
    names = [g["name"] for g in data["groups"]]
    assert names == [
        f"{tmp_path / 's'}@policies.scheduler=easy_backfill",
        f"{tmp_path / 's'}@{FCFS}",
    ]
    for metric in data["metrics"]:
        (other,) = metric["comparisons"]
        assert other["method"] == "paired" and other["pairs"] == 3
    code, out = twin(f"{tmp_path / 's'}@{FCFS}", "--json")
    assert code == 0 and len(strict_json(out)["groups"]) == 1
