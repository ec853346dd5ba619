"""A sweep's configurations and points, each resolved to a validated scenario up front.

Order (stable, and the row order of ``sweep.arrow``): configurations are the cartesian
product of the grid's paths in file order, the zip's tuples making one more axis after them;
the last axis varies fastest. Points are each configuration's seeds in the order given.

A point's content address hashes the resolved config (``config_hash``, the seed included),
the seed and the twin version: two sweeps (or a what-if that changes nothing) asking for the
same run get the same point. A configuration's id hashes its parameter assignments alone.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twin.config import ConfigError, ConfigIssue, Scenario, TwinUserError, load_config
from twin.config.errors import shorten
from twin.config.loader import parse_set_path
from twin.config.validate import format_path
from twin.config.yaml_input import DEFAULT_LIMITS, InputLimits
from twin.simulation import config_hash
from twin.sweep.metric_names import check_metric_names
from twin.sweep.spec import SweepSpec, assignment, yaml_text
from twin.version import __version__

POINT_HASH_CHARS = 16
CONFIG_HASH_CHARS = 12


@dataclass(frozen=True)
class Configuration:
    """One combination of the swept parameters, resolved (seed as in the base scenario)."""

    id: str
    label: str
    params: tuple[tuple[str, Any], ...]
    """Override path → value, in the table's column order."""
    scenario: Scenario


@dataclass(frozen=True)
class Point:
    """One run of a sweep: a configuration with a seed."""

    key: str
    """The content address (the point's folder in the catalogue)."""
    config: Configuration
    seed: int
    scenario: Scenario
    """The configuration's scenario with this seed: what the point simulates."""


@dataclass(frozen=True)
class Sweep:
    """A sweep file expanded: every configuration and point, in order."""

    spec: SweepSpec
    configurations: tuple[Configuration, ...]
    points: tuple[Point, ...]


def expand(
    spec: SweepSpec, checks: Sequence[Any] = (), limits: InputLimits = DEFAULT_LIMITS
) -> Sweep:
    """Resolve every configuration of ``spec`` (``checks`` as for ``load_config``) and its
    points; ConfigError listing every grid or zip value that gives an invalid scenario (with
    its path, e.g. ``grid.policies.placement[1]``) and every unknown metric, before any run."""
    try:
        base = _load(spec, [], checks, limits)
    except TwinUserError as error:  # the scenario, a what-if or a fixed override
        places = [f"set.{path}" for path, _ in spec.sets]
        raise ConfigError(_attribute(error, spec.sets, places), spec.source) from None
    try:
        check_metric_names(spec.metrics, base, "metrics")
    except ConfigError as error:
        raise ConfigError(error.issues, spec.source) from None
    configurations, issues = [], []
    for params, places in combinations(spec):
        try:
            scenario = _load(spec, params, checks, limits)
        except TwinUserError as error:
            issues += _attribute(error, params, places)
            continue
        configurations.append(Configuration(config_id(params), label(params), params, scenario))
    if issues:
        raise ConfigError(list(dict.fromkeys(issues)), spec.source)
    points = [
        Point(point_key(c.scenario, seed), c, seed, with_seed(c.scenario, seed))
        for c in configurations
        for seed in spec.seeds
    ]
    return Sweep(spec, tuple(configurations), tuple(points))


def combinations(
    spec: SweepSpec,
) -> list[tuple[tuple[tuple[str, Any], ...], tuple[str, ...]]]:
    """Each configuration's parameters, with the sweep-file place of each value
    (``grid.policies.placement[1]``), in the documented order."""
    axes: list[list[tuple[tuple[tuple[str, Any], str], ...]]] = [
        [(((path, value), f"grid.{path}[{i}]"),) for i, value in enumerate(values)]
        for path, values in spec.grid
    ]
    if spec.zipped:
        length = len(spec.zipped[0][1])
        axes.append(
            [
                tuple(((path, values[i]), f"zip.{path}[{i}]") for path, values in spec.zipped)
                for i in range(length)
            ]
        )
    result = []
    for choice in itertools.product(*axes):
        flat = [item for group in choice for item in group]
        result.append((tuple(p for p, _ in flat), tuple(w for _, w in flat)))
    return result


def config_id(params: Sequence[tuple[str, Any]]) -> str:
    """The id of a configuration: a hash of its assignments (``path=value`` texts)."""
    text = json.dumps([assignment(path, value) for path, value in params])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:CONFIG_HASH_CHARS]


def label(params: Sequence[tuple[str, Any]]) -> str:
    """``policies.placement=lowest_carbon, policies.scheduler=fcfs``, or ``base``."""
    return ", ".join(f"{path}={yaml_text(value)}" for path, value in params) or "base"


def point_key(scenario: Scenario, seed: int) -> str:
    """The content address of a run of ``scenario`` with ``seed`` by this twin version."""
    resolved = config_hash(with_seed(scenario, seed))
    text = f"{resolved}\n{seed}\n{__version__}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:POINT_HASH_CHARS]


def with_seed(scenario: Scenario, seed: int) -> Scenario:
    """``scenario`` with another seed (the seed changes nothing a validation checks)."""
    return scenario.model_copy(update={"seed": seed})


def _load(
    spec: SweepSpec,
    params: Sequence[tuple[str, Any]],
    checks: Sequence[Any],
    limits: InputLimits,
) -> Scenario:
    overrides = spec.base_overrides() + [assignment(path, value) for path, value in params]
    return load_config(spec.scenario, spec.whatifs, overrides, checks, limits)


def _attribute(
    error: TwinUserError, params: Sequence[tuple[str, Any]], places: Sequence[str]
) -> list[ConfigIssue]:
    """The problems of one configuration, each at the sweep-file place of the value it is
    about (its override path, or the ``--set`` of that value), else at the configuration."""
    found = error.issues if isinstance(error, ConfigError) else [ConfigIssue("", str(error))]
    issues = []
    for issue in found:
        for (path, value), place in zip(params, places, strict=True):
            prefix = format_path(tuple(parse_set_path(path)))
            text = str(issue)
            if issue.path == prefix or issue.path.startswith((prefix + ".", prefix + "[")):
                issues.append(ConfigIssue(place, f"{yaml_text(value)}: {issue.message}"))
                break
            head = f"--set {shorten(assignment(path, value))}: "
            if text.startswith(head):
                issues.append(ConfigIssue(place, f"{yaml_text(value)}: {text.removeprefix(head)}"))
                break
        else:
            issues.append(ConfigIssue(f"configuration ({label(params)})", str(issue)))
    return issues
