"""Metrics of groups of runs side by side with the baseline (the first group), with error bars.

Each group's value is its mean over seeds ± a Student-t interval. The difference from the
baseline is estimated seed by seed over the seeds both groups have (twin's named random
streams make runs with the same seed share their arrivals and draws: common random numbers),
or, when they share fewer than two seeds, as the difference of independent means (Welch). A
difference is *distinguishable from noise* when its interval excludes zero; it is then better
or worse by the metric's direction (fewer completed jobs is worse, less CO2 better), never by
its sign alone.

Runs that differ in horizon, start or twin version, or that did not complete, are refused
unless ``force`` is given; then every affected row carries the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twin.analysis.config_diff import Change, config_diff, run_config
from twin.analysis.groups import CompareError, Group
from twin.analysis.honesty import Issue, find_issues
from twin.analysis.measure import json_safe
from twin.analysis.metrics import MetricRef, parse_metric
from twin.analysis.stats import (
    CONFIDENCE,
    Interval,
    mean_interval,
    paired_difference,
    welch_difference,
)

HEADLINE = (
    "jobs.completed",
    "jobs.wait_mean_s",
    "jobs.wait_p95_s",
    "energy_mwh",
    "co2_t",
    "cost_eur",
)
"""The default metrics (with each inference service's SLO attainment)."""
JOB_METRICS = ("jobs.completed", "jobs.wait_mean_s", "jobs.wait_p95_s")

BETTER, WORSE, DIFFERENT, NOISE = "better", "worse", "different", "noise"
ONE_SEED = "1 seed: cannot tell noise"
UNDEFINED = "n/a"
PAIRED, UNPAIRED, NO_INTERVAL = "paired", "unpaired", "none"


@dataclass(frozen=True)
class Delta:
    """One group against the baseline on one metric."""

    group: int
    value: Interval
    """The group's mean ± interval over all its seeds."""
    delta: Interval
    """Group − baseline: paired over common seeds (``delta.n`` pairs) or Welch."""
    relative: float
    """``delta.mean`` as a fraction of the baseline mean (NaN if that is 0 or unknown)."""
    method: str
    mark: str
    warnings: tuple[str, ...] = ()

    @property
    def distinguishable(self) -> bool:
        return self.mark in (BETTER, WORSE, DIFFERENT)


@dataclass(frozen=True)
class Row:
    """One metric: the baseline and each other group."""

    metric: MetricRef
    baseline: Interval
    deltas: tuple[Delta, ...]
    warnings: tuple[str, ...] = ()
    """Issues of the baseline alone (when there is no other group)."""


@dataclass(frozen=True)
class Comparison:
    """Every metric of every group against the baseline."""

    groups: tuple[Group, ...]
    rows: tuple[Row, ...]
    confidence: float
    issues: tuple[Issue, ...]
    """What the honesty checks found (only with ``force``: otherwise compare refuses)."""
    notes: tuple[str, ...]
    """How each group is paired with the baseline, where it is not over all seeds."""
    changes: tuple[tuple[Change, ...], ...] = ()
    """Per group, what its config changes against the baseline's (first runs; the
    baseline's own entry is empty)."""

    def to_json(self) -> dict[str, Any]:
        """The comparison as strict-JSON-ready data (NaN as None)."""
        groups = [
            {
                "name": g.name,
                "baseline": i == 0,
                "seeds": g.seeds,
                "runs": [m.name for m in g.members],
                "changes": [c.to_json() for c in self.changes[i]] if self.changes else [],
            }
            for i, g in enumerate(self.groups)
        ]
        rows = [
            {
                "metric": row.metric.name,
                "unit": row.metric.unit,
                "better": row.metric.better,
                "baseline": _interval(row.baseline),
                "warnings": list(row.warnings),
                "comparisons": [
                    {
                        "group": self.groups[d.group].name,
                        "value": _interval(d.value),
                        "delta": _interval(d.delta),
                        "delta_relative": d.relative,
                        "method": d.method,
                        "pairs": d.delta.n if d.method == PAIRED else 0,
                        "mark": d.mark,
                        "distinguishable": d.distinguishable,
                        "warnings": list(d.warnings),
                    }
                    for d in row.deltas
                ],
            }
            for row in self.rows
        ]
        data = {
            "confidence": self.confidence,
            "groups": groups,
            "warnings": [issue.message for issue in self.issues],
            "notes": list(self.notes),
            "metrics": rows,
        }
        return json_safe(data)


def compare(
    groups: Sequence[Group],
    names: Sequence[str] | None = None,
    confidence: float = CONFIDENCE,
    force: bool = False,
) -> Comparison:
    """Compare ``groups`` (the first is the baseline) on the metrics ``names`` (default:
    :func:`headline_names`). CompareError if the honesty checks find an issue and not
    ``force``; MetricError for an unknown metric name."""
    if not groups:
        raise CompareError("nothing to compare: give at least one run, folder or sweep")
    if not 0 < confidence < 1:
        raise CompareError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")
    issues = find_issues(groups)
    if issues and not force:
        listed = "\n".join(f"  - {issue.message}" for issue in issues)
        raise CompareError(
            f"refusing to compare runs that differ or did not complete:\n{listed}\n"
            "compare anyway with --force (every affected row is then marked)"
        )
    refs = [parse_metric(name) for name in (names or headline_names(groups))]
    values = [group.values([ref.name for ref in refs]) for group in groups]
    rows = []
    for ref in refs:
        base = values[0][ref.name]
        deltas = tuple(
            _delta(ref, index, base, values[index][ref.name], confidence, issues)
            for index in range(1, len(groups))
        )
        alone = tuple(i.message for i in issues if i.groups == {0}) if not deltas else ()
        rows.append(Row(ref, mean_interval(list(base.values()), confidence), deltas, alone))
    return Comparison(
        tuple(groups),
        tuple(rows),
        confidence,
        tuple(issues),
        tuple(_pairing_notes(groups)),
        _changes(groups),
    )


def _changes(groups: Sequence[Group]) -> tuple[tuple[Change, ...], ...]:
    """What each group's config changes against the baseline's (their first runs)."""
    base = run_config(groups[0].members[0].path) if groups[0].members else {}
    return tuple(
        ()
        if index == 0 or not group.members
        else tuple(config_diff(base, run_config(group.members[0].path)))
        for index, group in enumerate(groups)
    )


def headline_names(groups: Sequence[Group]) -> list[str]:
    """The default metrics: jobs (if any run had training jobs), waits, energy, CO2 and cost,
    and each inference service's SLO attainment."""
    members = [m for g in groups for m in g.members]
    names = [n for n in HEADLINE if n not in JOB_METRICS or any(m.has_jobs for m in members)]
    services = dict.fromkeys(s for m in members for s in m.services)
    return names + [f"inference.{service}.slo_attainment" for service in services]


def _delta(
    ref: MetricRef,
    index: int,
    base: dict[int, float],
    other: dict[int, float],
    confidence: float,
    issues: Sequence[Issue],
) -> Delta:
    """Group ``index`` against the baseline: paired over the seeds both have a value for
    (two at least), else Welch (two values a side at least), else no interval."""
    value = mean_interval(list(other.values()), confidence)
    a, b = _finite(base), _finite(other)
    if len(set(a) & set(b)) >= 2:
        method, delta = PAIRED, paired_difference(a, b, confidence)
    elif len(a) >= 2 and len(b) >= 2:
        method, delta = UNPAIRED, welch_difference(list(a.values()), list(b.values()), confidence)
    else:
        method = NO_INTERVAL
        delta = Interval(value.mean - mean_interval(list(a.values())).mean, math.nan, 1, confidence)
    baseline_mean = mean_interval(list(a.values())).mean
    relative = delta.mean / abs(baseline_mean) if baseline_mean else math.nan
    warnings = tuple(issue.message for issue in issues if issue.affects(index))
    return Delta(index, value, delta, relative, method, _mark(ref, delta, method), warnings)


def _finite(values: dict[int, float]) -> dict[int, float]:
    return {seed: v for seed, v in values.items() if v is not None and math.isfinite(v)}


def _mark(ref: MetricRef, delta: Interval, method: str) -> str:
    """better / worse (by the metric's direction), different (no direction), noise."""
    if math.isnan(delta.mean):
        return UNDEFINED
    if method == NO_INTERVAL:
        return ONE_SEED
    if not delta.excludes_zero:
        return NOISE
    if ref.better is None:
        return DIFFERENT
    return BETTER if (delta.mean > 0) == (ref.better == "higher") else WORSE


def _pairing_notes(groups: Sequence[Group]) -> list[str]:
    """What to know about how each group pairs with the baseline, where not over all seeds."""
    base = set(groups[0].seeds)
    notes = []
    for group in groups[1:]:
        seeds = set(group.seeds)
        common = base & seeds
        if len(common) < 2 and len(base) >= 2 and len(seeds) >= 2:
            notes.append(
                f"{group.name} shares {len(common) or 'no'} seed{'s' if len(common) != 1 else ''}"
                f" with {groups[0].name}: pairing is impossible, so its differences are "
                "unpaired (Welch) intervals, wider than paired ones"
            )
        elif len(common) >= 2 and (common != base or common != seeds):
            notes.append(
                f"{group.name} is paired with {groups[0].name} over the {len(common)} seeds "
                f"both have ({len(base)} and {len(seeds)} in all)"
            )
        elif len(base) < 2 or len(seeds) < 2:
            notes.append(
                f"{group.name} vs {groups[0].name}: a group of 1 seed has no spread to "
                "estimate: differences cannot be told from noise (run more seeds)"
            )
    return notes


def _interval(interval: Interval) -> dict[str, float]:
    return {
        "mean": interval.mean,
        "half_width": interval.half_width,
        "low": interval.low,
        "high": interval.high,
        "n": interval.n,
    }
