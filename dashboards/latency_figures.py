"""The latency explorer's figure: p50, p90 and p99 per period on one axis, the service's SLO
threshold as a line, log scale when asked or when the values span more than a decade."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from twin.dashboards.figures import PALETTE, Figure, empty_figure, template, to_dates
from twin.dashboards.latency import LABELS, PERCENTILES, LatencySeries, wants_log_axis


def latency_figure(
    series: LatencySeries,
    *,
    metric: str,
    start: dt.datetime,
    threshold_s: float | None = None,
    log: bool | None = None,
) -> Figure:
    """Lines (markers for a single point) per percentile; ``log`` None: automatic."""
    if not len(series.ends_s):
        return empty_figure("no requests in this selection")
    dates = np.datetime_as_string(to_dates(series.ends_s, start), unit="ms").tolist()
    mode = "markers" if len(dates) == 1 else "lines+markers"
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "x": dates,
            "y": [float(v) for v in series.values_ms[p]],
            "name": f"p{p:g}",
            "mode": mode,
            "line": {"width": 1.8, "color": PALETTE[k]},
            "marker": {"size": 8 if len(dates) == 1 else 4},
        }
        for k, p in enumerate(PERCENTILES)
    ]
    values = [float(v) for p in PERCENTILES for v in series.values_ms[p]]
    shapes = []
    annotations = []
    if threshold_s is not None:
        threshold_ms = 1000 * threshold_s
        values.append(threshold_ms)
        shapes.append(
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": threshold_ms,
                "y1": threshold_ms,
                "line": {"color": "#444", "width": 1.5, "dash": "dash"},
            }
        )
        annotations.append(
            {
                "text": f"SLO {threshold_ms:.4g} ms",
                "xref": "paper",
                "x": 1,
                "xanchor": "right",
                "y": threshold_ms,
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    logarithmic = wants_log_axis(values) if log is None else log
    layout = {
        "template": template("plotly_white"),
        "height": 360,
        "margin": {"l": 60, "r": 10, "t": 30, "b": 40},
        "yaxis": {
            "title": {"text": f"{LABELS.get(metric, metric)} (ms)"},
            "type": "log" if logarithmic else "linear",
            "rangemode": "tozero" if not logarithmic else "normal",
        },
        "xaxis": {"title": {"text": "period end"}},
        "legend": {"orientation": "h", "y": -0.2},
        "hovermode": "x unified",
        "shapes": shapes,
        "annotations": annotations,
    }
    return {"data": data, "layout": layout}
