"""Turn raw config data into a :class:`Scenario`, reporting every problem with its path.

Pydantic checks types and ranges; :func:`cross_check` then checks what refers to what (pool
types, link endpoints, tenant names, site ids). Both kinds of problem come back as
:class:`ConfigIssue` with paths such as ``sites[3].power_mw``.
"""

from __future__ import annotations

import difflib
from collections import Counter
from typing import Any

from pydantic import BaseModel, ValidationError

from twin.config.errors import ConfigError, ConfigIssue
from twin.config.schema import Scenario

_DISTRIBUTION_TAGS = {"constant", "exponential", "lognormal", "uniform", "choice", "empirical"}


def validate_scenario(data: Any, source: str = "") -> Scenario:
    """Validate raw data (as loaded from YAML) into a Scenario, or raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue("", f"expected a mapping at the top level, got {data!r}")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        issues = [_issue_from_pydantic(detail) for detail in error.errors()]
        raise ConfigError(_unique(issues), source) from None
    issues = cross_check(scenario)
    if issues:
        raise ConfigError(issues, source)
    return scenario


def format_path(loc: tuple[Any, ...]) -> str:
    """``('sites', 3, 'power_mw')`` → ``sites[3].power_mw``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


# ---------------------------------------------------------------- pydantic errors


def _issue_from_pydantic(detail: dict[str, Any]) -> ConfigIssue:
    loc = tuple(part for part in detail["loc"] if not _is_union_tag(part))
    path = format_path(loc)
    kind = detail["type"]
    ctx = detail.get("ctx", {})
    given = detail.get("input")
    if kind == "extra_forbidden":
        return ConfigIssue(path, _unknown_key_message(loc))
    if kind == "missing":
        return ConfigIssue(path, "required, but missing")
    comparisons = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}
    comparisons["less_than_equal"] = "<="
    if kind in comparisons:
        bound = next(iter(ctx.values()))
        bound = f"{bound:g}" if isinstance(bound, (int, float)) else bound
        return ConfigIssue(path, f"must be {comparisons[kind]} {bound}, got {given!r}")
    if kind == "union_tag_invalid":
        return ConfigIssue(path, f"unknown dist {ctx.get('tag')!r}; expected one of {_tags()}")
    if kind == "union_tag_not_found":
        return ConfigIssue(path, f"a distribution needs 'dist', one of {_tags()}")
    return ConfigIssue(path, f"{_lower_first(detail['msg'])}, got {given!r}")


def _is_union_tag(part: Any) -> bool:
    """Pydantic puts the chosen union member in the location; users never wrote it."""
    return isinstance(part, str) and (
        part in _DISTRIBUTION_TAGS or part.startswith(("float", "list[", "constrained-"))
    )


def _tags() -> str:
    return ", ".join(sorted(_DISTRIBUTION_TAGS))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _unknown_key_message(loc: tuple[Any, ...]) -> str:
    key = str(loc[-1])
    allowed = _fields_at(loc[:-1])
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (allowed: {', '.join(allowed)})"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found by walking ``loc`` from Scenario (best effort)."""
    model: type[BaseModel] | None = Scenario
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        model = _model_in(field.annotation) if field else None
    return list(model.model_fields) if model else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _unique(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    seen: dict[tuple[str, str], ConfigIssue] = {}
    for issue in issues:
        seen.setdefault((issue.path, issue.message), issue)
    return list(seen.values())


# ---------------------------------------------------------------- cross references


def cross_check(scenario: Scenario) -> list[ConfigIssue]:
    """Every reference in the scenario points at something that exists, and ids are unique."""
    issues: list[ConfigIssue] = []
    site_ids = [site.id for site in scenario.sites]
    node_ids = site_ids + [pop.id for pop in scenario.pops]
    for node_id, count in Counter(node_ids).items():
        if count > 1:
            issues.append(ConfigIssue("sites", f"id {node_id!r} is used {count} times"))
    catalogue = list(scenario.accelerators)
    for i, site in enumerate(scenario.sites):
        for j, pool in enumerate(site.pools):
            if pool.accelerator not in scenario.accelerators:
                issues.append(
                    ConfigIssue(
                        f"sites[{i}].pools[{j}].accelerator",
                        f"unknown accelerator {pool.accelerator!r}; {_known(catalogue)}",
                    )
                )
    for i, link in enumerate(scenario.links):
        for end in ("a", "b"):
            node = getattr(link, end)
            if node not in node_ids:
                issues.append(
                    ConfigIssue(f"links[{i}].{end}", f"unknown node {node!r}; {_known(node_ids)}")
                )
        if link.a == link.b:
            issues.append(ConfigIssue(f"links[{i}]", f"a link from {link.a!r} to itself"))
    training = scenario.workloads.training
    if training is not None:
        issues += _check_training(scenario, training, site_ids, catalogue)
    if scenario.telemetry.interval > scenario.horizon:
        issues.append(
            ConfigIssue(
                "telemetry.interval",
                f"must not exceed the horizon ({scenario.horizon:g} s), "
                f"got {scenario.telemetry.interval:g} s",
            )
        )
    return issues


def _check_training(
    scenario: Scenario, training: Any, site_ids: list[str], catalogue: list[str]
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    base = "workloads.training"
    for tenant in training.tenant_mix or {}:
        if tenant not in scenario.tenants:
            issues.append(
                ConfigIssue(
                    f"{base}.tenant_mix.{tenant}",
                    f"unknown tenant class; {_known(list(scenario.tenants))}",
                )
            )
    for site_id in training.dataset_origins or {}:
        if site_id not in site_ids:
            issues.append(
                ConfigIssue(f"{base}.dataset_origins.{site_id}", f"unknown site; {_known(site_ids)}")
            )
    for k, kind in enumerate(training.accelerator_types or []):
        if kind not in catalogue:
            issues.append(
                ConfigIssue(
                    f"{base}.accelerator_types[{k}]",
                    f"unknown accelerator {kind!r}; {_known(catalogue)}",
                )
            )
    for name in ("accelerators", "duration_s", "dataset_gb", "patience_s"):
        dist = getattr(training, name)
        if dist is None:
            continue
        issues += _check_distribution(f"{base}.{name}", dist)
    return issues


def _check_distribution(path: str, dist: Any) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    if dist.dist == "uniform" and dist.high < dist.low:
        issues.append(ConfigIssue(f"{path}.high", f"must be >= low ({dist.low}), got {dist.high}"))
    if dist.dist == "choice" and dist.weights is not None:
        if len(dist.weights) != len(dist.values):
            issues.append(
                ConfigIssue(
                    f"{path}.weights",
                    f"must have one weight per value ({len(dist.values)}), "
                    f"got {len(dist.weights)}",
                )
            )
        elif sum(dist.weights) <= 0:
            issues.append(ConfigIssue(f"{path}.weights", "must not all be zero"))
    if dist.min is not None and dist.max is not None and dist.max < dist.min:
        issues.append(ConfigIssue(f"{path}.max", f"must be >= min ({dist.min}), got {dist.max}"))
    return issues


def _known(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit]) + (", …" if len(names) > limit else "")
    return f"known: {shown}" if names else "none are defined"
