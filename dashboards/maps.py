"""The map of Europe: factories sized by accelerators and coloured by utilisation, PoPs, and
links coloured by utilisation, at one telemetry stamp, with the sites down and the links cut
at that time marked (a pure builder, as :mod:`twin.dashboards.figures`: values in, a plotly
JSON figure out)."""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from typing import Any

import plotly.colors as pcolors
from twin.dashboards.faults import span_label, when
from twin.dashboards.figures import Figure, template
from twin.dashboards.geo import Geo, Node
from twin.dashboards.values import FaultSpan, SiteState, Snapshot

UTILISATION_SCALE = "RdYlGn_r"
"""Idle is green, saturated is red (sites and links share the scale)."""
NO_DATA = "#9aa3ad"
OCEAN = "#dde8f0"
LINK_BANDS = 10
"""Link colours are drawn in this many utilisation bands (one trace per band and width)."""
EUROPE_LON = (-11.0, 35.0)
EUROPE_LAT = (35.0, 70.5)
FAULT_COLOUR = "#8b0000"
"""Sites down and links cut are drawn dark red."""


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
    start: dt.datetime | None = None,
) -> Figure:
    """Europe with factories sized by accelerators and coloured by utilisation at the
    snapshot's time, PoPs, and links (coloured by utilisation when the run traces links,
    else drawn grey by capacity). ``selected`` (a site or link id) is outlined. Sites down
    at that time get a dark-red ✕ (trace ``down (outage)``), cut links are dashed dark red
    (trace ``cut links``); ``start`` (the scenario's) dates their hover text.

    Every clickable point carries ``customdata = [kind, id]``.
    """
    states = snapshot.sites if snapshot is not None else {}
    links = snapshot.links if snapshot is not None else None
    cut = (snapshot.cut if snapshot is not None else None) or {}
    data = _links(geo, links, selected, cut, origin=start)
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
    down = (snapshot.down if snapshot is not None else None) or {}
    data += _down(geo, down, start)
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


def _down(geo: Geo, down: dict[str, FaultSpan], start: dt.datetime | None) -> list[dict]:
    """A dark-red ✕ on each site down (one that can be placed)."""
    sites = [(geo.nodes[site], span) for site, span in down.items() if site in geo.nodes]
    if not sites:
        return []
    return [
        {
            "type": "scattergeo",
            "name": "down (outage)",
            "lon": [node.lon for node, _ in sites],
            "lat": [node.lat for node, _ in sites],
            "text": [
                f"<b>{node.name}</b> ({node.id})<br><b>down</b> (outage) {span_label(span, start)}"
                for node, span in sites
            ],
            "customdata": [["site", node.id] for node, _ in sites],
            "hoverinfo": "text",
            "mode": "markers",
            "marker": {
                "size": 15,
                "color": FAULT_COLOUR,
                "symbol": "x",
                "line": {"width": 1.5, "color": "#ffffff"},
            },
            "showlegend": False,
        }
    ]


def _extent(nodes: list) -> tuple[tuple[float, float], tuple[float, float]]:
    """Europe, widened to hold every node."""
    lons = [n.lon for n in nodes] or [0.0]
    lats = [n.lat for n in nodes] or [50.0]
    lon = (min(EUROPE_LON[0], min(lons) - 2), max(EUROPE_LON[1], max(lons) + 2))
    lat = (min(EUROPE_LAT[0], min(lats) - 1.5), max(EUROPE_LAT[1], max(lats) + 1.5))
    return lon, lat


def _links(
    geo: Geo,
    links: dict | None,
    selected: str | None,
    cut: dict[str, FaultSpan],
    origin: dt.datetime | None,
) -> list[dict[str, Any]]:
    """Links as lines (width by capacity, colour by utilisation, grouped into a few traces by
    width and colour band so a large network stays cheap to draw; cut ones dashed dark red)
    and a clickable marker at each link's middle."""
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
        span = cut.get(link)
        if span is not None:
            colour = FAULT_COLOUR
            text += f"<br><b>cut</b> until {when(span.end_s, origin)}"
        key = ("cut" if span is not None else colour, width)
        lons, lats = groups.setdefault(key, ([], []))
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
        if colour != "cut"
        else {
            "type": "scattergeo",
            "name": "cut links",
            "lon": lons,
            "lat": lats,
            "mode": "lines",
            "line": {"width": max(width, 2.5), "color": FAULT_COLOUR, "dash": "dash"},
            "opacity": 0.95,
            "hoverinfo": "skip",
            "showlegend": False,
        }
        for (colour, width), (lons, lats) in sorted(
            groups.items(), key=lambda item: (item[0][0] == "cut", item[0][1])
        )
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
