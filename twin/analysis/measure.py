"""Metric values of a run directory, from its trace alone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twin.analysis.metrics import METRICS, SERVICE, MetricRef, parse_metric
from twin.trace.reader import Run, open_run
from twin.trace.summary import Summary, summarize


def measure(run: Run | str | Path, names: Sequence[str] | None = None) -> dict[str, float]:
    """The metrics ``names`` of ``run`` (default: every metric without a selector, for each
    of its inference services); NaN where a metric is not defined in this run. MetricError
    for an unknown name, RunError for an unreadable run."""
    opened = run if isinstance(run, Run) else open_run(run)
    return measure_summary(summarize(opened), names)


def measure_summary(summary: Summary, names: Sequence[str] | None = None) -> dict[str, float]:
    """:func:`measure` from a summary already computed."""
    refs = [parse_metric(n) for n in names] if names is not None else default_refs(summary)
    return {ref.name: ref.value(summary) for ref in refs}


def default_refs(summary: Summary) -> list[MetricRef]:
    """Every family without a selector; inference families once per service of the run."""
    names: list[str] = []
    for family in METRICS:
        if family.startswith("inference."):
            continue
        if family.startswith(("network.", "transfers.")) and not summary.transfer_totals:
            continue
        names.append(family)
    for row in summary.services:
        names += [
            family.replace(SERVICE, row["service"])
            for family in METRICS
            if family.startswith("inference.") and not _regional(family)
        ]
    return [parse_metric(name) for name in names]


def _regional(family: str) -> bool:
    """Families defined per region only."""
    return family.endswith(".rtt_ms")


def json_safe(data: Any) -> Any:
    """``data`` with NaN and infinities as None: strict JSON (``null``) for any reader."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data
