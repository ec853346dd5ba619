"""Sweep files: what a mistake in one looks like (the field path, exit code 2, no
traceback), checked before anything runs."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from twin.cli import main
from twin.config import ConfigError, builtin_scenarios
from twin.model.world import check_policies
from twin.sweep.points import expand
from twin.sweep.spec import read_sweep, yaml_text

GOOD = """\
scenario: tiny
horizon: 2h
grid:
  policies.placement: [least_loaded, lowest_carbon]
seeds: 2
metrics: [co2_t]
"""


def write(tmp_path, text, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text):
    """The issues (path → message) of a sweep file, read and expanded."""
    with pytest.raises(ConfigError) as caught:
        expand(read_sweep(write(tmp_path, text)), [check_policies])
    return {issue.path: issue.message for issue in caught.value.issues}


def test_a_good_file_is_read_with_its_seeds_and_a_scenario_beside_it(tmp_path, monkeypatch):
    (tmp_path / "base.yaml").write_text(builtin_scenarios()["tiny"].read_text())
    path = write(tmp_path, GOOD.replace("scenario: tiny", "scenario: base.yaml"))
    monkeypatch.chdir(tmp_path.parent)  # relative to the sweep file, not the working folder
    spec = read_sweep(path)
    assert spec.scenario == str((tmp_path / "base.yaml").resolve())
    assert spec.seeds == (1, 2) and spec.horizon == "2h" and spec.metrics == ("co2_t",)
    assert spec.params == ["policies.placement"]


def test_the_shipped_sweeps_are_valid_and_found_by_name():
    for name in ("tiny_policies", "europe_policies"):
        sweep = expand(read_sweep(name), [check_policies])
        assert len(sweep.configurations) == 4 and len(sweep.points) >= 8


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"seeds": "0"}, "seeds", "count of seeds must be 1"),
        ({"seeds": "[3, 1, 3]"}, "seeds", "repeated: [3]"),
        ({"seeds": "[-1]"}, "seeds", "a seed must be 0"),
        ({"seeds": "three"}, "seeds", "a count of seeds or a list"),
        ({"horizon": "soon"}, "horizon", "duration"),
        ({"metrics": "[]"}, "metrics", "at least 1"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_a_wrong_field_is_named(tmp_path, change, path, words):
    lines = dict(line.split(": ", 1) for line in GOOD.splitlines() if ": " in line)
    text = GOOD
    for key, value in change.items():
        if key in lines:
            text = text.replace(f"{key}: {lines[key]}", f"{key}: {value}")
        else:
            text += f"{key}: {value}\n"
    with pytest.raises(ConfigError) as caught:
        read_sweep(write(tmp_path, text))
    found = {issue.path: issue.message for issue in caught.value.issues}
    assert words in found[path]


def test_an_empty_grid_list_is_named_with_its_override_path(tmp_path):
    found = problems(tmp_path, GOOD.replace("[least_loaded, lowest_carbon]", "[]"))
    assert "at least 1" in found["grid.policies.placement"]


def test_seed_and_horizon_cannot_be_swept_through_the_grid(tmp_path):
    text = GOOD + "set:\n  horizon: 1d\n"
    text = text.replace("grid:\n", "grid:\n  seed: [1, 2]\n")
    found = problems(tmp_path, text)
    assert "use seeds:" in found["grid.seed"]
    assert "use horizon:" in found["set.horizon"]


def test_a_value_repeated_in_a_grid_list_is_named(tmp_path):
    found = problems(tmp_path, GOOD.replace("lowest_carbon]", "lowest_carbon, 'least_loaded']"))
    assert "repeats the value least_loaded" in found["grid.policies.placement[2]"]


def test_zip_lists_of_unequal_lengths_name_both_paths(tmp_path):
    text = GOOD + "zip:\n  sites.north.power_mw: [0.2, 0.3]\n  sites.south.power_mw: [0.1]\n"
    found = problems(tmp_path, text)
    message = found["zip.sites.south.power_mw"]
    assert "1 values" in message and "zip.sites.north.power_mw has 2" in message


def test_every_bad_grid_value_is_reported_with_its_index_before_anything_runs(tmp_path):
    text = GOOD.replace("lowest_carbon]", "lowest_carbon, greenest]")
    text = text.replace("grid:\n", "grid:\n  sites[0].power_mw: [0.2, -1]\n")
    found = problems(tmp_path, text)
    assert "must be > 0" in found["grid.sites[0].power_mw[1]"]
    assert "unknown placement 'greenest'" in found["grid.policies.placement[2]"]
    assert len(found) == 2  # each bad value once, however many combinations it is in


def test_a_grid_path_that_does_not_exist_is_reported_at_its_value(tmp_path):
    found = problems(tmp_path, GOOD + "zip:\n  sites.nowhere.power_mw: [1, 2]\n")
    assert "no item with id 'nowhere'" in found["zip.sites.nowhere.power_mw[0]"]


def test_a_bad_fixed_override_is_reported_at_its_set_path(tmp_path):
    found = problems(tmp_path, GOOD + "set:\n  telemetry.interval: -5\n")
    assert "-5: " in found["set.telemetry.interval"]
    found = problems(tmp_path, GOOD + "set:\n  sites.nowhere.pue: 1.2\n")
    assert "no item with id 'nowhere'" in found["set.sites.nowhere.pue"]


def test_an_unknown_metric_gets_a_did_you_mean(tmp_path):
    found = problems(tmp_path, GOOD.replace("[co2_t]", '[co2_t, "jobs.wait_p95_s[tenant=startp]"]'))
    assert "did you mean 'startup'" in found["metrics[1]"]


def test_values_are_written_as_one_line_of_yaml_that_reads_back():
    import yaml

    for value in ["lowest_carbon", 64, 0.5, True, "1", [1, 2], {"a": "b c"}, None]:
        text = yaml_text(value)
        assert "\n" not in text and yaml.safe_load(text) == value


def test_the_cli_reports_a_bad_sweep_file_with_exit_2_and_no_traceback(tmp_path):
    path = write(tmp_path, GOOD.replace("lowest_carbon]", "greenest]"))
    result = CliRunner().invoke(main, ["sweep", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "grid.policies.placement[1]" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_the_command_reports_a_folder_that_is_not_a_sweep_and_a_missing_summary(tmp_path):
    path = write(tmp_path, GOOD)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    for args in (["sweep", str(path), "--out", str(busy)], ["sweep", "--summary", str(busy)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
        assert "not a sweep directory" in result.output
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
