"""The map's controls (site names, demand regions, what colours the sites) and its frame at
a time: Replay's map, and Compare's two."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dash import dcc, html
from twin.dashboards import figures, ids, inputs, maps
from twin.dashboards.components import DATA_ERRORS, load
from twin.dashboards.errors import RunError
from twin.dashboards.map_style import SITE_COLOURINGS
from twin.dashboards.store import RunStore


def map_controls(
    layers_id: str = ids.REPLAY_LAYERS, colour_id: str = ids.REPLAY_COLOUR
) -> html.Div:
    """The map's optional layers (site names, demand regions) and what the factories'
    colour shows (Replay's, or with other ids the controls of Compare's two maps)."""
    return html.Div(
        [
            dcc.Checklist(
                id=layers_id,
                options=[
                    {"label": " site names", "value": "labels"},
                    {"label": " demand regions", "value": "regions"},
                ],
                value=["regions"],
                inline=True,
            ),
            html.Label("colour sites by", htmlFor=colour_id),
            dcc.RadioItems(
                id=colour_id,
                options=[
                    {"label": f" {c.label}", "value": c.key} for c in SITE_COLOURINGS.values()
                ],
                value="utilisation",
                inline=True,
            ),
        ],
        className="map-controls",
    )


def map_frame(
    store: RunStore,
    run: Any,
    t: Any,
    selected: Any = None,
    *,
    title: str | None = None,
    height: int = 640,
    layers: Any = None,
    colour_by: Any = None,
) -> tuple[figures.Figure, str]:
    """The map at ``t`` and the clock text. Cost: two binary searches and one stamp's rows;
    the figure of a stamp (and of the sites down and links cut at ``t``) is built once
    (shared by every request for it)."""
    data, problem = load(store, run)
    if data is None:
        return figures.empty_figure(problem or "no run"), ""
    try:
        wanted = inputs.time_s(t)
        try:
            chosen = inputs.selection(selected)
        except inputs.InputError:  # nothing outlined: the map still shows
            chosen = None
        timeline = data.timeline
        now = timeline.first_s if wanted is None else timeline.clamp(wanted)
        stamp = data.sites.rows_at(now)[2]
        key = chosen[1] if chosen else None
        shown = layers if isinstance(layers, (list, tuple)) else ["regions"]
        named, regions = "labels" in shown, "regions" in shown
        colouring = (
            colour_by if isinstance(colour_by, str) and colour_by in SITE_COLOURINGS else None
        )
        colouring = colouring or "utilisation"
        history = data.faults
        broken = (history.down_sites(now), history.cut_links(now)) if history else None
        day = (data.start + dt.timedelta(seconds=now)).date()  # planned sites change by day
        stamps = (stamp, *_other_stamps(data, now), day)

        def build() -> figures.Figure:
            snapshot = data.snapshot(now)
            return maps.map_figure(
                data.geo,
                snapshot,
                selected=key,
                title=title,
                height=height,
                uirevision=data.name,
                start=data.start,
                labels=named,
                colour_by=colouring,
                regions=regions,
            )

        figure = store.derived.get(
            ("map", data.token, stamps, broken, key, title, height, named, colouring, regions),
            build,
        )
    except DATA_ERRORS as error:
        return figures.empty_figure(f"{inputs.shown(run)}: {error}"), ""
    return figure, figures.time_label(now, data.start)


def _other_stamps(data: Any, now: float) -> tuple[float | None, float | None]:
    """The links' and the demand regions' stamps at ``now`` (their tables may be stamped
    apart from the sites'; a region interval that has not ended yet has none)."""
    links = data.links
    link_stamp = links.rows_at(now)[2] if links is not None else None
    try:
        table = data.regions
    except RunError:  # unreadable: the map draws without regions
        table = None
    region_stamp = table.view.rows_at(now)[2] if table is not None else None
    if region_stamp is not None and region_stamp > now:
        region_stamp = None
    return link_stamp, region_stamp
