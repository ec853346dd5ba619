"""Pure figure builders: plain values (:mod:`twin.dashboards.values`, :mod:`~.geo`) in,
plotly figures out.

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
import plotly.colors as pcolors
import plotly.io as pio
from twin.dashboards.geo import Geo, Node
from twin.dashboards.values import Histogram, Line, Panel, SiteState, Snapshot

Figure = dict[str, Any]
"""A plotly figure as JSON: ``{"data": [...], "layout": {...}}``."""

UTILISATION_SCALE = "RdYlGn_r"
"""Idle is green, saturated is red (sites and links share the scale)."""
NO_DATA = "#9aa3ad"
OCEAN = "#dde8f0"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
LINK_BANDS = 10
"""Link colours are drawn in this many utilisation bands (one trace per band and width)."""
EUROPE_LON = (-11.0, 35.0)
EUROPE_LAT = (35.0, 70.5)


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
# The map
# ---------------------------------------------------------------------------------------------


def _colour(utilisation: float) -> str:
    """The colour of a utilisation, rounded to one of LINK_BANDS + 1 bands."""
    value = min(max(utilisation, 0.0), 1.0) if math.isfinite(utilisation) else 0.0
    return _band_colours()[round(value * LINK_BANDS)]


@cache
def _band_colours() -> tuple[str, ...]:
    return tuple(
        pcolors.sample_colorscale(
            UTILISATION_SCALE, [i / LINK_BANDS for i in range(LINK_BANDS + 1)]
        )
    )


def _marker_size(accelerators: int, largest: int) -> float:
    return 9.0 + 31.0 * math.sqrt(max(accelerators, 0) / max(largest, 1))


def map_figure(
    geo: Geo,
    snapshot: Snapshot | None,
    *,
    selected: str | None = None,
    title: str | None = None,
    height: int = 560,
    uirevision: str = "map",
) -> Figure:
    """Europe with factories sized by accelerators and coloured by utilisation at the
    snapshot's time, PoPs, and links (coloured by utilisation when the run traces links,
    else drawn grey by capacity). ``selected`` (a site or link id) is outlined.

    Every clickable point carries ``customdata = [kind, id]``.
    """
    states = snapshot.sites if snapshot is not None else {}
    links = snapshot.links if snapshot is not None else None
    data = _links(geo, links, selected)
    if geo.pops:
        data.append(
            {
                "type": "scattergeo",
                "name": "PoPs",
                "lon": [p.lon for p in geo.pops],
                "lat": [p.lat for p in geo.pops],
                "text": [f"<b>{p.name}</b><br>PoP {p.id}" for p in geo.pops],
                "customdata": [["pop", p.id] for p in geo.pops],
                "hoverinfo": "text",
                "mode": "markers",
                "marker": {"size": 5, "color": "#5b6670", "symbol": "square"},
                "showlegend": False,
            }
        )
    data += _sites(list(geo.sites), states, selected)
    lon, lat = _extent(list(geo.nodes.values()))
    layout: dict[str, Any] = {
        "geo": {
            "scope": "europe",
            "resolution": 50,
            # as EPSG:3035, Europe's equal-area grid
            "projection": {"type": "azimuthal equal area", "rotation": {"lon": 10, "lat": 52}},
            "bgcolor": OCEAN,
            "showland": True,
            "landcolor": "#eef0eb",
            "showocean": True,
            "oceancolor": OCEAN,
            "showcountries": True,
            "countrycolor": "#b9c0c7",
            "showcoastlines": True,
            "coastlinecolor": "#7d8791",
            "showlakes": False,
            "lonaxis": {"range": list(lon)},
            "lataxis": {"range": list(lat)},
            # explicit: plotly.js otherwise centres some projections on the data
            "center": {"lon": sum(lon) / 2, "lat": sum(lat) / 2},
        },
        "height": height,
        "margin": {"l": 0, "r": 0, "t": 30 if title else 0, "b": 0},
        "uirevision": uirevision,
        "clickmode": "event",
        "hoverlabel": {"align": "left"},
        "template": template("plotly"),
    }
    if title:
        layout["title"] = {"text": title, "x": 0.01, "font": {"size": 14}}
    return {"data": data, "layout": layout}


def _sites(
    sites: list[Node], states: dict[str, SiteState], selected: str | None
) -> list[dict[str, Any]]:
    """Factories: a coloured trace for those reporting at the stamp, a grey one for those
    offline or without telemetry yet (a traced site absent from the config can't be placed)."""
    largest = max([states[s.id].total if s.id in states else s.accelerators for s in sites] or [1])
    live: dict[str, list] = {key: [] for key in ("site", "size", "colour", "text", "line")}
    idle: dict[str, list] = {key: [] for key in ("site", "size", "colour", "text", "line")}
    for site in sites:
        state = states.get(site.id)
        total = state.total if state else site.accelerators
        group = live if state is not None and state.online else idle
        group["site"].append(site)
        group["size"].append(_marker_size(total, largest))
        group["line"].append(3.0 if site.id == selected else 0.8)
        if state is None:
            group["text"].append(f"<b>{site.name}</b><br>{total:,} accelerators<br>no telemetry")
            continue
        group["colour"].append(state.utilisation if math.isfinite(state.utilisation) else None)
        group["text"].append(
            f"<b>{site.name}</b> ({site.id})<br>"
            f"{state.busy:,} / {state.total:,} accelerators busy<br>"
            f"utilisation {100 * state.utilisation:.0f}%<br>"
            f"queue {state.queue:,} jobs<br>power {state.power_mw:,.2f} MW"
            + ("" if state.online else "<br><i>offline</i>")
        )
    traces = []
    for group, name in ((idle, "factories (offline or no data)"), (live, "factories")):
        if not group["site"]:
            continue
        marker: dict[str, Any] = {
            "size": group["size"],
            "opacity": 0.9,
            "line": {"width": group["line"], "color": "#1b1f23"},
        }
        if group is live:
            marker.update(
                color=group["colour"],
                cmin=0.0,
                cmax=1.0,
                colorscale=UTILISATION_SCALE,
                showscale=True,
                colorbar={
                    "title": {"text": "utilisation"},
                    "tickformat": ".0%",
                    "thickness": 12,
                    "len": 0.6,
                },
            )
        else:
            marker.update(color=NO_DATA, symbol="circle-open")
        traces.append(
            {
                "type": "scattergeo",
                "name": name,
                "lon": [s.lon for s in group["site"]],
                "lat": [s.lat for s in group["site"]],
                "text": group["text"],
                "customdata": [["site", s.id] for s in group["site"]],
                "hoverinfo": "text",
                "mode": "markers",
                "marker": marker,
                "showlegend": False,
            }
        )
    return traces


def _extent(nodes: list) -> tuple[tuple[float, float], tuple[float, float]]:
    """Europe, widened to hold every node."""
    lons = [n.lon for n in nodes] or [0.0]
    lats = [n.lat for n in nodes] or [50.0]
    lon = (min(EUROPE_LON[0], min(lons) - 2), max(EUROPE_LON[1], max(lons) + 2))
    lat = (min(EUROPE_LAT[0], min(lats) - 1.5), max(EUROPE_LAT[1], max(lats) + 1.5))
    return lon, lat


def _links(geo: Geo, links: dict | None, selected: str | None) -> list[dict[str, Any]]:
    """Links as lines (width by capacity, colour by utilisation, grouped into a few traces by
    width and colour band so a large network stays cheap to draw) and a clickable marker at
    each link's middle."""
    nodes = geo.nodes
    edges: dict[str, tuple[str, str, float]] = {
        e.id: (e.a, e.b, e.capacity_gbps) for e in geo.links
    }
    for state in (links or {}).values():
        if state.link not in edges:
            edges[state.link] = (state.a, state.b, state.capacity_gbps)
    if not edges:
        return []
    widest = max(capacity for _, _, capacity in edges.values()) or 1.0
    groups: dict[tuple[str, float], tuple[list, list]] = {}
    middles: dict[str, list] = {key: [] for key in ("lon", "lat", "text", "data", "colour")}
    for link, (a, b, capacity) in edges.items():
        if a not in nodes or b not in nodes or a == b:
            continue
        start, end = nodes[a], nodes[b]
        state = (links or {}).get(link)
        width = round(1.0 + 4.0 * capacity / widest, 1) + (2.5 if link == selected else 0.0)
        if links is None:
            colour, text = "#8a939c", f"<b>{link}</b><br>{capacity:,.0f} Gbps"
        elif state is None:
            colour, text = NO_DATA, f"<b>{link}</b><br>{capacity:,.0f} Gbps<br>no telemetry"
        else:
            colour = _colour(state.utilisation)
            text = (
                f"<b>{link}</b><br>{capacity:,.0f} Gbps<br>"
                f"busier direction {state.throughput_gbps:,.1f} Gbps "
                f"({100 * state.utilisation:.0f}%)<br>{state.active_flows} active flows"
            )
        lons, lats = groups.setdefault((colour, width), ([], []))
        lons += [start.lon, end.lon, None]
        lats += [start.lat, end.lat, None]
        middles["lon"].append((start.lon + end.lon) / 2)
        middles["lat"].append((start.lat + end.lat) / 2)
        middles["text"].append(text)
        middles["data"].append(["link", link])
        middles["colour"].append(colour)
    traces: list[dict[str, Any]] = [
        {
            "type": "scattergeo",
            "lon": lons,
            "lat": lats,
            "mode": "lines",
            "line": {"width": width, "color": colour},
            "opacity": 0.85,
            "hoverinfo": "skip",
            "showlegend": False,
        }
        for (colour, width), (lons, lats) in sorted(groups.items(), key=lambda item: item[0][1])
    ]
    if middles["data"]:
        traces.append(
            {
                "type": "scattergeo",
                "name": "links",
                "lon": middles["lon"],
                "lat": middles["lat"],
                "text": middles["text"],
                "customdata": middles["data"],
                "hoverinfo": "text",
                "mode": "markers",
                "marker": {"size": 6, "color": middles["colour"], "symbol": "diamond"},
                "showlegend": False,
            }
        )
    return traces


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
    layout shape, moved by :func:`move_cursor` and, in the browser, :data:`CURSOR_JS`)."""
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
        layout[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [max(top - height, 0.0), top]}
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
            colour = colours.setdefault(line.name, PALETTE[len(colours) % len(PALETTE)])
            style: dict[str, Any] = {"width": 1.6, "color": colour}
            if line.dash:
                style["dash"] = line.dash
            data.append(
                {
                    "type": "scatter",
                    "x": _dates(np.asarray(line.x, dtype=float), start),
                    "y": _numbers(line.y),
                    "name": line.name,
                    "mode": "lines",
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


def overlay_panels(a: Sequence[Panel], b: Sequence[Panel], name_a: str, name_b: str) -> list[Panel]:
    """Panels of two runs with equal titles merged: A solid, B dashed."""
    by_title = {p.title: p for p in b}
    merged = []
    for panel in a:
        other = by_title.get(panel.title)
        lines = [Line(name_a, line.x, line.y) for line in panel.lines]
        if other is not None:
            lines += [Line(name_b, line.x, line.y, dash="dash") for line in other.lines]
        merged.append(Panel(panel.title, tuple(lines)))
    return merged


# ---------------------------------------------------------------------------------------------
# Histograms
# ---------------------------------------------------------------------------------------------


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
