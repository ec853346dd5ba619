"""Replay: the map of Europe at simulated time t, and the series of one factory or link."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html, no_update
from twin.dashboards import figures, ids
from twin.dashboards.components import (
    DATA_ERRORS,
    Context,
    default_run,
    graph,
    load,
    message,
    player,
    query_value,
    register_player,
    run_options,
    run_status,
    slider_settings,
    speed_options,
)
from twin.dashboards.data import RunData, RunStore

PATH = "/replay"
TITLE = "Replay"
PLAYER = ids.REPLAY_PLAYER


def layout(context: Context, search: str | None = None) -> html.Div:
    run = default_run(context.store, query_value(search, "run"))
    return html.Div(
        [
            html.Div(
                [
                    html.H2(TITLE),
                    dcc.Dropdown(
                        id=ids.REPLAY_RUN,
                        options=run_options(context.store, run),
                        value=run,
                        clearable=False,
                        className="run-picker",
                    ),
                    html.Div(id=ids.REPLAY_STATUS, className="status"),
                ],
                className="page-head",
            ),
            player(PLAYER),
            html.Div(
                [
                    html.Div(
                        graph(ids.REPLAY_MAP, context, style={"height": "560px"}),
                        className="map-column",
                    ),
                    html.Div(
                        [
                            dcc.Dropdown(
                                id=ids.REPLAY_SELECT,
                                placeholder="click a factory or link on the map, or pick one",
                                clearable=False,
                            ),
                            graph(ids.REPLAY_SERIES, context),
                        ],
                        className="series-column",
                    ),
                ],
                className="replay-body",
            ),
        ]
    )


# ---------------------------------------------------------------------------------------------
# The functions behind the callbacks (called directly by tests and the benchmark)
# ---------------------------------------------------------------------------------------------


def map_frame(
    store: RunStore, run: str | None, t: float | None, selected: str | None = None
) -> tuple[go.Figure, str]:
    """The map at ``t`` and the clock text. Cost: two binary searches and one stamp's rows."""
    data, problem = load(store, run)
    if data is None:
        return figures.empty_figure(problem or "no run"), ""
    try:
        now = data.timeline.first_s if t is None else float(t)
        snapshot = data.snapshot(now)
    except DATA_ERRORS as error:
        return figures.empty_figure(f"{run}: {error}"), ""
    figure = figures.map_figure(data.geo, snapshot, selected=_id(selected), uirevision=data.name)
    return figure, figures.time_label(now, data.start)


def series_frame(store: RunStore, run: str | None, selected: str | None, t: float | None):
    """The stacked series of the selected factory (``site:<id>``) or link (``link:<id>``)."""
    data, problem = load(store, run)
    if data is None:
        return figures.empty_figure(problem or "no run")
    if not selected:
        return figures.empty_figure("pick a factory or a link")
    kind, _, key = selected.partition(":")
    try:
        if kind == "link":
            panels, title = data.link_series(key), f"link {key}"
        else:
            node = data.geo.nodes.get(key)
            panels, title = data.site_series(key), node.name if node else key
    except DATA_ERRORS as error:
        return figures.empty_figure(f"{run}: {error}")
    return figures.series_figure(panels, start=data.start, t=t, title=title)


def selection_options(store: RunStore, run: str | None) -> list[dict[str, str]]:
    data, _ = load(store, run)
    if data is None:
        return []
    try:
        sites = data.sites.keys
    except DATA_ERRORS:
        sites = []
    names = {node.id: node.name for node in data.geo.sites}
    options = [
        {"label": f"factory · {names.get(s, s)}", "value": f"site:{s}"}
        for s in sorted(set(sites) | set(names), key=lambda s: names.get(s, s))
    ]
    try:
        links = data.links
    except DATA_ERRORS:
        links = None
    if links is not None:
        options += [{"label": f"link · {k}", "value": f"link:{k}"} for k in sorted(links.keys)]
    return options


def default_selection(data: RunData, values: list[str]) -> str | None:
    """The largest factory (most accelerators), else the first choice."""
    sites = sorted(data.geo.sites, key=lambda node: -node.accelerators)
    wanted = [f"site:{node.id}" for node in sites if f"site:{node.id}" in values]
    return (wanted or values or [None])[0]


def _id(selected: str | None) -> str | None:
    return selected.partition(":")[2] if selected else None


def register(app: Dash, context: Context) -> None:
    store = context.store
    register_player(app, PLAYER)

    @app.callback(
        Output(ids.REPLAY_STATUS, "children"),
        Output(PLAYER.slider, "min"),
        Output(PLAYER.slider, "max"),
        Output(PLAYER.slider, "step"),
        Output(PLAYER.slider, "marks"),
        Output(PLAYER.slider, "value"),
        Output(PLAYER.speed, "options"),
        Output(ids.REPLAY_SELECT, "options"),
        Output(ids.REPLAY_SELECT, "value"),
        Input(ids.REPLAY_RUN, "value"),
        State(PLAYER.slider, "value"),
        State(ids.REPLAY_SELECT, "value"),
    )
    def choose_run(run: str | None, t: float | None, selected: str | None) -> tuple[Any, ...]:
        info = store.info(run) if run else None
        status: list[Any] = run_status(info) if info else [message("choose a run", "info")]
        empty = (status, 0, 1, 1, None, 0, speed_options(None), [], None)
        data, _ = load(store, run)
        if data is None:
            return empty
        try:
            timeline = data.timeline
        except DATA_ERRORS as error:
            return ([*status, message(f"{run}: {error}")], *empty[1:])
        settings = slider_settings(timeline, t)
        options = selection_options(store, run)
        values = [o["value"] for o in options]
        choice = selected if selected in values else default_selection(data, values)
        return (
            status,
            settings["min"],
            settings["max"],
            settings["step"],
            settings["marks"],
            settings["value"],
            speed_options(timeline),
            options,
            choice,
        )

    @app.callback(
        Output(ids.REPLAY_MAP, "figure"),
        Output(PLAYER.clock, "children"),
        Input(PLAYER.slider, "value"),
        Input(ids.REPLAY_RUN, "value"),
        Input(ids.REPLAY_SELECT, "value"),
    )
    def draw_map(t: float | None, run: str | None, selected: str | None) -> tuple[Any, str]:
        return map_frame(store, run, t, selected)

    @app.callback(
        Output(ids.REPLAY_SELECT, "value", allow_duplicate=True),
        Input(ids.REPLAY_MAP, "clickData"),
        prevent_initial_call=True,
    )
    def click(click_data: dict | None) -> Any:
        try:
            kind, key = click_data["points"][0]["customdata"][:2]  # type: ignore[index]
        except (TypeError, KeyError, IndexError, ValueError):
            return no_update
        return f"{kind}:{key}" if kind in ("site", "link") else no_update

    @app.callback(
        Output(ids.REPLAY_SERIES, "figure"),
        Input(ids.REPLAY_SELECT, "value"),
        Input(ids.REPLAY_RUN, "value"),
        State(PLAYER.slider, "value"),
    )
    def draw_series(selected: str | None, run: str | None, t: float | None) -> Any:
        return series_frame(store, run, selected, t)

    app.clientside_callback(
        figures.CURSOR_JS,
        Output(ids.REPLAY_SERIES, "figure", allow_duplicate=True),
        Input(PLAYER.slider, "value"),
        State(ids.REPLAY_SERIES, "figure"),
        prevent_initial_call=True,
    )
