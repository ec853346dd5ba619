"""Running a sizing search on Dask: each value the search asks for is a configuration of a
sweep (every seed a point in the catalogue, as ``twin sweep`` runs them), and the values run
are written as the sweep's results (``DIR/sweep.arrow``, one configuration per value) next to
the answer (``DIR/size.json``)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from twin.analysis.measure import json_safe
from twin.config import ConfigError, ConfigIssue
from twin.config.yaml_input import DEFAULT_LIMITS, InputLimits
from twin.sweep.catalogue import Catalogue
from twin.sweep.execute import PointResult, Progress, run_points
from twin.sweep.points import Sweep, expand
from twin.sweep.results import write_results
from twin.sweep.size_spec import SizeSpec
from twin.sweep.sizing import Evidence, SizeAnswer, Value, evidence_at, search

ANSWER = "size.json"


class SizeRun:
    """One sizing search: its spec, where its points go, and every result so far."""

    def __init__(
        self,
        spec: SizeSpec,
        catalogue: Catalogue,
        client: Any,
        checks: Sequence[Any] = (),
        limits: InputLimits = DEFAULT_LIMITS,
        progress: Progress | None = None,
    ) -> None:
        self.spec = spec
        self.catalogue = catalogue
        self.client = client
        self.checks = checks
        self.limits = limits
        self.progress = progress
        self.results: dict[str, PointResult] = {}

    def plan(self, values: Sequence[Value]) -> Sweep:
        """The sweep of ``values`` (one configuration each); ConfigError naming the value
        that gives an invalid scenario, at ``range`` (the search's values come from it)."""
        grid = ((self.spec.parameter, tuple(values)),)
        try:
            return expand(replace(self.spec.sweep, grid=grid), self.checks, self.limits)
        except ConfigError as error:
            issues = [_in_size_file(issue, self.spec) for issue in error.issues]
            raise ConfigError(issues, self.spec.sweep.source) from None

    def evaluate(self, values: Sequence[Value]) -> dict[Value, Evidence]:
        """Run every seed at each of ``values``; the evidence per value."""
        plan = self.plan(values)
        self.results.update(
            run_points(plan.points, self.client, self.catalogue, plan.spec.metrics, self.progress)
        )
        evidence = {}
        for configuration, value in zip(plan.configurations, values, strict=True):
            points = [p for p in plan.points if p.config.id == configuration.id]
            complete = [self.results[p.key] for p in points]
            complete = [r for r in complete if r.status == "complete"]
            metric_values = {
                name: [r.metrics.get(name, math.nan) for r in complete]
                for name in plan.spec.metrics
            }
            evidence[value] = evidence_at(self.spec, value, metric_values, len(points))
        return evidence

    def run(self, out: Path) -> SizeAnswer:
        """Check both ends of the range, search, and write the results into ``out``."""
        self.plan([self.spec.value(self.spec.low), self.spec.value(self.spec.high)])
        answer = search(self.spec, self.evaluate)
        values = [e.value for e in answer.evidence]
        write_results(out, self.plan(values), self.catalogue, self.results)
        (out / ANSWER).write_text(json.dumps(answer_data(self.spec, answer), indent=2) + "\n")
        return answer


def _in_size_file(issue: ConfigIssue, spec: SizeSpec) -> ConfigIssue:
    """A problem found in the sweep of the search, at its place in the sizing file: a value
    tried is in the range, a metric in a target or the metrics."""
    if issue.path.startswith("grid."):
        return ConfigIssue("range", f"{spec.parameter} = {issue.message}")
    if issue.path.startswith("configuration ("):  # only the parameter differs between them
        return ConfigIssue("range", issue.message)
    match = re.fullmatch(r"metrics\[(\d+)\]", issue.path)
    if match is not None and int(match[1]) < len(spec.metric_places):
        return ConfigIssue(spec.metric_places[int(match[1])], issue.message)
    return issue


def answer_data(spec: SizeSpec, answer: SizeAnswer) -> dict[str, Any]:
    """The answer as plain (strict JSON) data: what ``size.json`` holds."""
    return json_safe(
        {
            "parameter": spec.parameter,
            "range": [spec.value(spec.low), spec.value(spec.high)],
            "targets": [str(t) for t in spec.targets],
            "confidence": spec.confidence,
            "seeds": list(spec.sweep.seeds),
            "answer": answer.answer,
            "bracket": list(answer.bracket),
            "warnings": answer.warnings,
            "evidence": [
                {
                    "value": e.value,
                    "feasible": e.feasible,
                    "points": e.points,
                    "complete": e.complete,
                    "holds": e.holds,
                    "metrics": {
                        name: {**asdict(i), "low": i.low, "high": i.high}
                        for name, i in e.intervals.items()
                    },
                }
                for e in answer.evidence
            ],
        }
    )
