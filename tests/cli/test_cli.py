"""The `twin` command line through click's CliRunner: exit codes, messages, files written."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import builtin_scenarios
from twin.trace.reader import open_run


@pytest.fixture
def runner():
    return CliRunner()


def test_run_writes_a_complete_run_and_prints_the_summary(runner, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(main, ["run", "tiny", "--out", str(out), "--horizon", "6h"])
    assert result.exit_code == 0, result.output
    assert "jobs by state" in result.output and "utilisation" in result.output
    run = open_run(out)
    assert run.complete and run.manifest["horizon_s"] == 6 * 3600
    assert {"events", "jobs", "sites"} <= set(run.table_names)


def test_run_applies_set_and_whatif_and_saves_the_resolved_config(runner, tmp_path):
    whatif = tmp_path / "w.yaml"
    whatif.write_text("sites:\n  - {id: north, pue: 1.05}\n")
    out = tmp_path / "run"
    args = ["run", "tiny", "-q", "--out", str(out), "--horizon", "1h", "--seed", "7"]
    args += ["--set", "policies.placement=lowest_carbon", "--whatif", str(whatif)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["policies"]["placement"] == "lowest_carbon"
    assert saved["seed"] == 7 and saved["horizon"] == 3600
    assert saved["sites"][0]["pue"] == 1.05


def test_run_refuses_to_overwrite_without_the_flag(runner, tmp_path):
    out = tmp_path / "run"
    args = ["run", "tiny", "-q", "--out", str(out), "--horizon", "1h"]
    assert runner.invoke(main, args).exit_code == 0
    again = runner.invoke(main, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(main, [*args, "--overwrite"]).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no_such_scenario"], "no scenario file or built-in scenario"),
        (["run", "tiny", "--set", "sites.nowhere.pue=1"], "no item with id 'nowhere'"),
        (["run", "tiny", "--set", "sites[0].power_mw=-5"], "sites[0].power_mw: must be > 0"),
        (["run", "tiny", "--horizon", "soon"], "--horizon"),
        (["run", "tiny", "--whatif", "missing.yaml"], "no what-if file"),
        (["validate", "tiny", "--set", "policies.scheduler=sjf"], "unknown scheduler 'sjf'"),
        (["summary", "."], "not a run directory"),
    ],
)
def test_user_mistakes_exit_2_without_traceback(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_validate_lists_every_mistake(runner, tmp_path):
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["sites"][0]["power_mw"] = -5
    data["sites"][1]["pue"] = 0.5
    data["policies"]["placement"] = "random"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    for expected in ("sites[0].power_mw", "sites[1].pue", "policies.placement"):
        assert expected in result.output


def test_validate_ok(runner):
    result = runner.invoke(main, ["validate", "europe"])
    assert result.exit_code == 0 and "ok" in result.output


def test_summary_json_matches_the_jobs_table(runner, tmp_path):
    out = tmp_path / "run"
    runner.invoke(main, ["run", "tiny", "-q", "--out", str(out), "--horizon", "3h"])
    result = runner.invoke(main, ["summary", str(out), "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.output)
    assert sum(summary["jobs_by_state"].values()) == open_run(out).table("jobs").num_rows


def test_scenarios_and_schema(runner, tmp_path):
    listing = runner.invoke(main, ["scenarios"])
    assert listing.exit_code == 0 and "europe" in listing.output and "gigafactory" in listing.output
    schema_file = tmp_path / "schema.json"
    assert runner.invoke(main, ["schema", "--out", str(schema_file)]).exit_code == 0
    assert json.loads(schema_file.read_text())["title"] == "twin scenario"


def test_python_dash_m_twin_works():
    result = subprocess.run(
        [sys.executable, "-m", "twin", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "run" in result.stdout
