"""The Sweeps page's tables: the points (one row each, linking to its run in Replay) and
two configurations side by side with their paired differences."""

from __future__ import annotations

import math
from typing import Any

from dash import html
from twin.dashboards.components import Context, format_number
from twin.dashboards.limits import MAX_SHOWN_POINTS
from twin.dashboards.sweeps import Sweep

from twin.analysis import MetricError, parse_metric
from twin.analysis.stats import Interval


def metric_words(name: str) -> str:
    """``t, lower is better``: a metric's unit and direction (from the registry)."""
    try:
        ref = parse_metric(name)
    except MetricError:
        return "not a metric of this twin"
    better = f", {ref.better} is better" if ref.better else ""
    return f"{ref.unit}{better}"


def points_table(context: Context, sweep: Sweep) -> tuple[list[dict], list[dict]]:
    """The DataTable's columns and rows: one row per point, linking to its run in Replay (the
    configuration's label only when there is no parameter column to say it)."""
    label = [] if sweep.params else [{"id": "label", "name": "configuration"}]
    columns: list[dict[str, Any]] = [
        {"id": "run", "name": "run", "presentation": "markdown"},
        *label,
        *({"id": f"p{i}", "name": p} for i, p in enumerate(sweep.params)),
        {"id": "seed", "name": "seed", "type": "numeric"},
        {"id": "status", "name": "status"},
        *(
            {
                "id": f"m{i}",
                "name": m,
                "type": "numeric",
                "format": {"specifier": ".4~g"},
            }
            for i, m in enumerate(sweep.metrics)
        ),
        {"id": "wall_s", "name": "wall (s)", "type": "numeric", "format": {"specifier": ".2f"}},
        {"id": "reason", "name": "reason"},
    ]
    rows = []
    for point in sweep.points[:MAX_SHOWN_POINTS]:
        row: dict[str, Any] = {
            "run": f"[replay]({context.link('/replay', run=point.run)})",
            "label": cut(point.label),
            "seed": point.seed,
            "status": point.status,
            "wall_s": point.wall_s,
            "reason": cut(point.reason),
        }
        row |= {f"p{i}": cut(point.params[p]) for i, p in enumerate(sweep.params)}
        row |= {f"m{i}": _json(point.metrics[m]) for i, m in enumerate(sweep.metrics)}
        rows.append(row)
    return columns, rows


def pair_table(sweep: Sweep, a: str, b: str) -> html.Table:
    """Every metric of configurations A and B (mean ± half width over their complete seeds)
    and B − A paired over their common seeds, with what the difference says."""
    label_a, label_b = sweep.configurations[a].label, sweep.configurations[b].label
    rows = []
    for metric in sweep.metrics:
        difference = sweep.paired(a, b, metric)
        rows.append(
            html.Tr(
                [
                    html.Th(metric),
                    html.Td(_interval(sweep.configurations[a].interval(metric))),
                    html.Td(_interval(sweep.configurations[b].interval(metric))),
                    html.Td(_interval(difference, sign=True)),
                    html.Td(_verdict(metric, difference)),
                ],
                **{"data-metric": metric},
            )
        )
    head = ["metric", f"A: {cut(label_a)}", f"B: {cut(label_b)}", "B − A (paired)", ""]
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)],
        className="kpi-table pair-table",
    )
    return table


def _interval(interval: Interval, sign: bool = False) -> str:
    if interval.n == 0:
        return "–"
    text = format_number(interval.mean, sign=sign)
    if math.isnan(interval.half_width):
        return f"{text} (n={interval.n})"
    return f"{text} ± {format_number(interval.half_width)} (n={interval.n})"


def _verdict(metric: str, difference: Interval) -> str:
    """What the paired interval says, in the metric's direction."""
    if not difference.excludes_zero:
        return "not distinguishable from noise"
    try:
        better = parse_metric(metric).better
    except MetricError:
        better = None
    if better is None:
        return "B higher" if difference.low > 0 else "B lower"
    improved = (difference.low > 0) == (better == "higher")
    return "B better" if improved else "B worse"


def _json(value: float) -> float | None:
    return value if math.isfinite(value) else None


def cut(text: str, limit: int = 120) -> str:
    """Text from a sweep's file, cut for showing."""
    return text if len(text) <= limit else text[:limit] + "…"


__all__ = ["cut", "metric_words", "pair_table", "points_table"]
