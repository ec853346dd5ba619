"""Expanding a sweep: the documented order of configurations and points, and content
addresses (the same run, whatever asks for it, is the same point)."""

from __future__ import annotations

import textwrap

from twin.config import load_config
from twin.simulation import config_hash
from twin.sweep.catalogue import Catalogue
from twin.sweep.points import config_id, expand, point_key
from twin.sweep.spec import read_sweep

SWEEP = """\
scenario: tiny
horizon: 2h
grid:
  policies.placement: [least_loaded, lowest_carbon]
  policies.scheduler: [fcfs, easy_backfill, fair_share]
zip:
  sites.north.power_mw: [0.2, 0.4]
  sites.south.power_mw: [0.15, 0.3]
seeds: [5, 2]
metrics: [co2_t]
"""


def sweep_of(tmp_path, text=SWEEP, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return expand(read_sweep(path))


def test_configurations_are_the_grid_product_then_the_zip_the_last_axis_fastest(tmp_path):
    sweep = sweep_of(tmp_path)
    assert len(sweep.configurations) == 2 * 3 * 2
    first, second, third = (dict(c.params) for c in sweep.configurations[:3])
    assert first == {
        "policies.placement": "least_loaded",
        "policies.scheduler": "fcfs",
        "sites.north.power_mw": 0.2,
        "sites.south.power_mw": 0.15,
    }
    assert second["sites.north.power_mw"] == 0.4 and second["sites.south.power_mw"] == 0.3
    assert third["policies.scheduler"] == "easy_backfill"
    assert dict(sweep.configurations[6].params)["policies.placement"] == "lowest_carbon"
    assert first == dict(zip(sweep.spec.params, first.values(), strict=True))


def test_points_are_each_configuration_with_the_seeds_in_the_order_given(tmp_path):
    sweep = sweep_of(tmp_path)
    assert len(sweep.points) == 12 * 2
    assert [p.seed for p in sweep.points[:4]] == [5, 2, 5, 2]
    assert sweep.points[0].config is sweep.points[1].config
    assert all(p.scenario.seed == p.seed for p in sweep.points)
    assert len({p.key for p in sweep.points}) == len(sweep.points)


def test_a_configuration_is_the_scenario_with_its_overrides_applied(tmp_path):
    config = sweep_of(tmp_path).configurations[1]
    assert config.scenario.policies.placement == "least_loaded"
    assert [s.power_mw for s in config.scenario.sites] == [0.4, 0.3]
    assert config.scenario.horizon == 2 * 3600
    assert config.label == (
        "policies.placement=least_loaded, policies.scheduler=fcfs, "
        "sites.north.power_mw=0.4, sites.south.power_mw=0.3"
    )


def test_the_point_address_is_the_resolved_run_so_equal_runs_share_a_point(tmp_path):
    sweep = sweep_of(tmp_path)
    point = sweep.points[0]
    direct = load_config(
        "tiny",
        overrides=[
            "horizon=2h",
            "policies.placement=least_loaded",
            "policies.scheduler=fcfs",
            "sites[0].power_mw=0.2",
            "sites[1].power_mw=0.15",
            "seed=5",
        ],
    )
    assert config_hash(point.scenario) == config_hash(direct)
    assert point_key(direct, 5) == point.key
    assert point_key(direct, 6) != point.key


def test_a_whatif_that_changes_nothing_gives_the_same_points(tmp_path):
    (tmp_path / "same.yaml").write_text("policies: {placement: least_loaded}\n")
    plain = "scenario: tiny\nhorizon: 2h\nseeds: 2\nmetrics: [co2_t]\n"
    with_whatif = plain + "whatifs: [same.yaml]\n"
    a = sweep_of(tmp_path, plain, "a.yaml")
    b = sweep_of(tmp_path, with_whatif, "b.yaml")
    assert [p.key for p in a.points] == [p.key for p in b.points]
    assert a.configurations[0].label == "base"
    catalogue = Catalogue(tmp_path / "points")
    assert catalogue.run_dir(a.points[0]) == catalogue.run_dir(b.points[0])


def test_two_grid_values_that_resolve_to_the_same_run_share_a_point(tmp_path):
    text = "scenario: tiny\nhorizon: 2h\ngrid:\n  telemetry.interval: [10m, 600, 20m]\n"
    sweep = sweep_of(tmp_path, text + "seeds: 2\nmetrics: [co2_t]\n")
    keys = [p.key for p in sweep.points]
    assert len({c.id for c in sweep.configurations}) == 3
    assert keys[:2] == keys[2:4] and len(set(keys)) == 4  # 10m and 600 s: the same runs


def test_the_configuration_id_depends_on_the_assignments_only():
    a = config_id([("policies.placement", "lowest_carbon")])
    assert a == config_id((("policies.placement", "lowest_carbon"),))
    assert a != config_id([("policies.placement", "least_loaded")])
    assert config_id([]) != a
