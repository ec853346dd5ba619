"""A site's inference panels in Replay: each service as its SLOs define it.

One panel per service and SLO metric: time to first token and time per output token for an
``llm`` service, end-to-end latency for a ``single`` one (a service of unknown kind: the
metrics its SLO names, else latency). Each panel draws the p50 and p99 of each hour's
requests at the site, read from the merged sketches of that hour's windows
(:func:`twin.trace.sketches.percentile_by_period`, exact to the sketches' 1 % buckets), and
the service's SLO threshold on the metric as a dotted grey line (``SLO 2 s``).

Every panel has its own y axis (chat's seconds and an embedding service's milliseconds no
longer share one), and it is **logarithmic when the panel's values, threshold included,
span more than a decade**: the latency explorer's rule
(:func:`twin.dashboards.latency.wants_log_axis`), so both pages draw a metric alike. A p99
far above its SLO thus stays readable next to its p50, while a panel whose values sit close
together keeps a linear axis, on which small changes show.

A run without sketches (written before them, or whose service has none at the site: the
fluid fidelity) keeps the window percentiles instead, still one panel per service and
metric: each window's p50 and p99 from ``<metric>_p50_ms`` / ``<metric>_p99_ms`` where the
table has them, else the end-to-end ``latency_p99_ms`` every run has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from twin.dashboards.figures import PALETTE
from twin.dashboards.latency import LABELS, wants_log_axis
from twin.dashboards.values import Line, Panel
from twin.dashboards.views import TableView, downsample

from twin.trace.sketches import percentile_by_period

METRICS_OF_KIND = {"llm": ("ttft", "tpot"), "single": ("latency",)}
"""The metrics a service's SLO is defined on, by its kind (``twin.config.schema.SLO``)."""
QUANTILES = (0.5, 0.99)
PERIOD_S = 3600.0
"""Requests are grouped by the hour their window ends in."""
SLO_COLOUR = "#555555"
COLOURS = {"p50": PALETTE[0], "p99": PALETTE[2]}
"""The latency explorer's colours of the percentiles."""
SLO_METRICS = ("ttft", "tpot", "latency")
"""The metrics an SLO may name (``twin.config.schema.SLO``)."""


@dataclass(frozen=True)
class ServiceSpec:
    """What a run's config says of one service: its kind and its SLO thresholds [s] by
    metric (``ttft``, ``tpot``, ``latency``)."""

    kind: str | None = None
    slo_s: dict[str, float] = field(default_factory=dict)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics to draw: its kind's, else those its SLO names, else latency."""
        if self.kind in METRICS_OF_KIND:
            return METRICS_OF_KIND[self.kind]
        named = tuple(m for m in SLO_METRICS if m in self.slo_s)
        return named or ("latency",)


def service_specs(config: Any, manifest: Any) -> dict[str, ServiceSpec]:
    """Each service's kind and SLO from the resolved config (``workloads.inference.services``),
    the SLO from the manifest's ``slo`` for a service the config does not describe; entries
    lacking a usable field are skipped (the config comes from a run directory)."""
    specs: dict[str, ServiceSpec] = {}
    workloads = config.get("workloads") if isinstance(config, dict) else None
    inference = workloads.get("inference") if isinstance(workloads, dict) else None
    entries = inference.get("services") if isinstance(inference, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            kind = entry.get("kind") if entry.get("kind") in METRICS_OF_KIND else None
            specs[entry["id"]] = ServiceSpec(kind, _thresholds(entry.get("slo")))
    objectives = manifest.get("slo") if isinstance(manifest, dict) else None
    for service, slo in (objectives if isinstance(objectives, dict) else {}).items():
        if isinstance(service, str) and service not in specs:
            specs[service] = ServiceSpec(None, _thresholds(slo))
    return specs


def _thresholds(slo: Any) -> dict[str, float]:
    """``{ttft_s: 2}`` → ``{"ttft": 2.0}`` (positive finite numbers of known metrics only)."""
    out: dict[str, float] = {}
    for key, value in (slo if isinstance(slo, dict) else {}).items():
        metric = str(key).removesuffix("_s")
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        if metric in SLO_METRICS and number is not None and math.isfinite(number) and number > 0:
            out[metric] = float(number)
    return out


def slo_label(threshold_s: float) -> str:
    """``SLO 2 s``, ``SLO 50 ms``: the threshold in the unit people read it in."""
    if threshold_s >= 1:
        return f"SLO {threshold_s:.3g} s"
    return f"SLO {threshold_s * 1000:.3g} ms"


def service_panels(
    view: TableView,
    rows: np.ndarray,
    services: list[str],
    service_codes: np.ndarray,
    specs: dict[str, ServiceSpec],
    max_points: int,
) -> list[Panel]:
    """The panels of the services at one site (``rows`` of the inference view), in the
    order the table names them (see the module)."""
    panels: list[Panel] = []
    for code, service in enumerate(services):
        mine = rows[service_codes[rows] == code]
        if not len(mine):
            continue
        spec = specs.get(service, ServiceSpec())
        hourly = [_hourly(view, mine, service, m, spec) for m in spec.metrics]
        found = [p for p in hourly if p is not None]
        if not found:  # no sketches: the window percentiles
            windowed = [_windowed(view, mine, service, m, spec, max_points) for m in spec.metrics]
            found = [p for p in windowed if p is not None]
            if not found:
                found = [_windowed(view, mine, service, "latency", spec, max_points, p50=False)]
        panels += [p for p in found if p is not None]
    return panels


def _hourly(
    view: TableView, mine: np.ndarray, service: str, metric: str, spec: ServiceSpec
) -> Panel | None:
    """p50 and p99 of each hour's requests of ``metric`` from the sketches (None: none)."""
    bins, counts = f"{metric}_sketch_bins", f"{metric}_sketch_counts"
    if bins not in view.table.column_names or counts not in view.table.column_names:
        return None
    picked = view.table.select([bins, counts]).take(pa.array(mine))
    lines = []
    for q in QUANTILES:
        ends, values = percentile_by_period(
            view.times[mine], picked[bins], picked[counts], q, PERIOD_S
        )
        if not len(ends):
            return None
        name = f"p{q * 100:g}"
        lines.append(Line(name, ends, values, colour=COLOURS[name]))
    title = f"{service}: {LABELS[metric]} (ms), each hour's requests"
    return _panel(title, lines, metric, spec, view.times[mine])


def _windowed(
    view: TableView,
    mine: np.ndarray,
    service: str,
    metric: str,
    spec: ServiceSpec,
    max_points: int,
    p50: bool = True,
) -> Panel | None:
    """Each window's p50 and p99 of ``metric`` from its window columns (None: none)."""
    x = view.times[mine]
    lines = []
    for q in ("p50", "p99") if p50 else ("p99",):
        column = f"{metric}_{q}_ms"
        if not view.has(column):
            continue
        y = view.column(column)[mine]
        if np.isfinite(y).any():
            lines.append(Line(q, *downsample(x, y, max_points), colour=COLOURS[q]))
    if not lines:
        return None
    title = f"{service}: {LABELS[metric]} (ms), each window's percentiles"
    return _panel(title, lines, metric, spec, x)


def _panel(
    title: str, lines: list[Line], metric: str, spec: ServiceSpec, times: np.ndarray
) -> Panel:
    """The percentile lines, the SLO threshold across the panel's span, the axis chosen."""
    values = [float(v) for line in lines for v in np.asarray(line.y, dtype=float)]
    threshold_s = spec.slo_s.get(metric)
    if threshold_s is not None:
        ms = threshold_s * 1000
        values.append(ms)
        xs = np.concatenate([times, *(np.asarray(line.x, dtype=float) for line in lines)])
        span = np.array([xs.min(), xs.max()])
        label = slo_label(threshold_s)
        lines = [*lines, Line(label, span, np.full(2, ms), dash="dot", colour=SLO_COLOUR)]
    return Panel(title, tuple(lines), log_y=wants_log_axis(values))


__all__ = ["ServiceSpec", "service_panels", "service_specs", "slo_label"]
