"""Mistakes in ``access:`` through ``twin validate``: exit code 2, the field's path, no
traceback; a correct section passes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import builtin_scenarios

TINY = yaml.safe_load(
    builtin_scenarios()["tiny"].read_text()
)  # tenants academia, industry, startup

GOOD_ACCESS = {
    "list_price_eur_per_accelerator_hour": 2.5,
    "programmes": {
        "startups": {
            "tenants": ["startup"],
            "reserved_share": 0.15,
            "reclaim": "preempt",
            "reclaim_within": "1h",
            "priority": 1,
            "quota": {"accelerator_hours": 5000, "period": "7d", "overflow": "low_priority"},
            "price_eur_per_accelerator_hour": 0.0,
        },
        "science": {"tenants": ["academia"], "reserved_share": 0.3, "sites": ["north"]},
    },
}


def validate(tmp_path, access: Any) -> Any:
    data = copy.deepcopy(TINY)
    data["access"] = access
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return CliRunner().invoke(main, ["validate", str(path)])


def with_change(path: list, value: Any) -> dict[str, Any]:
    access = copy.deepcopy(GOOD_ACCESS)
    node = access
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return access


def test_a_correct_access_section_passes(tmp_path) -> None:
    result = validate(tmp_path, GOOD_ACCESS)
    assert result.exit_code == 0, result.output


P = "access.programmes"


@pytest.mark.parametrize(
    ("path", "value", "where", "says"),
    [
        (["programmes", "startups", "tenants", 0], "sme", f"{P}.startups.tenants[0]", "'sme'"),
        (
            ["programmes", "science", "tenants"],
            ["academia", "startup"],
            f"{P}.startups.tenants[0]",  # the file lists science first (sorted keys)
            "already covered by programme 'science'",
        ),
        (["programmes", "science", "sites", 0], "east", f"{P}.science.sites[0]", "'east'"),
        (["programmes", "science", "reserved_share"], 0.9, P, "reserve 105% of site 'north'"),
        (["programmes", "startups", "reserved_share"], 1.5, f"{P}.startups.reserved_share", ""),
        (["programmes", "startups", "reclaim"], "kill", f"{P}.startups.reclaim", "preempt"),
        (["programmes", "startups", "reclaim_within"], "soon", f"{P}.startups.reclaim_within", ""),
        (
            ["programmes", "startups", "quota", "overflow"],
            "drop",
            f"{P}.startups.quota.overflow",
            "low_priority",
        ),
        (
            ["programmes", "startups", "quota", "accelerator_hours"],
            0,
            f"{P}.startups.quota.accelerator_hours",
            "> 0",
        ),
        (
            ["programmes", "startups", "price_eur_per_accelerator_hour"],
            -1,
            f"{P}.startups.price_eur_per_accelerator_hour",
            ">= 0",
        ),
        (["programmes", "startups", "share"], 0.1, f"{P}.startups.share", "unknown key"),
        (["policy"], "lottery", "access.policy", "reserve"),
    ],
)
def test_an_access_mistake_exits_2_with_its_field_path(tmp_path, path, value, where, says):
    result = validate(tmp_path, with_change(path, value))
    assert result.exit_code == 2, result.output
    assert where in result.output and says in result.output
    assert "Traceback" not in result.output
