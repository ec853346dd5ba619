"""How the map encodes values: the colour scales (one for sites, another for links, so hot
links stand out from busy sites), marker sizes and the size legend drawn in the figure.

Colour scales are explicit ``[[position, colour], …]`` lists: the figures are plain JSON for
plotly.js, which knows only a few scale names (a plotly.py name such as ``RdYlGn_r`` falls
back to the template's default there, though ``go.Figure`` accepts it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import plotly.colors as pcolors

NO_DATA = "#9aa3ad"
PLANNED = "#1f5f8b"
"""Sites that open later in the run: an open ring in this colour, with the opening date."""
SELECTED = "#00a2ff"
"""The ring around the selected site and the halo of the selected link."""
LINK_BANDS = 10
"""Link colours are drawn in this many utilisation bands (one trace per band and width)."""


def _scale(colours: list[str]) -> tuple[tuple[float, str], ...]:
    last = len(colours) - 1
    return tuple((i / last, colour) for i, colour in enumerate(colours))


@dataclass(frozen=True)
class SiteColouring:
    """What the factories' colour shows."""

    key: str
    label: str
    title: str
    scale: tuple[tuple[float, str], ...]
    cmin: float
    cmax: float
    tickformat: str = ""


SITE_COLOURINGS = {
    c.key: c
    for c in (
        SiteColouring(
            "utilisation",
            "utilisation",
            "site<br>utilisation",
            _scale(pcolors.sequential.Viridis),
            0.0,
            1.0,
            ".0%",
        ),
        SiteColouring(
            "carbon",
            "grid carbon (gCO2/kWh)",
            "grid gCO2<br>/kWh",
            _scale(pcolors.diverging.RdYlGn[::-1]),
            0.0,
            600.0,
        ),
        SiteColouring(
            "price",
            "electricity price (€/MWh)",
            "price<br>€/MWh",
            _scale(pcolors.sequential.Purples[2:]),
            0.0,
            250.0,
        ),
    )
}
"""Sites coloured by utilisation (default), grid carbon intensity or electricity price, on
fixed ranges so colours mean the same at every time and in every run."""

LINK_SCALE = (
    (0.0, "#c9ced4"),
    (0.5, "#c9ced4"),
    (0.7, "#f4a261"),
    (0.85, "#e63946"),
    (1.0, "#6a040f"),
)
"""Link utilisation: grey up to half full, then orange to dark red, so the hot links stand
out on a map of mostly idle ones."""


ATTAINMENT_SCALE = _scale(pcolors.diverging.RdYlGn)
"""SLO attainment of a demand region: red at 90% or less, green at 100%."""
ATTAINMENT_RANGE = (0.9, 1.0)


def link_colour(utilisation: float) -> str:
    """The colour of a link utilisation, rounded to one of LINK_BANDS + 1 bands."""
    value = min(max(utilisation, 0.0), 1.0) if math.isfinite(utilisation) else 0.0
    return _link_bands()[round(value * LINK_BANDS)]


@cache
def _link_bands() -> tuple[str, ...]:
    return tuple(
        pcolors.sample_colorscale(
            [list(point) for point in LINK_SCALE], [i / LINK_BANDS for i in range(LINK_BANDS + 1)]
        )
    )


def region_size(arrivals: int, largest: int) -> float:
    """A demand region's marker diameter in pixels: its area grows with its requests."""
    return 6.0 + 20.0 * math.sqrt(max(arrivals, 0) / max(largest, 1))


def marker_size(accelerators: int, largest: int) -> float:
    """A factory's marker diameter in pixels: its area grows with its accelerators."""
    return 9.0 + 31.0 * math.sqrt(max(accelerators, 0) / max(largest, 1))


def legend_counts(largest: int) -> list[int]:
    """Round accelerator counts for the size legend: the largest site's, rounded to one
    significant figure, then a tenth and a hundredth of it (those of at least 1)."""
    if largest < 1:
        return []
    top = 10 ** math.floor(math.log10(largest))
    top = round(largest / top) * top
    return [n for n in (top, top // 10, top // 100) if n >= 1]


def size_legend(largest: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Shapes and annotations of a size legend in the map's lower left corner: a row of
    circles on one baseline, one per :func:`legend_counts`, each the size a factory of that
    many accelerators is drawn, its count under it."""
    counts = legend_counts(largest)
    if not counts:
        return [], []
    base_x, base_y, gap = 0.01, 0.04, 10.0
    widest = marker_size(counts[0], largest)
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = [_note("accelerators", base_x, base_y, 0.0, widest + 4, "left")]
    left = 0.0
    for count in counts:
        diameter = marker_size(count, largest)
        middle = left + diameter / 2
        shapes.append(
            {
                "type": "circle",
                "xref": "paper",
                "yref": "paper",
                "xsizemode": "pixel",
                "ysizemode": "pixel",
                "xanchor": base_x,
                "yanchor": base_y,
                "x0": left,
                "x1": left + diameter,
                "y0": 0,
                "y1": diameter,
                "line": {"color": "#3d4650", "width": 1},
                "fillcolor": "rgba(255,255,255,0.5)",
            }
        )
        notes.append(_note(f"{count:,}", base_x, base_y, middle, -16, "center"))
        left += max(diameter, 46.0) + gap
    return shapes, notes


def _note(text: str, x: float, y: float, dx: float, dy: float, anchor: str) -> dict[str, Any]:
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": x,
        "y": y,
        "xshift": dx,
        "yshift": dy,
        "xanchor": anchor,
        "yanchor": "bottom",
        "showarrow": False,
        "font": {"size": 11, "color": "#3d4650"},
    }
