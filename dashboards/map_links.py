"""The map's network links: lines whose width is the capacity and whose colour is the
utilisation on a scale of their own (grey until half full, then orange to dark red), cut
ones dashed dark red, the selected one haloed, and a clickable marker at each middle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from twin.dashboards.faults import when
from twin.dashboards.geo import Geo
from twin.dashboards.map_style import LINK_SCALE, NO_DATA, SELECTED, link_colour
from twin.dashboards.values import FaultSpan

FAULT_COLOUR = "#8b0000"
"""Sites down and links cut are drawn dark red."""
LINK_BAR = {"thickness": 12, "len": 0.42, "y": 0.26, "yanchor": "middle"}
"""The links' colour bar, under the sites' on the right."""


def link_traces(
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
    halo: tuple[list, list, float] | None = None
    groups: dict[tuple[str, float], tuple[list, list]] = {}
    middles: dict[str, list] = {key: [] for key in ("lon", "lat", "text", "data", "colour")}
    for link, (a, b, capacity) in edges.items():
        if a not in nodes or b not in nodes or a == b:
            continue
        start, end = nodes[a], nodes[b]
        state = (links or {}).get(link)
        width = round(1.0 + 4.0 * capacity / widest, 1)
        if link == selected:
            halo = [start.lon, end.lon], [start.lat, end.lat], width
        if links is None:
            colour, text = "#8a939c", f"<b>{link}</b><br>{capacity:,.0f} Gbps"
        elif state is None:
            colour, text = NO_DATA, f"<b>{link}</b><br>{capacity:,.0f} Gbps<br>no telemetry"
        else:
            colour = link_colour(state.utilisation)
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
    if halo is not None:  # under the links, so the chosen one's colour still shows
        traces.insert(
            0,
            {
                "type": "scattergeo",
                "name": "selected",
                "lon": halo[0],
                "lat": halo[1],
                "mode": "lines",
                "line": {"width": halo[2] + 7, "color": SELECTED},
                "opacity": 0.6,
                "hoverinfo": "skip",
                "showlegend": False,
            },
        )
    if links is not None and middles["data"]:
        traces.append(_link_scale(middles["lon"][0], middles["lat"][0]))
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


def _link_scale(lon: float, lat: float) -> dict[str, Any]:
    """An invisible point carrying the links' colour bar (lines cannot carry one)."""
    return {
        "type": "scattergeo",
        "name": "link scale",
        "lon": [lon],
        "lat": [lat],
        "mode": "markers",
        "hoverinfo": "skip",
        "showlegend": False,
        "marker": {
            "size": 1,
            "opacity": 0,
            "color": [0.0],
            "cmin": 0.0,
            "cmax": 1.0,
            "colorscale": [list(point) for point in LINK_SCALE],
            "showscale": True,
            "colorbar": {
                "title": {"text": "link<br>utilisation", "font": {"size": 11}},
                "tickformat": ".0%",
                **LINK_BAR,
            },
        },
    }
