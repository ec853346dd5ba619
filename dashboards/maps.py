"""The map of Europe: factories sized by accelerators and coloured by utilisation (or grid
carbon, or price), PoPs, and links coloured by utilisation on a scale of their own, at one
telemetry stamp, with the sites down and the links cut
at that time marked (a pure builder, as :mod:`twin.dashboards.figures`: values in, a plotly
JSON figure out)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from twin.dashboards.faults import span_label
from twin.dashboards.figures import Figure, template
from twin.dashboards.geo import Geo, Node
from twin.dashboards.map_links import FAULT_COLOUR, link_traces
from twin.dashboards.map_regions import region_traces
from twin.dashboards.map_style import (
    NO_DATA,
    PLANNED,
    SELECTED,
    SITE_COLOURINGS,
    SiteColouring,
    marker_size,
    size_legend,
)
from twin.dashboards.values import FaultSpan, SiteState, Snapshot

OCEAN = "#dde8f0"
EUROPE_LON = (-18.0, 40.0)
EUROPE_LAT = (34.0, 71.0)
"""What the map shows at least: Europe, a little wider than tall, to fill a wide screen."""
SITE_BAR = {"thickness": 12, "len": 0.42, "y": 0.76, "yanchor": "middle"}
"""The sites' colour bar, above the links' on the right."""


def map_figure(
    geo: Geo,
    snapshot: Snapshot | None,
    *,
    selected: str | None = None,
    title: str | None = None,
    height: int = 560,
    uirevision: str = "map",
    start: dt.datetime | None = None,
    labels: bool = False,
    colour_by: str = "utilisation",
    regions: bool = True,
) -> Figure:
    """Europe with factories sized by accelerators (a size legend in the corner) and
    coloured by utilisation at the snapshot's time, or by grid carbon or price
    (``colour_by``, see :data:`~twin.dashboards.map_style.SITE_COLOURINGS`), their names
    when ``labels``; planned sites as rings with their opening day; PoPs; and links
    (coloured by utilisation on a scale of their own when the run traces links, else drawn
    grey; width by capacity); demand regions (``regions``, in runs that trace them) as
    diamonds coloured by SLO attainment and sized by requests over the interval.
    ``selected`` (a site or link id) gets a bright ring or halo.
    Sites down at that time get a dark-red ✕ (trace ``down (outage)``), cut links are
    dashed dark red (trace ``cut links``); ``start`` (the scenario's) dates their hover text.

    Every clickable point carries ``customdata = [kind, id]``.
    """
    states = snapshot.sites if snapshot is not None else {}
    links = snapshot.links if snapshot is not None else None
    cut = (snapshot.cut if snapshot is not None else None) or {}
    data = link_traces(geo, links, selected, cut, origin=start)
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
    demand = snapshot.regions if snapshot is not None else None
    if regions and demand:
        data += region_traces(geo, demand, snapshot.region_peak if snapshot else 0)
    colouring = SITE_COLOURINGS.get(colour_by, SITE_COLOURINGS["utilisation"])
    sites = list(geo.sites)
    largest = max([states[s.id].total if s.id in states else s.accelerators for s in sites] or [1])
    today = (
        (start + dt.timedelta(seconds=snapshot.t)).date().isoformat()
        if start is not None and snapshot is not None
        else None
    )
    data += _sites(sites, states, selected, colouring, labels, largest, today)
    down = (snapshot.down if snapshot is not None else None) or {}
    data += _down(geo, down, start)
    lon, lat = _extent([*geo.nodes.values(), *geo.regions])
    shapes, notes = size_legend(largest) if sites else ([], [])
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
        "shapes": shapes,
        "annotations": notes,
        "meta": {"colour_by": colouring.key, "labels": labels, "regions": regions},
    }
    if title:
        layout["title"] = {"text": title, "x": 0.01, "font": {"size": 14}}
    return {"data": data, "layout": layout}


def _site_value(state: SiteState, colouring: SiteColouring) -> float | None:
    value = {
        "utilisation": state.utilisation,
        "carbon": state.carbon_g_per_kwh,
        "price": state.price_eur_per_mwh,
    }[colouring.key]
    return value if value is not None and math.isfinite(value) else None


def _sites(
    sites: list[Node],
    states: dict[str, SiteState],
    selected: str | None,
    colouring: SiteColouring,
    labels: bool,
    largest: int,
    today: str | None,
) -> list[dict[str, Any]]:
    """Factories: a coloured trace for those reporting at the stamp, rings for the planned
    ones (offline before their opening day, ``today`` being the snapshot's day; any day
    when it is unknown), a grey one for those offline otherwise (an outage) or without
    telemetry yet (a traced site absent from the config can't be placed); the selected one
    ringed."""
    keys = ("site", "size", "colour", "hover", "line")
    live: dict[str, list] = {key: [] for key in keys}
    planned: dict[str, list] = {key: [] for key in keys}
    idle: dict[str, list] = {key: [] for key in keys}
    for site in sites:
        state = states.get(site.id)
        total = state.total if state else site.accelerators
        online = state is not None and state.online
        opens_later = site.opens is not None and (today is None or site.opens > today)
        group = live if online else planned if opens_later else idle
        group["site"].append(site)
        group["size"].append(marker_size(total, largest))
        group["line"].append(0.8)
        if group is planned:
            group["hover"].append(
                f"<b>{site.name}</b> ({site.id})<br>{total:,} accelerators<br>"
                f"<b>planned</b>: opens {site.opens}"
            )
            continue
        if state is None:
            group["hover"].append(f"<b>{site.name}</b><br>{total:,} accelerators<br>no telemetry")
            continue
        group["colour"].append(_site_value(state, colouring))
        grid = ""
        if state.carbon_g_per_kwh is not None:
            grid += f"<br>grid {state.carbon_g_per_kwh:,.0f} gCO2/kWh"
        if state.price_eur_per_mwh is not None:
            grid += f", €{state.price_eur_per_mwh:,.0f}/MWh"
        group["hover"].append(
            f"<b>{site.name}</b> ({site.id})<br>"
            f"{state.busy:,} / {state.total:,} accelerators busy<br>"
            f"utilisation {100 * state.utilisation:.0f}%<br>"
            f"queue {state.queue:,} jobs<br>power {state.power_mw:,.2f} MW{grid}"
            + ("" if state.online else "<br><i>offline</i>")
        )
    traces = []
    groups = (
        (idle, "factories (offline or no data)"),
        (planned, "factories (planned)"),
        (live, "factories"),
    )
    for group, name in groups:
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
                cmin=colouring.cmin,
                cmax=colouring.cmax,
                colorscale=[list(point) for point in colouring.scale],
                showscale=True,
                colorbar={
                    "title": {"text": colouring.title, "font": {"size": 11}},
                    "tickformat": colouring.tickformat,
                    **SITE_BAR,
                },
            )
        elif group is planned:
            marker.update(color=PLANNED, symbol="circle-open", line={"width": 2, "color": PLANNED})
        else:
            marker.update(color=NO_DATA, symbol="circle-open")
        trace: dict[str, Any] = {
            "type": "scattergeo",
            "name": name,
            "lon": [s.lon for s in group["site"]],
            "lat": [s.lat for s in group["site"]],
            "hovertext": group["hover"],
            "customdata": [["site", s.id] for s in group["site"]],
            "hoverinfo": "text",
            "mode": "markers+text" if labels else "markers",
            "marker": marker,
            "showlegend": False,
        }
        if labels:
            trace |= {
                "text": [_label(s, group is planned) for s in group["site"]],
                "textposition": "top center",
                "textfont": {"size": 10, "color": PLANNED if group is planned else "#1b1f23"},
            }
        traces.append(trace)
    chosen = next((s for s in sites if s.id == selected), None)
    if chosen is not None:
        state = states.get(chosen.id)
        total = state.total if state else chosen.accelerators
        traces.append(
            {
                "type": "scattergeo",
                "name": "selected",
                "lon": [chosen.lon],
                "lat": [chosen.lat],
                "customdata": [["site", chosen.id]],
                "hoverinfo": "skip",
                "mode": "markers",
                "marker": {
                    "size": marker_size(total, largest) + 12,
                    "color": SELECTED,
                    "symbol": "circle-open",
                    "line": {"width": 3, "color": SELECTED},
                },
                "showlegend": False,
            }
        )
    return traces


def _label(site: Node, planned: bool) -> str:
    return f"{site.name} (opens {site.opens[:7]})" if planned and site.opens else site.name


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
