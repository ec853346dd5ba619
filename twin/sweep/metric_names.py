"""Metric names of a sweep or sizing file checked against its scenario: every service,
tenant, site and region a name mentions must exist there (with the path of the name)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from twin.analysis.metrics import MetricError, MetricRef, parse_metric
from twin.config.errors import ConfigError, ConfigIssue


def entities(scenario: Any) -> dict[str, set[str]]:
    """The ids a metric of ``scenario`` may name, per selector key (and ``service``)."""
    inference = scenario.workloads.inference
    return {
        "tenant": set(scenario.tenants),
        "site": {site.id for site in scenario.sites},
        "kind": {"dataset", "checkpoint", "bulk"},
        "service": {s.id for s in inference.services} if inference is not None else set(),
        "region": {r.id for r in inference.regions} if inference is not None else set(),
    }


def check_metric_names(
    names: Sequence[Any], scenario: Any, path: str = "metrics"
) -> list[MetricRef]:
    """Resolve ``names`` for runs of ``scenario``: ConfigError listing every unknown metric,
    service, tenant, site or region with its path (``metrics[2]``) and a did-you-mean."""
    known = entities(scenario)
    issues: list[ConfigIssue] = []
    refs = []
    for index, name in enumerate(names):
        where = f"{path}[{index}]"
        try:
            ref = parse_metric(name)
        except MetricError as error:
            issues.append(ConfigIssue(where, str(error)))
            continue
        wanted = [("service", ref.service)] if ref.service is not None else []
        wanted += [ref.selector] if ref.selector is not None else []
        for key, value in wanted:
            if value not in known[key]:
                close = difflib.get_close_matches(value, sorted(known[key]), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                choices = ", ".join(sorted(known[key])[:12]) or "none in this scenario"
                issues.append(ConfigIssue(where, f"no {key} {value!r}{hint}; {key}s: {choices}"))
                break
        else:
            refs.append(ref)
    if issues:
        raise ConfigError(issues)
    return refs
