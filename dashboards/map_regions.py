"""The map's demand regions: a point per region, coloured by the SLO attainment of its
requests over the telemetry interval, sized by how many it sent, its round trip to the
nearest hosting site and each service's figures in the hover."""

from __future__ import annotations

from typing import Any

from twin.dashboards.geo import Geo
from twin.dashboards.map_style import ATTAINMENT_RANGE, ATTAINMENT_SCALE, region_size
from twin.dashboards.values import RegionState

REGION_BAR = {
    "orientation": "h",
    "thickness": 10,
    "len": 0.35,
    "x": 0.98,
    "xanchor": "right",
    "y": 0.02,
    "yanchor": "bottom",
}
"""The regions' colour bar, across the map's lower right corner."""


def region_traces(geo: Geo, regions: dict[str, RegionState]) -> list[dict[str, Any]]:
    """The demand regions the config places, at one interval (none without telemetry)."""
    placed = [(node, regions[node.id]) for node in geo.regions if node.id in regions]
    if not placed:
        return []
    largest = max(state.arrivals for _, state in placed) or 1
    colours = [state.attainment for _, state in placed]
    return [
        {
            "type": "scattergeo",
            "name": "demand regions",
            "lon": [node.lon for node, _ in placed],
            "lat": [node.lat for node, _ in placed],
            "hovertext": [_hover(node.name, state) for node, state in placed],
            "customdata": [["region", node.id] for node, _ in placed],
            "hoverinfo": "text",
            "mode": "markers",
            "marker": {
                "size": [region_size(state.arrivals, largest) for _, state in placed],
                "symbol": "diamond",
                "opacity": 0.85,
                "line": {"width": 1, "color": "#ffffff"},
                "color": colours,
                "cmin": ATTAINMENT_RANGE[0],
                "cmax": ATTAINMENT_RANGE[1],
                "colorscale": [list(point) for point in ATTAINMENT_SCALE],
                "showscale": True,
                "colorbar": {
                    "title": {"text": "region SLO attainment", "side": "top", "font": {"size": 11}},
                    "tickformat": ".0%",
                    **REGION_BAR,
                },
            },
            "showlegend": False,
        }
    ]


def _hover(name: str, state: RegionState) -> str:
    attainment = state.attainment
    lines = [
        f"<b>{name}</b> (demand region)",
        f"{state.arrivals:,} requests this interval",
        "SLO attainment " + ("–" if attainment is None else f"{100 * attainment:.1f}%"),
    ]
    for service in state.services:
        met = 1 - service.misses / service.resolved if service.resolved else None
        shown = "–" if met is None else f"{100 * met:.1f}%"
        lines.append(
            f"{service.service}: {service.arrivals:,} requests, {shown} met, "
            f"RTT {service.rtt_ms:,.1f} ms"
        )
    return "<br>".join(lines)
