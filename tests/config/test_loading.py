"""Loading scenarios: built-ins, overlays, --set paths, and errors that name their field."""

from __future__ import annotations

import pytest
import yaml

from twin.config import (
    ConfigError,
    TwinUserError,
    builtin_scenarios,
    builtin_whatifs,
    json_schema,
    load_config,
    load_raw,
)
from twin.config.loader import apply_assignment, merge_overlay, parse_set_path
from twin.config.units import parse_duration_s
from twin.model.world import check_policies


def test_builtin_scenarios_are_valid():
    assert {"europe", "tiny"} <= set(builtin_scenarios())
    for name in builtin_scenarios():
        scenario = load_config(name, checks=[check_policies])
        assert scenario.name == name


@pytest.mark.parametrize("whatif", sorted(builtin_whatifs()))
def test_builtin_whatifs_apply_to_europe(whatif):
    base = load_config("europe")
    changed = load_config("europe", whatifs=[whatif], checks=[check_policies])
    assert changed.model_dump() != base.model_dump()


def test_gigafactory_whatif_adds_a_site_and_keeps_the_rest():
    base = load_config("europe")
    changed = load_config("europe", whatifs=["gigafactory_france"])
    assert len(changed.sites) == len(base.sites) + 1
    added = {s.id for s in changed.sites} - {s.id for s in base.sites}
    (site,) = [s for s in changed.sites if s.id in added]
    assert site.country == "FR" and site.power_mw >= 1000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * 86400), ("12h", 43200), ("30m", 1800), ("90s", 90), (3600, 3600), ("1.5h", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("bad", ["7x", "", "d", True, None, [1]])
def test_bad_durations(bad):
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(bad)


def test_set_paths():
    assert parse_set_path("sites[3].pools[0].count") == ["sites", 3, "pools", 0, "count"]
    assert parse_set_path("sites.jupiter.power_mw") == ["sites", "jupiter", "power_mw"]
    assert parse_set_path("sites[jupiter].pue") == ["sites", "jupiter", "pue"]


def test_set_by_index_by_id_and_values_read_as_yaml():
    data = {"sites": [{"id": "a", "pue": 1.1}, {"id": "b", "pue": 1.2}], "policies": {}}
    data = apply_assignment(data, "sites[1].pue=1.5")
    data = apply_assignment(data, "sites.a.pue=1.3")
    data = apply_assignment(data, "policies.placement=lowest_carbon")
    data = apply_assignment(data, "sites[a].tags=[x, y]")
    assert data["sites"][0]["pue"] == 1.3 and data["sites"][1]["pue"] == 1.5
    assert data["policies"]["placement"] == "lowest_carbon"
    assert data["sites"][0]["tags"] == ["x", "y"]


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("sites[9].pue=1", "out of range"),
        ("sites.nowhere.pue=1", "no item with id 'nowhere'"),
        ("policies", "PATH=VALUE"),
        ("name.first=x", "is a value"),
    ],
)
def test_bad_set_paths_are_user_errors(assignment, message):
    data = {"name": "x", "sites": [{"id": "a"}], "policies": {}}
    with pytest.raises(TwinUserError, match=message):
        apply_assignment(data, assignment)


def test_overlay_merges_by_id_and_link_ends_and_removes():
    base = {
        "sites": [{"id": "a", "pue": 1.1, "lat": 1}, {"id": "b", "pue": 1.2}],
        "links": [{"a": "a", "b": "b", "capacity_gbps": 100}],
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
    }
    overlay = {
        "sites": [{"id": "a", "pue": 1.5}, {"id": "b", "remove": True}, {"id": "c", "pue": 1.0}],
        "links": [{"a": "a", "b": "b", "capacity_gbps": 400}],
        "policies": {"placement": "lowest_cost"},
    }
    merged = merge_overlay(base, overlay)
    assert merged["sites"] == [{"id": "a", "pue": 1.5, "lat": 1}, {"id": "c", "pue": 1.0}]
    assert merged["links"] == [{"a": "a", "b": "b", "capacity_gbps": 400}]
    assert merged["policies"] == {"scheduler": "fcfs", "placement": "lowest_cost"}
    assert base["sites"][0]["pue"] == 1.1, "the base must not be modified"


def test_command_line_overrides_win_over_whatifs():
    raw = load_raw("europe", ["green_placement"], ["policies.placement=lowest_cost"])
    assert raw["policies"]["placement"] == "lowest_cost"


def test_ten_mistakes_are_all_reported_with_their_paths(tmp_path):
    data = yaml.safe_load((builtin_scenarios()["tiny"]).read_text())
    data["horizon"] = "banana"  # 1
    data["sites"][0]["power_mw"] = -5  # 2
    data["sites"][1]["lat"] = 100  # 3
    data["sites"][1]["colour"] = "red"  # 4
    data["sites"][0]["pools"][0]["accelerator"] = "X100"  # 5
    data["tenants"]["academia"]["share"] = 0  # 6
    data["workloads"]["training"]["duration_s"] = {"dist": "weibull", "shape": 2}  # 7
    data["workloads"]["training"]["accelerators"]["weights"] = [1, 2]  # 8
    data["links"] = [{"a": "north", "b": "nowhere", "capacity_gbps": 100}]  # 9
    data["policies"]["scheduler"] = "sjf"  # 10
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path, checks=[check_policies])
    paths = {issue.path for issue in caught.value.issues}
    assert paths >= {
        "horizon",
        "sites[0].power_mw",
        "sites[1].lat",
        "sites[1].colour",
        "sites[0].pools[0].accelerator",
        "tenants.academia.share",
        "workloads.training.duration_s",
        "workloads.training.accelerators.weights",
        "links[0].b",
        "policies.scheduler",
    }
    text = str(caught.value)
    assert "sites[0].power_mw: must be > 0, got -5" in text
    assert "unknown key" in text and "colour" in text


def test_unknown_key_suggests_the_close_one():
    data = yaml.safe_load((builtin_scenarios()["tiny"]).read_text())
    data["telemetry"] = {"intervall": "5m"}
    from twin.config import validate_scenario

    with pytest.raises(ConfigError, match="did you mean 'interval'"):
        validate_scenario(data)


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nsites: [\n  {id: a\n")
    with pytest.raises(TwinUserError, match="line"):
        load_config(path)


def test_missing_empirical_file_is_reported(tmp_path):
    data = yaml.safe_load((builtin_scenarios()["tiny"]).read_text())
    data["workloads"]["training"]["duration_s"] = {"dist": "empirical", "file": "nope.csv"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"workloads\.training\.duration_s\.file: no such file"):
        load_config(path)


def test_relative_empirical_file_is_found_next_to_the_config(tmp_path):
    (tmp_path / "runtimes.csv").write_text("runtime\n10\n20\n")
    data = yaml.safe_load((builtin_scenarios()["tiny"]).read_text())
    data["workloads"]["training"]["duration_s"] = {"dist": "empirical", "file": "runtimes.csv"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    scenario = load_config(path)
    assert scenario.workloads.training.duration_s.file == str(tmp_path / "runtimes.csv")


def test_json_schema_describes_the_scenario():
    schema = json_schema()
    assert schema["title"] == "twin scenario"
    assert {"sites", "accelerators", "workloads", "policies"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False


def test_parallel_links_are_refused_but_opposite_directed_links_are_fine(tmp_path):
    data = yaml.safe_load((builtin_scenarios()["tiny"]).read_text())
    data["links"] = [
        {"a": "north", "b": "south", "capacity_gbps": 100},
        {"a": "south", "b": "north", "capacity_gbps": 10},
    ]
    from twin.config import validate_scenario

    with pytest.raises(ConfigError, match=r"links\[1\]: a second link from 'south' to 'north'"):
        validate_scenario(data)
    data["links"] = [
        {"a": "north", "b": "south", "capacity_gbps": 100, "directed": True},
        {"a": "south", "b": "north", "capacity_gbps": 10, "directed": True},
    ]
    assert len(validate_scenario(data).links) == 2
