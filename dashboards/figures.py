"""Pure figure builders: plain values (:mod:`twin.dashboards.values`) in, plotly figures out:
time series, histograms, sweep bands, messages (the map is :mod:`twin.dashboards.maps`).

Nothing here reads files or knows about Dash callbacks, so each builder is tested by calling
it. Times arrive as simulated seconds and are drawn as dates from the scenario's start.

Figures are built as plotly's JSON figure spec (plain dicts and lists, what ``dcc.Graph``
takes), not as ``plotly.graph_objects`` objects: those validate every property on every
assignment, which made one map frame cost ~15 ms and a stack of series ~50 ms of the
server's time per request; a dict costs well under a millisecond. ``go.Figure(spec)``
still validates one (the tests do). A figure returned here is never modified by its callers
(the pages cache and share them); :func:`move_cursor` makes a new one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import plotly.io as pio
from twin.dashboards.values import Band, Histogram, Panel

Figure = dict[str, Any]
"""A plotly figure as JSON: ``{"data": [...], "layout": {...}}``."""

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


@cache
def template(name: str) -> dict[str, Any]:
    """A plotly template (``"plotly"``, ``"plotly_white"``) as JSON, built once and shared."""
    return pio.templates[name].to_plotly_json()


def to_dates(seconds: np.ndarray | Sequence[float], start: dt.datetime) -> np.ndarray:
    """Simulated seconds → numpy datetimes (ms) since ``start``."""
    ms = np.round(np.asarray(seconds, dtype=float) * 1000.0).astype("int64")
    return np.datetime64(start, "ms") + ms.astype("timedelta64[ms]")


def to_date(t: float, start: dt.datetime) -> str:
    """One simulated time as an ISO date-time string (for shapes and labels); the start
    itself for a time beyond the calendar (year 1 to 9999)."""
    try:
        when = start + dt.timedelta(seconds=float(t))
    except OverflowError:
        when = start
    return when.isoformat(sep=" ", timespec="seconds")


def time_label(t: float, start: dt.datetime) -> str:
    """``day 2, 13:40 (2026-03-03 13:40 UTC)``: simulated time as people read it."""
    day, rest = divmod(float(t), 86400.0)
    hours, minutes = divmod(rest // 60, 60)
    clock = f"day {int(day) + 1}, {int(hours):02d}:{int(minutes):02d}"
    try:
        when = start + dt.timedelta(seconds=float(t))
    except OverflowError:
        return f"{clock} (beyond the calendar)"
    return f"{clock} ({when:%Y-%m-%d %H:%M} UTC)"


def _numbers(values: np.ndarray | Sequence[float]) -> list[float | None]:
    """Floats for JSON: NaN and ±inf become gaps (null)."""
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=float).tolist()]


def _dates(seconds: np.ndarray, start: dt.datetime) -> list[str]:
    return np.datetime_as_string(to_dates(seconds, start), unit="ms").tolist()


def empty_figure(message: str, height: int | None = None) -> Figure:
    """A blank figure carrying a message (no data, not applicable, an error)."""
    layout: dict[str, Any] = {
        "annotations": [
            {
                "text": message,
                "showarrow": False,
                "x": 0.5,
                "y": 0.5,
                "xref": "paper",
                "yref": "paper",
                "font": {"size": 14},
            }
        ],
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "shapes": [_cursor(0.0, dt.datetime(2000, 1, 1), visible=False)],
        "template": template("plotly_white"),
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
    }
    if height is not None:
        layout["height"] = height
    return {"data": [], "layout": layout}


# ---------------------------------------------------------------------------------------------
# Time series
# ---------------------------------------------------------------------------------------------


def series_figure(
    panels: Sequence[Panel],
    *,
    start: dt.datetime,
    t: float | None = None,
    title: str | None = None,
    height_per_panel: int = 150,
) -> Figure:
    """Stacked time series sharing one time axis, with a vertical cursor at ``t`` (the first
    layout shape, moved by :func:`move_cursor` and, in the browser, :data:`CURSOR_JS`).
    Each panel has its own y axis (``yaxis``, ``yaxis2``, …), logarithmic for a panel with
    ``log_y``; a line's own ``colour`` wins over the one its name gets."""
    panels = [p for p in panels if p.lines]
    if not panels:
        return empty_figure("no series for this selection")
    rows = len(panels)
    spacing = min(0.06, 0.3 / rows)
    height = (1.0 - spacing * (rows - 1)) / rows
    layout: dict[str, Any] = {"annotations": []}
    data = []
    colours: dict[str, str] = {}
    seen: set[str] = set()
    for row, panel in enumerate(panels, start=1):
        suffix = "" if row == 1 else str(row)
        top = 1.0 - (row - 1) * (height + spacing)
        axis: dict[str, Any] = {"anchor": f"y{suffix}", "domain": [0.0, 1.0]}
        if row < rows:  # one shared time axis, labelled at the bottom
            axis |= {"matches": f"x{rows}", "showticklabels": False}
        layout[f"xaxis{suffix}"] = axis
        yaxis: dict[str, Any] = {"anchor": f"x{suffix}", "domain": [max(top - height, 0.0), top]}
        if panel.log_y:
            yaxis["type"] = "log"
        layout[f"yaxis{suffix}"] = yaxis
        layout["annotations"].append(
            {
                "text": panel.title,
                "showarrow": False,
                "x": 0.5,
                "xanchor": "center",
                "xref": "paper",
                "y": top,
                "yanchor": "bottom",
                "yref": "paper",
                "font": {"size": 12},
            }
        )
        for line in panel.lines:
            colour = line.colour or colours.setdefault(
                line.name, PALETTE[len(colours) % len(PALETTE)]
            )
            style: dict[str, Any] = {"width": 1.6, "color": colour}
            if line.dash:
                style["dash"] = line.dash
            data.append(
                {
                    "type": "scatter",
                    "x": _dates(np.asarray(line.x, dtype=float), start),
                    "y": _numbers(line.y),
                    "name": line.name,
                    "mode": "lines" if len(line.x) > 1 else "markers",  # one point: a dot
                    "line": style,
                    "legendgroup": line.name,
                    "showlegend": line.name not in seen,
                    "xaxis": f"x{suffix}",
                    "yaxis": f"y{suffix}",
                }
            )
            seen.add(line.name)
    layout |= {
        "height": max(260, height_per_panel * rows + 80),
        "margin": {"l": 50, "r": 10, "t": 40 if title else 25, "b": 30},
        "template": template("plotly_white"),
        "legend": {"orientation": "h", "y": -0.08 if rows > 2 else -0.2},
        "hovermode": "x unified",
        "shapes": [_cursor(t if t is not None else 0.0, start, visible=t is not None)],
        "meta": {"start_ms": _epoch_ms(start)},
    }
    if title:
        layout["title"] = {"text": title, "x": 0.01, "font": {"size": 14}}
    return {"data": data, "layout": layout}


def move_cursor(figure: Figure, t: float | None, start: dt.datetime) -> Figure:
    """``figure`` (a series figure) with its cursor at ``t`` (hidden for None): a new figure
    sharing the traces, so a cached one can serve any time."""
    layout = figure.get("layout", {})
    shapes = list(layout.get("shapes") or [])
    if not shapes or "meta" not in layout:
        return figure
    shapes[0] = _cursor(t if t is not None else 0.0, start, visible=t is not None)
    return {**figure, "layout": {**layout, "shapes": shapes}}


def _epoch_ms(start: dt.datetime) -> float:
    return (start - dt.datetime(1970, 1, 1)).total_seconds() * 1000.0


def _cursor(t: float, start: dt.datetime, visible: bool = True) -> dict:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": to_date(t, start),
        "x1": to_date(t, start),
        "y0": 0,
        "y1": 1,
        "line": {"color": "#222", "width": 1.2, "dash": "dash"},
        "visible": visible,
    }


CURSOR_JS = """
function (t, figure) {
    // Move the cursor (first shape) of a series figure to simulated time t, in the browser:
    // no server round trip per tick, and nothing to do while the figure is not there yet.
    const noUpdate = window.dash_clientside.no_update;
    if (t === null || t === undefined || !figure || !figure.layout) { return noUpdate; }
    const shapes = figure.layout.shapes || [];
    const meta = figure.layout.meta || {};
    if (!shapes.length || meta.start_ms === undefined) { return noUpdate; }
    const x = new Date(meta.start_ms + t * 1000).toISOString().replace("T", " ").slice(0, 19);
    const moved = shapes.slice();
    moved[0] = Object.assign({}, shapes[0], {x0: x, x1: x, visible: true});
    return Object.assign({}, figure, {layout: Object.assign({}, figure.layout, {shapes: moved})});
}
"""
"""Clientside callback body: ``(slider value, series figure) → figure with the cursor at t``;
:func:`series_figure` puts the scenario's start in ``layout.meta.start_ms`` for it."""


def histogram_figure(histogram: Histogram, *, title: str, height: int = 300) -> Figure:
    """Counts per bin (computed server-side) as bars, one colour per group."""
    if not histogram.counts or not any(int(np.sum(c)) for c in histogram.counts.values()):
        return empty_figure(f"{title}: nothing to show", height=height)
    edges = np.asarray(histogram.edges, dtype=float)
    centres = np.sqrt(edges[:-1] * edges[1:]) if histogram.log_x else (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    data = [
        {
            "type": "bar",
            "x": _numbers(centres),
            "y": np.asarray(counts).tolist(),
            "width": _numbers(widths),
            "name": group,
            "marker": {"color": PALETTE[index % len(PALETTE)]},
            "opacity": 0.8,
            "hovertemplate": f"{group}<br>%{{x:.3g}}: %{{y}}<extra></extra>",
        }
        for index, (group, counts) in enumerate(histogram.counts.items())
    ]
    totals = np.sum([np.asarray(c) for c in histogram.counts.values()], axis=0)
    nonzero = totals[totals > 0]
    logged = bool(len(nonzero) and nonzero.max() > 50 * nonzero.min())
    xaxis: dict[str, Any] = {"title": {"text": histogram.label}}
    if histogram.log_x:
        xaxis["type"] = "log"
    yaxis: dict[str, Any] = {"title": {"text": "count (log)" if logged else "count"}}
    if logged:
        yaxis["type"] = "log"
    layout = {
        "barmode": "stack",
        "bargap": 0.02,
        "height": height,
        "template": template("plotly_white"),
        "title": {"text": title, "x": 0.01, "font": {"size": 14}},
        "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
        "xaxis": xaxis,
        "yaxis": yaxis,
        "showlegend": len(histogram.counts) > 1,
    }
    return {"data": data, "layout": layout}


# ---------------------------------------------------------------------------------------------
# Sweeps
# ---------------------------------------------------------------------------------------------


def band_figure(
    bands: Sequence[Band],
    *,
    x_title: str,
    y_title: str,
    title: str,
    order: Sequence[str] = (),
    numeric: bool = True,
    confidence: float = 0.95,
) -> Figure:
    """Each band's mean (a line with markers) inside its shaded confidence interval. A
    non-numeric x is categorical, in ``order``. A mean's ``customdata`` ends with its
    configuration's id (what a click on it picks)."""
    if not any(band.x for band in bands):
        return empty_figure(f"{title}: no configuration to show")
    data: list[dict[str, Any]] = []
    ci = f"{round(confidence * 100):g}% CI"
    for index, band in enumerate(bands):
        colour = PALETTE[index % len(PALETTE)]
        x = list(band.x)
        common = {"type": "scatter", "x": x, "legendgroup": band.name, "hoverinfo": "skip"}
        edge = {"width": 0, "color": colour}
        data.append(
            {
                **common,
                "y": _numbers(band.high),
                "mode": "lines",
                "line": edge,
                "name": f"{band.name} ({ci})",
                "showlegend": False,
            }
        )
        data.append(
            {
                **common,
                "y": _numbers(band.low),
                "mode": "lines",
                "line": edge,
                "fill": "tonexty",
                "fillcolor": _translucent(colour),
                "name": f"{band.name} ({ci})",
                "showlegend": False,
            }
        )
        data.append(
            {
                "type": "scatter",
                "x": x,
                "y": _numbers(band.mean),
                "name": band.name,
                "legendgroup": band.name,
                "mode": "lines+markers",
                "line": {"width": 2, "color": colour},
                "marker": {"size": 7, "color": colour},
                "customdata": [
                    [n, total, _finite(lo), _finite(hi), config]
                    for n, total, lo, hi, config in zip(
                        band.n, band.points, band.low, band.high, band.configs, strict=True
                    )
                ],
                "hovertemplate": (
                    f"{band.name}<br>%{{x}}: %{{y:.4g}}<br>{ci}: %{{customdata[2]:.4g}} to "
                    "%{customdata[3]:.4g}<br>%{customdata[0]} of %{customdata[1]} seeds"
                    "<extra></extra>"
                ),
            }
        )
    xaxis: dict[str, Any] = {"title": {"text": x_title}}
    if not numeric:
        xaxis |= {"type": "category", "categoryorder": "array", "categoryarray": list(order)}
    layout = {
        "height": 420,
        "template": template("plotly_white"),
        "title": {"text": title, "x": 0.01, "font": {"size": 14}},
        "margin": {"l": 60, "r": 10, "t": 40, "b": 50},
        "xaxis": xaxis,
        "yaxis": {"title": {"text": y_title}},
        "legend": {"orientation": "h", "y": -0.2},
        "showlegend": len(bands) > 1,
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _translucent(colour: str, alpha: float = 0.18) -> str:
    """``#rrggbb`` as ``rgba(r, g, b, alpha)``."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
