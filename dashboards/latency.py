"""The latency explorer's data: percentiles of one service's requests over any sites or demand
regions, time range and period, read from the windows' mergeable sketches
(:mod:`twin.trace.sketches`), so a day's, a region's or a site's hour's p99 is exact to the
sketches' 1 % buckets. Plain values out; no Dash here."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.trace import sketches
from twin.trace.summary import Summary

PERCENTILES = (50.0, 90.0, 99.0)
PERIODS = {"whole": None, "day": 86400.0, "hour": 3600.0}
"""Period choices: the whole range, or per day or hour of window ends."""
SCOPES = ("sites", "regions")
LABELS = {
    "ttft": "time to first token",
    "tpot": "time per output token",
    "latency": "end-to-end latency",
    "tbt": "time between tokens",
    "sched_delay": "scheduling delay",
}


@dataclass(frozen=True)
class LatencyQuery:
    """What the explorer shows: one service's metric over a scope, range and period."""

    service: str
    metric: str
    scope: str = "sites"
    keys: tuple[str, ...] | None = None
    """Sites (or regions) in scope; None: all."""
    start_s: float | None = None
    end_s: float | None = None
    period: str = "whole"


@dataclass(frozen=True)
class Choices:
    """What a run offers the explorer."""

    services: tuple[str, ...]
    metrics: dict[str, tuple[str, ...]]
    """Scope → the sketched metrics its table has (TBT: sites only)."""
    sites: tuple[str, ...]
    regions: tuple[str, ...]
    end_s: float
    why_none: str | None = None
    """Why there is nothing to explore (no inference, no sketches), or None."""


@dataclass(frozen=True)
class LatencySeries:
    """Percentiles per period: period ends [s] and one array [ms] per percentile."""

    ends_s: np.ndarray
    values_ms: dict[float, np.ndarray]


@dataclass(frozen=True)
class LatencyRow:
    """One site or region of the scope over the range."""

    key: str
    requests: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_bucket_ms: float | None
    """The upper edge of the highest bucket holding a value (the worst within 1 %)."""


def choices(directory: Path, summary: Summary, end_s: float) -> Choices:
    """The services, metrics, sites and regions a run's sketches cover."""
    services = tuple(row["service"] for row in summary.services)
    if not services:
        return Choices((), {}, (), (), end_s, "this run has no inference services")
    metrics = {
        "sites": sketches.sketched_metrics(directory, "inference"),
        "regions": tuple(
            m for m in sketches.sketched_metrics(directory, "inference_regions") if m != "tbt"
        ),
    }
    if not metrics["sites"]:
        return Choices(
            services,
            {},
            (),
            (),
            end_s,
            "this run has no latency sketches (fluid fidelity, or written before them): "
            "only its window percentiles are in Replay",
        )
    sites = tuple(sorted({row["site"] for row in summary.service_sites}))
    regions = tuple(sorted({row["region"] for row in summary.regions}))
    return Choices(services, metrics, sites, regions, end_s)


def _rows(directory: Path, query: LatencyQuery) -> pa.Table:
    """The sketch rows of the query: a site's windows, or a region's telemetry intervals
    (every region in scope named; none named, none read)."""
    keys = list(query.keys) if query.keys else None
    if query.scope == "regions":
        if not keys:
            return pa.table({"time_s": pa.array([], pa.float64())})
        return sketches.window_rows(
            directory, query.service, None, query.start_s, query.end_s, regions=keys
        )
    return sketches.window_rows(directory, query.service, keys, query.start_s, query.end_s)


def series(directory: Path, query: LatencyQuery) -> LatencySeries:
    """p50, p90 and p99 of the query's requests per period (one point at the range's end
    for ``whole``)."""
    rows = _rows(directory, query)
    if f"{query.metric}_sketch_bins" not in rows.column_names or not rows.num_rows:
        return LatencySeries(np.zeros(0), {p: np.zeros(0) for p in PERCENTILES})
    period = PERIODS[query.period]
    if period is None:
        dense = sketches.merge_column(rows, query.metric)
        values = sketches.quantiles_s(dense, [p / 100 for p in PERCENTILES])
        if values[0] is None:
            return LatencySeries(np.zeros(0), {p: np.zeros(0) for p in PERCENTILES})
        end = query.end_s if query.end_s is not None else float(np.max(rows["time_s"]))
        return LatencySeries(
            np.array([end]),
            {p: np.array([v * 1000]) for p, v in zip(PERCENTILES, values, strict=True)},
        )
    times = rows["time_s"].to_numpy()
    bins, counts = rows[f"{query.metric}_sketch_bins"], rows[f"{query.metric}_sketch_counts"]
    out: dict[float, np.ndarray] = {}
    ends = np.zeros(0)
    for p in PERCENTILES:
        ends, out[p] = sketches.percentile_by_period(times, bins, counts, p / 100, period)
    return LatencySeries(ends, out)


def table(directory: Path, query: LatencyQuery) -> list[LatencyRow]:
    """Per site (or region) in scope: requests and percentiles over the range, the worst
    p99 first."""
    rows = _rows(directory, query)
    column = f"{query.metric}_sketch_bins"
    if column not in rows.column_names or not rows.num_rows:
        return []
    key = "region" if query.scope == "regions" else "site"
    out = []
    for name in sorted(set(rows[key].to_pylist())):
        mine = rows.filter(pc.equal(rows[key], name))
        dense = sketches.merge_column(mine, query.metric)
        total = int(dense.sum())
        if total == 0:
            continue
        p50, p90, p99 = (
            None if v is None else v * 1000
            for v in sketches.quantiles_s(dense, [p / 100 for p in PERCENTILES])
        )
        top = int(np.flatnonzero(dense)[-1]) + sketches.INDEX_MIN
        out.append(LatencyRow(name, total, p50, p90, p99, sketches.GAMMA**top * 1000))
    return sorted(out, key=lambda r: (-(r.p99_ms or 0.0), r.key))


def slo_threshold_s(summary: Summary, service: str, metric: str) -> float | None:
    """The service's SLO threshold on ``metric`` (None: none defined, or an older run)."""
    for row in summary.services:
        if row["service"] == service:
            value = row.get("slo", {}).get(metric)
            return float(value) if value is not None else None
    return None


def share_within(directory: Path, query: LatencyQuery, threshold_s: float) -> float | None:
    """The share of the query's requests within ``threshold_s`` (the sketch CDF)."""
    dense = sketches.merge_column(_rows(directory, query), query.metric)
    return sketches.share_within(dense, threshold_s)


def wants_log_axis(values: list[float]) -> bool:
    """Whether the values span more than a decade (then a log axis reads better)."""
    positive = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) / min(positive) > 10


def as_records(rows: list[LatencyRow]) -> list[dict[str, Any]]:
    """The table's rows for a DataTable (ms, three significant digits)."""

    def ms(value: float | None) -> float | None:
        return None if value is None else float(f"{value:.3g}")

    return [
        {
            "key": row.key,
            "requests": row.requests,
            "p50_ms": ms(row.p50_ms),
            "p90_ms": ms(row.p90_ms),
            "p99_ms": ms(row.p99_ms),
            "max_ms": ms(row.max_bucket_ms),
        }
        for row in rows
    ]
