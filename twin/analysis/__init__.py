"""Run metrics, named once: what sweeps collect, ``twin summary --json`` reports, ``twin
compare`` and the dashboard compare. Each is computed from a run directory (never from a live
model), has a unit and says whether higher is better."""

from twin.analysis.measure import json_safe, measure, measure_summary
from twin.analysis.metrics import (
    METRICS,
    Metric,
    MetricError,
    MetricRef,
    parse_metric,
)

__all__ = [
    "METRICS",
    "Metric",
    "MetricError",
    "MetricRef",
    "json_safe",
    "measure",
    "measure_summary",
    "parse_metric",
]
