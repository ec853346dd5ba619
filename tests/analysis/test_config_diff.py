"""The config diff a comparison shows: the changed paths of two resolved configs, keyed
lists matched by id (or a link's ends) not position, seeds left out, and `twin compare`
printing what a what-if changed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from twin.analysis.config_diff import ABSENT, config_diff, describe
from twin.cli import main


def test_keyed_lists_are_matched_by_id_and_every_change_is_named():
    before = {
        "seed": 1,
        "horizon": 86400,
        "sites": [{"id": "a", "power_mw": 10}, {"id": "b", "power_mw": 5}],
        "links": [{"a": "a", "b": "b", "capacity_gbps": 100}],
        "policies": {"placement": "least_loaded"},
        "tenants": {"lab": {"share": 1.0}},
    }
    after = {
        "seed": 2,
        "horizon": 86400,
        "sites": [{"id": "b", "power_mw": 5}, {"id": "a", "power_mw": 12}, {"id": "c"}],
        "links": [{"a": "a", "b": "b", "capacity_gbps": 400}],
        "policies": {"placement": "lowest_carbon", "start": "carbon_aware"},
        "tenants": {"lab": {"share": 1.0}},
    }
    changes = {c.path: (c.before, c.after) for c in config_diff(before, after)}
    assert changes == {
        "sites.a.power_mw": (10, 12),
        "sites.c": (ABSENT, {}),
        "links.a-b.capacity_gbps": (100, 400),
        "policies.placement": ("least_loaded", "lowest_carbon"),
        "policies.start": (ABSENT, "carbon_aware"),
    }
    assert config_diff(before, before) == []
    assert describe(config_diff(before, after)[0]) == "sites.a.power_mw: 10 → 12"


def test_compare_prints_what_the_what_if_changed(tmp_path):
    runner = CliRunner()
    base, green = tmp_path / "base", tmp_path / "green"
    assert (
        runner.invoke(main, ["run", "tiny", "-q", "-o", str(base), "--horizon", "3h"]).exit_code
        == 0
    )
    args = ["run", "tiny", "-q", "-o", str(green), "--horizon", "3h", "--whatif", "green_placement"]
    assert runner.invoke(main, args).exit_code == 0
    result = runner.invoke(main, ["compare", str(base), str(green)])
    assert "changes 1 config value(s)" in result.output
    assert "policies.placement: least_loaded → lowest_carbon" in result.output
    data = json.loads(runner.invoke(main, ["compare", str(base), str(green), "--json"]).output)
    assert data["groups"][0]["changes"] == []
    assert data["groups"][1]["changes"] == [
        {"path": "policies.placement", "before": "least_loaded", "after": "lowest_carbon"}
    ]
    same = runner.invoke(main, ["compare", str(base), str(base)])
    assert "the same config as the baseline" in same.output
