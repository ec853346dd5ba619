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


def json_schema(whatif: bool = False) -> dict:
    """The JSON Schema of a scenario file, for editors that validate YAML; with ``whatif``,
    of a what-if overlay: a partial scenario (no key required, and the items of keyed lists,
    matched by ``id`` or by a link's ``a``/``b``, may say ``remove: true``)."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "twin scenario"
    if whatif:
        _partial(schema)
        schema["title"] = "twin what-if"
        schema["description"] = "A what-if overlay: a partial twin scenario, merged over one."
    return schema


def _partial(node: object) -> None:
    """Make every object schema under ``node`` optional throughout, in place."""
    if isinstance(node, list):
        for item in node:
            _partial(item)
        return
    if not isinstance(node, dict):
        return
    node.pop("required", None)
    properties = node.get("properties")
    if isinstance(properties, dict) and ("id" in properties or {"a", "b"} <= properties.keys()):
        properties["remove"] = {
            "type": "boolean",
            "description": "true: remove this item (matched by id, or a link by its ends)",
        }
    for value in node.values():
        _partial(value)


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
