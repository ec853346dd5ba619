"""Two runs on one set of series: their panels merged (A solid, B dashed) and the end of the
shorter run marked, for Compare."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from twin.dashboards.figures import Figure, to_date
from twin.dashboards.values import Line, Panel


def overlay_panels(a: Sequence[Panel], b: Sequence[Panel], name_a: str, name_b: str) -> list[Panel]:
    """Panels of two runs with equal titles merged: A solid, B dashed."""
    by_title = {p.title: p for p in b}
    merged = []
    for panel in a:
        other = by_title.get(panel.title)
        lines = [Line(name_a, line.x, line.y) for line in panel.lines]
        if other is not None:
            lines += [Line(name_b, line.x, line.y, dash="dash") for line in other.lines]
        merged.append(replace(panel, lines=tuple(lines)))
    return merged


# ---------------------------------------------------------------------------------------------
# Histograms
# ---------------------------------------------------------------------------------------------


def mark_end(figure: Figure, t: float, start: dt.datetime, label: str) -> Figure:
    """``figure`` (a series figure) with a dotted line and ``label`` at simulated time ``t``
    (where one of the overlaid runs ends): a new figure, the cursor still its first shape."""
    layout = figure.get("layout", {})
    if "meta" not in layout:
        return figure
    x = to_date(t, start)
    line = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": "#b23c17", "width": 1.5, "dash": "dot"},
    }
    note = {
        "text": label,
        "x": x,
        "xref": "x",
        "y": 0.0,
        "yref": "paper",
        "yanchor": "bottom",
        "xanchor": "left",
        "xshift": 4,
        "showarrow": False,
        "bgcolor": "rgba(255,255,255,0.8)",
        "font": {"size": 11, "color": "#b23c17"},
    }
    shapes = [*(layout.get("shapes") or []), line]
    annotations = [*(layout.get("annotations") or []), note]
    return {**figure, "layout": {**layout, "shapes": shapes, "annotations": annotations}}
