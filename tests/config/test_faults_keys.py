"""Mistakes in ``faults:`` (and the checkpoint keys it works with) through ``twin validate``:
exit code 2, the field's path, no traceback; a correct section passes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import builtin_scenarios

TINY = yaml.safe_load(builtin_scenarios()["tiny"].read_text())  # sites north (FI), south (IT)

GOOD_FAULTS = {
    "accelerators": {
        "rate_per_hour": 2e-5,
        "by_type": {"A100": 3e-5},
        "spare_share": 0.02,
        "repair": {"dist": "lognormal", "median": 86400, "sigma": 0.5},
    },
    "sites": {
        "scheduled": [
            {"site": "north", "start": "2d", "duration": "6h"},
            {"country": "IT", "start": "2026-03-02T18:00:00Z", "duration": 3600},
        ],
        "random": [
            {"sites": ["south"], "mtbf": "30d", "mttr": {"dist": "constant", "value": 7200}}
        ],
        "queued": "wait",
    },
    "restart_overhead": "10m",
    "seed_offset": 4,
}


def validate(tmp_path, faults: Any = None, training: dict[str, Any] | None = None):
    data = copy.deepcopy(TINY)
    if faults is not None:
        data["faults"] = faults
    if training is not None:
        data["workloads"]["training"].update(training)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return CliRunner().invoke(main, ["validate", str(path)])


def with_change(path: list, value: Any) -> dict[str, Any]:
    faults = copy.deepcopy(GOOD_FAULTS)
    node = faults
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return faults


def test_a_correct_faults_section_passes(tmp_path) -> None:
    result = validate(
        tmp_path,
        GOOD_FAULTS,
        {
            "checkpoint_gb": {"dist": "constant", "value": 100},
            "checkpoint_interval": "young_daly",
            "checkpoint_write_gbps": 5,
        },
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("path", "value", "where", "says"),
    [
        (["sites", "scheduled", 0, "site"], "nowhere", "faults.sites.scheduled[0].site", "nowhere"),
        (["sites", "scheduled", 1, "country"], "DE", "faults.sites.scheduled[1].country", "DE"),
        (
            ["sites", "scheduled", 0],
            {"site": "north", "country": "FI", "start": 0, "duration": 60},
            "faults.sites.scheduled[0]",
            "one",
        ),
        (["sites", "scheduled", 0, "duration"], 0, "faults.sites.scheduled[0].duration", "> 0"),
        (["sites", "scheduled", 0, "start"], "soon", "faults.sites.scheduled[0].start", "soon"),
        (
            ["sites", "random", 0, "sites"],
            ["south", "east"],
            "faults.sites.random[0].sites[1]",
            "unknown site 'east'",
        ),
        (["sites", "queued"], "drop", "faults.sites.queued", "drop"),
        (
            ["accelerators", "by_type", "B200"],
            1e-5,
            "faults.accelerators.by_type.B200",
            "unknown accelerator",
        ),
        (["accelerators", "rate_per_hour"], 2.0, "faults.accelerators.rate_per_hour", ""),
        (["accelerators", "spare_share"], -0.1, "faults.accelerators.spare_share", ""),
        (
            ["accelerators", "repair"],
            {"dist": "uniform", "low": 5, "high": 1},
            "faults.accelerators.repair.high",
            ">= low",
        ),
        (["accelerators", "mtbf"], 5, "faults.accelerators.mtbf", "unknown key"),
        (
            ["links"],
            {"scheduled": [{"link": "a~b", "start": 0, "duration": 60}]},
            "faults.links",
            "links",
        ),
    ],
)
def test_a_faults_mistake_exits_2_with_its_field_path(tmp_path, path, value, where, says) -> None:
    result = validate(tmp_path, with_change(path, value))
    assert result.exit_code == 2, result.output
    assert where in result.output and says in result.output
    assert "Traceback" not in result.output


def test_young_daly_needs_the_checkpoint_write_bandwidth(tmp_path) -> None:
    result = validate(
        tmp_path,
        GOOD_FAULTS,
        {"checkpoint_gb": {"dist": "constant", "value": 100}, "checkpoint_interval": "young_daly"},
    )
    assert result.exit_code == 2, result.output
    assert "workloads.training.checkpoint_interval" in result.output
    assert "checkpoint_write_gbps" in result.output


def test_every_mistake_is_listed_at_once(tmp_path) -> None:
    faults = with_change(["sites", "scheduled", 0, "site"], "nowhere")
    faults["accelerators"]["by_type"] = {"TPU": 1e-5}
    result = validate(tmp_path, faults, {"checkpoint_interval": "30s"})
    assert result.exit_code == 2
    for expected in (
        "faults.sites.scheduled[0].site",
        "faults.accelerators.by_type.TPU",
        "workloads.training.checkpoint_interval",
    ):
        assert expected in result.output
