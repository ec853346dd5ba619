"""Replay: the map of Europe at simulated time t (sites down and links cut marked), the
run's fault timeline under it, and the series of one factory or link."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from twin.dashboards import faults, figures, guard, ids, inputs
from twin.dashboards.components import (
    DATA_ERRORS,
    Context,
    default_run,
    graph,
    load,
    message,
    run_options,
    run_status,
    slider_settings,
)
from twin.dashboards.data import RunData
from twin.dashboards.map_frames import map_controls, map_frame
from twin.dashboards.player import follow_cursor, player, register_player, speed_options
from twin.dashboards.store import RunStore
from twin.dashboards.values import finite

PATH = "/replay"
TITLE = "Replay"
PLAYER = ids.REPLAY_PLAYER


def layout(context: Context, search: str | None = None) -> html.Div:
    run = default_run(context.store, inputs.query_value(search, "run"))
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
                        [
                            map_controls(),
                            graph(ids.REPLAY_MAP, context, style={"height": "640px"}),
                            html.Div(
                                graph(ids.REPLAY_FAULTS, context),
                                id=ids.REPLAY_FAULTS_BOX,
                                style={"display": "none"},
                            ),
                        ],
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
                            dcc.Link(
                                "explore this site's request latencies",
                                id=ids.REPLAY_LATENCY_LINK,
                                href="",
                                style={"display": "none"},
                            ),
                        ],
                        className="series-column",
                    ),
                ],
                className="replay-body",
            ),
            html.Div(graph(ids.REPLAY_TOTALS, context), className="totals-row"),
        ]
    )


# ---------------------------------------------------------------------------------------------
# The functions behind the callbacks (called directly by tests and the benchmark)
# ---------------------------------------------------------------------------------------------


def series_frame(store: RunStore, run: Any, selected: Any, t: Any) -> figures.Figure:
    """The stacked series of the selected factory (``site:<id>``) or link (``link:<id>``),
    with the cursor at ``t``: the series are built once per selection, the cursor per call."""
    data, problem = load(store, run)
    if data is None:
        return figures.empty_figure(problem or "no run")
    try:
        chosen = inputs.selection(selected)
        if chosen is None:
            return figures.empty_figure("pick a factory or a link")
        wanted = inputs.time_s(t)
        cursor = None if wanted is None else data.timeline.clamp(wanted)
        kind, key = chosen

        def build() -> figures.Figure:
            if kind == "link":
                if data.links is None or key not in data.links.keys:
                    return figures.empty_figure(f"not found: link {inputs.shown(key)}")
                return figures.series_figure(
                    data.link_series(key), start=data.start, title=f"link {key}"
                )
            node = data.geo.nodes.get(key)
            if node is None and key not in data.sites.keys:
                return figures.empty_figure(f"not found: factory {inputs.shown(key)}")
            title = node.name if node else key
            return figures.series_figure(data.site_series(key), start=data.start, title=title)

        figure = store.derived.get(("series", data.token, kind, key), build)
        return figures.move_cursor(figure, cursor, data.start)
    except DATA_ERRORS as error:
        return figures.empty_figure(f"{inputs.shown(run)}: {error}")


def totals_frame(store: RunStore, run: Any, t: Any) -> figures.Figure:
    """The network's totals over time (busy accelerators, power, queue; energy, CO2 and
    cost so far), with the cursor at ``t``: built once per run, the cursor per call."""
    data, problem = load(store, run)
    if data is None:
        return figures.empty_figure(problem or "no run")
    try:
        wanted = inputs.time_s(t)
        cursor = data.timeline.first_s if wanted is None else data.timeline.clamp(wanted)

        def build() -> figures.Figure:
            return figures.series_figure(
                data.totals(), start=data.start, title="network totals", height_per_panel=110
            )

        figure = store.derived.get(("totals", data.token), build)
        return figures.move_cursor(figure, cursor, data.start)
    except DATA_ERRORS as error:
        return figures.empty_figure(f"{inputs.shown(run)}: {error}")


def faults_frame(store: RunStore, run: Any, t: Any) -> tuple[figures.Figure, dict[str, str]]:
    """The run's fault timeline with the cursor at ``t``, and its box's style (hidden for a
    run without faults): built once per run, the cursor per call."""
    hidden = {"display": "none"}
    data, _ = load(store, run)
    if data is None:
        return figures.empty_figure(""), hidden
    try:
        history = data.faults
        if history is None:
            return figures.empty_figure(""), hidden
        wanted = inputs.time_s(t)
        timeline = data.timeline
        cursor = timeline.first_s if wanted is None else timeline.clamp(wanted)
        horizon = finite(data.manifest.get("horizon_s")) or timeline.last_s

        def build() -> figures.Figure:
            return faults.timeline_figure(history, start=data.start, horizon_s=horizon)

        figure = store.derived.get(("faults", data.token), build)
        return figures.move_cursor(figure, cursor, data.start), {}
    except DATA_ERRORS as error:
        return figures.empty_figure(f"faults: {error}", height=120), {}


def selection_options(store: RunStore, run: Any) -> list[dict[str, str]]:
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
    """The largest factory (most accelerators) open at the start, else the largest, else
    the first choice: a site still being built has nothing to show yet."""
    try:
        first = data.snapshot(data.timeline.first_s).sites
    except DATA_ERRORS:
        first = {}
    sites = sorted(
        data.geo.sites,
        key=lambda node: (not (node.id in first and first[node.id].online), -node.accelerators),
    )
    wanted = [f"site:{node.id}" for node in sites if f"site:{node.id}" in values]
    return (wanted or values or [None])[0]


def run_frame(store: RunStore, run: Any, t: Any, selected: Any) -> tuple[Any, ...]:
    """A run chosen: its status, the slider over its timeline, and what can be selected."""
    info = store.info(run) if run else None
    status: list[Any] = run_status(info) if info else [message("choose a run", "info")]
    empty = (status, 0, 1, 1, None, 0, speed_options(None), [], None)
    data, _ = load(store, run)
    if data is None:
        return empty
    try:
        timeline = data.timeline
        wanted = inputs.time_s(t)
    except DATA_ERRORS as error:
        return ([*status, message(f"{inputs.shown(run)}: {error}")], *empty[1:])
    settings = slider_settings(timeline, wanted)
    options = selection_options(store, run)
    values = [o["value"] for o in options]
    choice = selected if isinstance(selected, str) and selected in values else None
    choice = choice or default_selection(data, values)
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


def latency_link_frame(context: Context, run: Any, selected: Any) -> tuple[str, dict[str, str]]:
    """A link to the latency explorer on the chosen site, if it served inference."""
    hidden = ("", {"display": "none"})
    try:
        chosen = inputs.selection(selected)
    except inputs.InputError:
        return hidden
    data, _ = load(context.store, run)
    if chosen is None or chosen[0] != "site" or data is None or not isinstance(run, str):
        return hidden
    try:
        sites = {row["site"] for row in data.summary.service_sites}
    except DATA_ERRORS:
        return hidden
    if chosen[1] not in sites:
        return hidden
    return context.link("/latency", run=run, site=chosen[1]), {}


def register(app: Dash, context: Context) -> None:
    store = context.store
    register_player(app, PLAYER)

    @guard.callback(
        app,
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
    def choose_run(run: Any, t: Any, selected: Any) -> tuple[Any, ...]:
        return run_frame(store, run, t, selected)

    @guard.callback(
        app,
        Output(ids.REPLAY_MAP, "figure"),
        Output(PLAYER.clock, "children"),
        Input(PLAYER.slider, "value"),
        Input(ids.REPLAY_RUN, "value"),
        Input(ids.REPLAY_SELECT, "value"),
        Input(ids.REPLAY_LAYERS, "value"),
        Input(ids.REPLAY_COLOUR, "value"),
    )
    def draw_map(t: Any, run: Any, selected: Any, layers: Any, colour_by: Any) -> tuple[Any, str]:
        return map_frame(store, run, t, selected, layers=layers, colour_by=colour_by)

    @guard.callback(
        app,
        Output(ids.REPLAY_SELECT, "value", allow_duplicate=True),
        Input(ids.REPLAY_MAP, "clickData"),
        prevent_initial_call=True,
    )
    def click(click_data: Any) -> Any:
        return inputs.clicked(click_data) or no_update

    @guard.callback(
        app,
        Output(ids.REPLAY_FAULTS, "figure"),
        Output(ids.REPLAY_FAULTS_BOX, "style"),
        Input(ids.REPLAY_RUN, "value"),
        State(PLAYER.slider, "value"),
    )
    def draw_faults(run: Any, t: Any) -> tuple[Any, Any]:
        return faults_frame(store, run, t)

    @guard.callback(
        app,
        Output(ids.REPLAY_SELECT, "value", allow_duplicate=True),
        Input(ids.REPLAY_FAULTS, "clickData"),
        prevent_initial_call=True,
    )
    def click_fault(click_data: Any) -> Any:
        return inputs.clicked(click_data) or no_update

    @guard.callback(
        app,
        Output(ids.REPLAY_SERIES, "figure"),
        Input(ids.REPLAY_SELECT, "value"),
        Input(ids.REPLAY_RUN, "value"),
        State(PLAYER.slider, "value"),
    )
    def draw_series(selected: Any, run: Any, t: Any) -> Any:
        return series_frame(store, run, selected, t)

    @guard.callback(
        app,
        Output(ids.REPLAY_TOTALS, "figure"),
        Input(ids.REPLAY_RUN, "value"),
        State(PLAYER.slider, "value"),
    )
    def draw_totals(run: Any, t: Any) -> Any:
        return totals_frame(store, run, t)

    follow_cursor(app, PLAYER, ids.REPLAY_TOTALS)

    @guard.callback(
        app,
        Output(ids.REPLAY_LATENCY_LINK, "href"),
        Output(ids.REPLAY_LATENCY_LINK, "style"),
        Input(ids.REPLAY_SELECT, "value"),
        Input(ids.REPLAY_RUN, "value"),
    )
    def latency_link(selected: Any, run: Any) -> tuple[str, dict[str, str]]:
        return latency_link_frame(context, run, selected)

    follow_cursor(app, PLAYER, ids.REPLAY_SERIES)

    follow_cursor(app, PLAYER, ids.REPLAY_FAULTS)
