"""Turn raw config data into a :class:`Scenario`, reporting every problem with its path.

Pydantic checks types and ranges; :func:`cross_check` then checks what refers to what (pool
types, link endpoints, tenant names, site ids). Both kinds of problem come back as
:class:`ConfigIssue` with paths such as ``sites[3].power_mw``.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from twin.config.budget import check_budget
from twin.config.errors import ConfigError, ConfigIssue, shorten
from twin.config.grid_checks import power_schedule_issues
from twin.config.raw_checks import check_distribution, dicts, known
from twin.config.schema import Scenario
from twin.config.units import parse_duration_s
from twin.config.validate_access import check_access
from twin.config.validate_disaggregation import check_disaggregation
from twin.config.validate_faults import check_faults
from twin.config.validate_lengths import check_lengths
from twin.config.validate_requests import check_request_source, traced
from twin.config.yaml_input import DEFAULT_LIMITS, InputLimits

_DISTRIBUTION_TAGS = {"constant", "exponential", "lognormal", "uniform", "choice", "empirical"}


Check = Callable[[dict[str, Any]], list[ConfigIssue]]
"""An extra check of raw config data (e.g. that policy names exist in the model's registries)."""


def validate_scenario(
    data: Any,
    source: str = "",
    checks: Sequence[Check] = (),
    limits: InputLimits = DEFAULT_LIMITS,
) -> Scenario:
    """Validate raw data (as loaded from YAML) into a Scenario, or raise ConfigError.

    Type and range problems, cross-reference problems and those of ``checks`` are reported
    together, each with its path; then the size of the run it asks for is checked against
    :mod:`twin.config.budget` (scaled by ``limits.work_scale``).
    """
    if not isinstance(data, dict):
        raise ConfigError(
            [ConfigIssue("(top level)", f"expected a mapping, got {shorten(data)}")], source
        )
    issues: list[ConfigIssue] = []
    scenario = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        issues += _issues_from_pydantic(error)
    issues += cross_check(data)
    for check in checks:
        issues += check(data)
    if scenario is not None and not issues:
        issues += _check_scenario(scenario)
        issues += check_budget(scenario, limits.work_scale)
    if issues or scenario is None:
        raise ConfigError(_unique(issues), source)
    return scenario


def _check_scenario(scenario: Scenario) -> list[ConfigIssue]:
    """Relations between validated values that one field's range cannot say, and whether
    each inference trace can be read and drive its service (before any run starts)."""
    issues = power_schedule_issues(scenario)
    inference = scenario.workloads.inference
    if inference is not None and any(service.trace for service in inference.services):
        from twin.replay.requests import request_trace_issues  # pyarrow: only then

        issues += request_trace_issues(scenario)
    for name, spec in scenario.accelerators.items():
        if spec.idle_w is not None and spec.idle_w > spec.tdp_w:
            issues.append(
                ConfigIssue(
                    f"accelerators.{name}.idle_w",
                    f"must not exceed tdp_w ({spec.tdp_w:g} W), got {spec.idle_w:g} W",
                )
            )
    return issues


def format_path(loc: tuple[Any, ...]) -> str:
    """``('sites', 3, 'power_mw')`` → ``sites[3].power_mw``."""
    text = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            name = str(part) if len(str(part)) <= 60 else str(part)[:59] + "…"
            text += f".{name}" if text else name
    return text


# ---------------------------------------------------------------- pydantic errors


def _issues_from_pydantic(error: ValidationError) -> list[ConfigIssue]:
    """One issue per wrong field; a value that fits no member of a union (a number or 24
    hourly values, say) gives one issue listing what each member expected."""
    by_path: dict[str, list[ConfigIssue]] = {}
    for detail in error.errors(include_url=False):
        issue = _issue_from_pydantic(detail)
        by_path.setdefault(issue.path, []).append(issue)
    issues = []
    for path, found in by_path.items():
        if len(found) > 1 and all(", got " in issue.message for issue in found):
            expected = [issue.message.rsplit(", got ", 1)[0] for issue in found]
            given = found[0].message.rsplit(", got ", 1)[1]
            issues.append(ConfigIssue(path, f"{' or '.join(dict.fromkeys(expected))}, got {given}"))
        else:
            issues += found
    return issues


def _issue_from_pydantic(detail: Any) -> ConfigIssue:
    loc = tuple(part for part in detail["loc"] if not _is_union_tag(part))
    path = format_path(loc) or "(top level)"
    kind = detail["type"]
    ctx = detail.get("ctx", {})
    given = shorten(detail.get("input"))
    if kind == "extra_forbidden":
        return ConfigIssue(path, _unknown_key_message(loc))
    if kind == "missing":
        return ConfigIssue(path, "required, but missing")
    comparisons = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}
    comparisons["less_than_equal"] = "<="
    if kind in comparisons:
        bound = next(iter(ctx.values()))
        bound = f"{bound:g}" if isinstance(bound, (int, float)) else bound
        return ConfigIssue(path, f"must be {comparisons[kind]} {bound}, got {given}")
    if kind == "union_tag_invalid":
        return ConfigIssue(
            path, f"unknown dist {shorten(ctx.get('tag'))}; expected one of {_tags()}"
        )
    if kind == "union_tag_not_found":
        return ConfigIssue(path, f"a distribution needs 'dist', one of {_tags()}")
    if kind == "value_error":
        return ConfigIssue(path, str(detail["msg"]).removeprefix("Value error, "))
    return ConfigIssue(path, f"{_lower_first(detail['msg'])}, got {given}")


def _is_union_tag(part: Any) -> bool:
    """Pydantic puts the chosen union member in the location; users never wrote it."""
    return isinstance(part, str) and (
        part in _DISTRIBUTION_TAGS
        or part in ("roofline", "calibrated")
        or part in ("float", "int", "str", "bool", "datetime", "none")
        or part.startswith(("list[", "dict[", "constrained-", "function-", "form-"))
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
# These walk the raw data defensively, so they run even when pydantic found other problems
# and every mistake of a config is reported in one go.


def cross_check(data: dict[str, Any]) -> list[ConfigIssue]:
    """Every reference in the raw scenario points at something that exists; ids are unique."""
    issues: list[ConfigIssue] = []
    sites = dicts(data.get("sites"))
    pops = dicts(data.get("pops"))
    site_ids = [str(site.get("id")) for _, site in sites]
    node_ids = site_ids + [str(pop.get("id")) for _, pop in pops]
    for node_id, count in Counter(node_ids).items():
        if count > 1:
            issues.append(ConfigIssue("sites", f"id {node_id!r} is used {count} times"))
    catalogue = (
        list(data.get("accelerators") or {}) if isinstance(data.get("accelerators"), dict) else []
    )
    for i, site in sites:
        for j, pool in dicts(site.get("pools")):
            kind = pool.get("accelerator")
            if kind is not None and kind not in catalogue:
                issues.append(
                    ConfigIssue(
                        f"sites[{i}].pools[{j}].accelerator",
                        f"unknown accelerator {kind!r}; {known(catalogue)}",
                    )
                )
    seen_ends: dict[tuple[str, str], int] = {}
    for i, link in dicts(data.get("links")):
        for end in ("a", "b"):
            node = link.get(end)
            if node is not None and str(node) not in node_ids:
                issues.append(
                    ConfigIssue(f"links[{i}].{end}", f"unknown node {node!r}; {known(node_ids)}")
                )
        if link.get("a") is not None and link.get("a") == link.get("b"):
            issues.append(ConfigIssue(f"links[{i}]", f"a link from {link['a']!r} to itself"))
        a, b = str(link.get("a")), str(link.get("b"))
        directions = [(a, b)] if link.get("directed") is True else [(a, b), (b, a)]
        clash = next((seen_ends[d] for d in directions if d in seen_ends), None)
        if clash is not None:
            issues.append(
                ConfigIssue(
                    f"links[{i}]",
                    f"a second link from {a!r} to {b!r} (links[{clash}]); "
                    "give one link their total capacity",
                )
            )
        for direction in directions:
            seen_ends.setdefault(direction, i)
        issues += _check_link_options(i, link)
    workloads = data.get("workloads")
    training = workloads.get("training") if isinstance(workloads, dict) else None
    if isinstance(training, dict):
        tenants = list(data["tenants"]) if isinstance(data.get("tenants"), dict) else []
        issues += _check_training(training, tenants, site_ids, catalogue)
    inference = workloads.get("inference") if isinstance(workloads, dict) else None
    if isinstance(inference, dict):
        issues += _check_inference(inference, site_ids, catalogue)
    transfers = workloads.get("transfers") if isinstance(workloads, dict) else None
    if isinstance(transfers, dict):
        issues += _check_transfers(transfers, site_ids, bool(dicts(data.get("links"))))
    issues += _check_interval(data)
    issues += check_faults(data, sites, catalogue)
    issues += check_access(data, site_ids)
    return issues


def _check_link_options(i: int, link: dict[str, Any]) -> list[ConfigIssue]:
    """A half-duplex link is not directed; a capacity schedule is in order of time."""
    issues = []
    if link.get("duplex") is False and link.get("directed") is True:
        issues.append(
            ConfigIssue(
                f"links[{i}].duplex",
                "a directed link has one direction: duplex false (both directions sharing "
                "one channel) needs directed false",
            )
        )
    previous: float | None = None
    for j, step in dicts(link.get("capacity_schedule")):
        try:
            at = parse_duration_s(step.get("at"))
        except (TypeError, ValueError):
            continue
        if previous is not None and at <= previous:
            issues.append(
                ConfigIssue(
                    f"links[{i}].capacity_schedule[{j}].at",
                    f"steps must be in increasing order of at: {at:g} s comes after {previous:g} s",
                )
            )
        previous = at
    return issues


def _check_interval(data: dict[str, Any]) -> list[ConfigIssue]:
    telemetry = data.get("telemetry")
    if not isinstance(telemetry, dict) or "interval" not in telemetry:
        return []
    try:
        interval = parse_duration_s(telemetry["interval"])
        horizon = parse_duration_s(data.get("horizon", 7 * 86400.0))
    except ValueError:
        return []
    if interval > horizon:  # either may be the one to change: say it at both
        return [
            ConfigIssue(
                "telemetry.interval",
                f"must not exceed the horizon ({horizon:g} s), got {interval:g} s",
            ),
            ConfigIssue(
                "horizon",
                f"must be at least the telemetry interval ({interval:g} s), got {horizon:g} s",
            ),
        ]
    return []


def _check_training(
    training: dict[str, Any], tenants: list[str], site_ids: list[str], catalogue: list[str]
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    base = "workloads.training"
    references = (("tenant_mix", tenants, "tenant class"), ("dataset_origins", site_ids, "site"))
    for key, names, what in references:
        mapping = training.get(key)
        for name in mapping if isinstance(mapping, dict) else ():
            if name not in names:
                issues.append(
                    ConfigIssue(f"{base}.{key}.{name}", f"unknown {what}; {known(names)}")
                )
    kinds = training.get("accelerator_types")
    for k, kind in enumerate(kinds if isinstance(kinds, list) else []):
        if kind not in catalogue:
            issues.append(
                ConfigIssue(
                    f"{base}.accelerator_types[{k}]",
                    f"unknown accelerator {kind!r}; {known(catalogue)}",
                )
            )
    for name in ("accelerators", "duration_s", "dataset_gb", "patience_s", "checkpoint_gb"):
        dist = training.get(name)
        if isinstance(dist, dict):
            issues += check_distribution(f"{base}.{name}", dist)
    if (training.get("checkpoint_gb") is None) != (training.get("checkpoint_interval") is None):
        issues.append(
            ConfigIssue(
                f"{base}.checkpoint_interval",
                "checkpoint_gb and checkpoint_interval go together: give both or neither",
            )
        )
    if training.get("checkpoint_write_gbps") is not None and training.get("checkpoint_gb") is None:
        issues.append(
            ConfigIssue(
                f"{base}.checkpoint_write_gbps",
                "a checkpoint write bandwidth needs checkpoints: give checkpoint_gb and "
                "checkpoint_interval too",
            )
        )
    if (
        training.get("checkpoint_interval") == "young_daly"
        and training.get("checkpoint_write_gbps") is None
    ):
        issues.append(
            ConfigIssue(
                f"{base}.checkpoint_interval",
                "young_daly needs the checkpoint's cost: give checkpoint_write_gbps (the "
                "storage bandwidth a checkpoint is written at)",
            )
        )
    return issues


def _check_transfers(
    transfers: dict[str, Any], site_ids: list[str], has_links: bool
) -> list[ConfigIssue]:
    base = "workloads.transfers"
    issues = []
    if not has_links:
        issues.append(ConfigIssue(base, "bulk transfers need a network: define links"))
    for key in ("sources", "destinations"):
        mapping = transfers.get(key)
        for name in mapping if isinstance(mapping, dict) else ():
            if name not in site_ids:
                issues.append(
                    ConfigIssue(f"{base}.{key}.{name}", f"unknown site; {known(site_ids)}")
                )
    if isinstance(transfers.get("size_gb"), dict):
        issues += check_distribution(f"{base}.size_gb", transfers["size_gb"])
    return issues


def _check_inference(
    inference: dict[str, Any], site_ids: list[str], catalogue: list[str]
) -> list[ConfigIssue]:
    base = "workloads.inference"
    issues: list[ConfigIssue] = []
    regions = dicts(inference.get("regions"))
    region_ids = [str(r.get("id")) for _, r in regions]
    for region_id, count in Counter(str(r.get("id")) for _, r in regions).items():
        if count > 1:
            issues.append(ConfigIssue(f"{base}.regions", f"id {region_id!r} is used {count} times"))
    if len(regions) > 255:
        issues.append(ConfigIssue(f"{base}.regions", f"at most 255 regions, got {len(regions)}"))
    diurnal = inference.get("diurnal")
    if (
        isinstance(diurnal, list)
        and diurnal
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in diurnal)
        and not any(v > 0 for v in diurnal)
    ):
        issues.append(
            ConfigIssue(
                f"{base}.diurnal",
                "must not be all zero: expected relative demand weights with at least one "
                "hour > 0 (omit it for the default profile)",
            )
        )
    services = dicts(inference.get("services"))
    for service_id, count in Counter(str(s.get("id")) for _, s in services).items():
        if count > 1:
            issues.append(
                ConfigIssue(f"{base}.services", f"id {service_id!r} is used {count} times")
            )
    for i, service in services:
        path = f"{base}.services[{i}]"
        replicas = service.get("replicas")
        for site_id in replicas if isinstance(replicas, dict) else ():
            if site_id not in site_ids:
                issues.append(
                    ConfigIssue(f"{path}.replicas.{site_id}", f"unknown site; {known(site_ids)}")
                )
        kinds = service.get("accelerator_types")
        for k, kind in enumerate(kinds if isinstance(kinds, list) else []):
            if kind not in catalogue:
                issues.append(
                    ConfigIssue(
                        f"{path}.accelerator_types[{k}]",
                        f"unknown accelerator {kind!r}; {known(catalogue)}",
                    )
                )
        if not replicas and not isinstance(service.get("autoscale"), dict):
            issues.append(
                ConfigIssue(
                    f"{path}.replicas", "a service needs replicas at some site, or autoscale"
                )
            )
        kind = service.get("kind")
        issues += check_request_source(path, service, region_ids, inference.get("fidelity"))
        issues += check_lengths(path, service)
        issues += check_disaggregation(
            path, service, site_ids, catalogue, inference.get("fidelity")
        )
        slo = service.get("slo") if isinstance(service.get("slo"), dict) else {}
        if kind == "single":
            if service.get("service_s") is None and not traced(service):
                issues.append(ConfigIssue(f"{path}.service_s", "required for kind single"))
            if "ttft_s" in slo or "tpot_s" in slo:
                issues.append(
                    ConfigIssue(f"{path}.slo", "kind single has latency_s, not ttft_s/tpot_s")
                )
        if kind == "llm":
            for key in ("prompt_tokens", "output_tokens"):
                if service.get(key) is None and not traced(service):
                    issues.append(ConfigIssue(f"{path}.{key}", "required for kind llm"))
            iteration = (
                service.get("iteration") if isinstance(service.get("iteration"), dict) else {}
            )
            if iteration.get("model", "roofline") == "roofline" and service.get("model") is None:
                issues.append(
                    ConfigIssue(
                        f"{path}.model", "required for kind llm with the roofline iteration model"
                    )
                )
            if (
                iteration.get("model") == "profile"
                and iteration.get("kv_capacity_tokens") is None
                and service.get("model") is None
            ):
                issues.append(
                    ConfigIssue(
                        f"{path}.iteration.kv_capacity_tokens",
                        "required with the profile iteration model when the service has no "
                        "model (its weights and KV bytes per token give the default)",
                    )
                )
            if "latency_s" in slo:
                issues.append(
                    ConfigIssue(f"{path}.slo", "kind llm has ttft_s/tpot_s, not latency_s")
                )
            paged = service.get("kv_admission") == "paged"
            if paged and service.get("preemption") == "swap" and service.get("model") is None:
                issues.append(
                    ConfigIssue(
                        f"{path}.preemption",
                        "swap needs the service's model (its kv_bytes_per_token: the bytes "
                        "moved per token)",
                    )
                )
            max_queue = service.get("max_queue")
            if isinstance(max_queue, int) and not isinstance(max_queue, bool) and max_queue == 0:
                issues.append(
                    ConfigIssue(
                        f"{path}.max_queue",
                        "must be >= 1 for kind llm (every request waits for the next iteration "
                        "boundary, so 0 would drop them all), or omitted for no limit",
                    )
                )
            budget, batch = service.get("token_budget", 512), service.get("max_batch", 64)
            if (
                service.get("scheduler", "sarathi") == "sarathi"
                and isinstance(budget, int)
                and isinstance(batch, int)
                and budget < batch
            ):
                issues.append(
                    ConfigIssue(
                        f"{path}.token_budget",
                        f"sarathi needs token_budget >= max_batch ({batch}), got {budget}",
                    )
                )
        for key in ("service_s", "prompt_tokens", "output_tokens"):
            if isinstance(service.get(key), dict):
                issues += check_distribution(f"{path}.{key}", service[key])
    return issues
