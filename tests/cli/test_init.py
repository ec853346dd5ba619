"""`twin init` writes a scenario to start from that validates and runs, keeps the built-in's
comments, and never replaces a user's file unasked."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import builtin_scenarios, load_config


def test_init_writes_a_valid_copy_named_as_asked(tmp_path):
    runner = CliRunner()
    out = tmp_path / "mine.yaml"
    result = runner.invoke(main, ["init", "mine", "--from", "tiny", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert yaml.safe_load(text)["name"] == "mine"
    original = builtin_scenarios()["tiny"].read_text()
    kept = [line for line in original.splitlines() if line.lstrip().startswith("#")]
    assert kept and all(line in text for line in kept)
    scenario = load_config(out)
    assert scenario.name == "mine" and scenario.sites == load_config("tiny").sites
    assert runner.invoke(main, ["validate", str(out)]).exit_code == 0


def test_init_refuses_to_replace_a_file_and_bad_names(tmp_path):
    runner = CliRunner()
    out = tmp_path / "mine.yaml"
    out.write_text("my own work\n")
    result = runner.invoke(main, ["init", "mine", "--out", str(out)])
    assert result.exit_code == 2 and "exists" in result.output
    assert out.read_text() == "my own work\n"
    assert runner.invoke(main, ["init", "mine", "--out", str(out), "--force"]).exit_code == 0
    assert yaml.safe_load(out.read_text())["name"] == "mine"
    for bad in (["init", "bad name"], ["init", "ok", "--from", "nowhere"]):
        result = runner.invoke(main, bad)
        assert result.exit_code == 2 and "Traceback" not in result.output
