"""The map's demand regions: a point per region, coloured by the SLO attainment of its
requests over the telemetry interval, sized by how many it sent (against the busiest
interval of the run, so a night's trough looks small), its round trip to the nearest
hosting site and each service's figures in the hover."""

from __future__ import annotations

from typing import Any

from twin.dashboards.geo import Geo, Node
from twin.dashboards.map_style import ATTAINMENT_RANGE, ATTAINMENT_SCALE, NO_DATA, region_size
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


def region_traces(geo: Geo, regions: dict[str, RegionState], peak: int) -> list[dict[str, Any]]:
    """The demand regions the config places, at one interval (none without telemetry),
    sized against ``peak``, the most requests a region sent in any interval of the run; a
    region none of whose requests was resolved in the interval is grey."""
    placed = [(node, regions[node.id]) for node in geo.regions if node.id in regions]
    largest = max([peak, *(state.arrivals for _, state in placed)]) or 1
    rated = [(node, state) for node, state in placed if state.attainment is not None]
    unrated = [(node, state) for node, state in placed if state.attainment is None]
    traces = []
    if unrated:
        traces.append(
            _trace("demand regions (none resolved)", unrated)
            | {"marker": _marker(unrated, largest) | {"color": NO_DATA}}
        )
    if rated:
        marker = _marker(rated, largest) | {
            "color": [state.attainment for _, state in rated],
            "cmin": ATTAINMENT_RANGE[0],
            "cmax": ATTAINMENT_RANGE[1],
            "colorscale": [list(point) for point in ATTAINMENT_SCALE],
            "showscale": True,
            "colorbar": {
                "title": {"text": "region SLO attainment", "side": "top", "font": {"size": 11}},
                "tickformat": ".0%",
                **REGION_BAR,
            },
        }
        traces.append(_trace("demand regions", rated) | {"marker": marker})
    return traces


def _trace(name: str, placed: list[tuple[Node, RegionState]]) -> dict[str, Any]:
    return {
        "type": "scattergeo",
        "name": name,
        "lon": [node.lon for node, _ in placed],
        "lat": [node.lat for node, _ in placed],
        "hovertext": [_hover(node.name, state) for node, state in placed],
        "customdata": [["region", node.id] for node, _ in placed],
        "hoverinfo": "text",
        "mode": "markers",
        "showlegend": False,
    }


def _marker(placed: list[tuple[Node, RegionState]], largest: int) -> dict[str, Any]:
    return {
        "size": [region_size(state.arrivals, largest) for _, state in placed],
        "symbol": "diamond",
        "opacity": 0.85,
        "line": {"width": 1, "color": "#ffffff"},
    }


def _hover(name: str, state: RegionState) -> str:
    lines = [
        f"<b>{name}</b> (demand region)",
        f"{state.arrivals:,} requests this interval",
        f"SLO attainment {_share(state.attainment)}",
    ]
    for service in state.services:
        lines.append(
            f"{service.service}: {service.arrivals:,} requests, {_share(service.attainment)} "
            f"met, RTT {service.rtt_ms:,.1f} ms"
        )
    return "<br>".join(lines)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
