"""Scenario configuration: schema, loading, overlays, built-in scenarios, JSON Schema."""

from twin.config.data_files import data_file
from twin.config.errors import ConfigError, ConfigIssue, TwinUserError
from twin.config.loader import (
    builtin_scenarios,
    builtin_whatifs,
    load_config,
    load_raw,
    scenario_to_yaml,
)
from twin.config.schema import Scenario
from twin.config.validate import validate_scenario


def json_schema() -> dict:
    """The JSON Schema of a scenario file, for editors that validate YAML."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "twin scenario"
    return schema


__all__ = [
    "ConfigError",
    "ConfigIssue",
    "Scenario",
    "TwinUserError",
    "builtin_scenarios",
    "builtin_whatifs",
    "data_file",
    "json_schema",
    "load_config",
    "load_raw",
    "scenario_to_yaml",
    "validate_scenario",
]
