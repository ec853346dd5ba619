"""The exported JSON Schemas accept every shipped file (scenarios against the scenario
schema, what-ifs against the what-if schema, checked with jsonschema) and still catch typos."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from twin.config import builtin_scenarios, builtin_whatifs, json_schema

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def as_an_editor_reads(data):
    """YAML 1.2 (what editors validate) has no date type: dates are strings."""
    if isinstance(data, dict):
        return {key: as_an_editor_reads(value) for key, value in data.items()}
    if isinstance(data, list):
        return [as_an_editor_reads(value) for value in data]
    if isinstance(data, (dt.date, dt.datetime)):
        return data.isoformat()
    return data


def validator(whatif: bool) -> jsonschema.Draft202012Validator:
    schema = json_schema(whatif=whatif)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(whatif: bool, data) -> list[str]:
    return [error.message for error in validator(whatif).iter_errors(as_an_editor_reads(data))]


@pytest.mark.parametrize("name", sorted(builtin_whatifs()))
def test_every_shipped_what_if_validates_against_the_what_if_schema(name):
    data = yaml.safe_load(builtin_whatifs()[name].read_text())
    assert errors(True, data) == []
    assert errors(False, data) != []  # a partial scenario is not a scenario


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_validates_against_the_scenario_schema(path):
    assert path.stem in builtin_scenarios()
    assert errors(False, yaml.safe_load(path.read_text())) == []


def test_the_what_if_schema_still_catches_typos_and_wrong_types():
    assert errors(True, {"sites": [{"id": "jupiter", "pwer_mw": 3}]})
    assert errors(True, {"policies": {"start": 3}})
    assert errors(True, {"links": [{"a": "x", "b": "y", "remove": "yes"}]})
    assert not errors(True, {"links": [{"a": "x", "b": "y", "remove": True}]})


def test_twin_schema_whatif_prints_the_what_if_schema(tmp_path):
    out = tmp_path / "whatif.schema.json"
    result = subprocess.run(
        [sys.executable, "-m", "twin", "schema", "--whatif", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text()) == json_schema(whatif=True)
