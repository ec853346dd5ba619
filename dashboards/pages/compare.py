"""Compare: two runs side by side: what each is (span, start, seed, what-ifs), what B's config
changes against A's, KPI deltas coloured by whether they are better, overlaid network totals
with the shorter run's end marked, and both maps replayed by one slider."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html
from twin.dashboards import figures, guard, ids, inputs
from twin.dashboards.components import (
    DATA_ERRORS,
    Context,
    default_run,
    format_duration,
    format_number,
    graph,
    load,
    message,
    run_made,
    run_options,
    slider_settings,
    status_badge,
)
from twin.dashboards.map_frames import map_controls, map_frame
from twin.dashboards.overlays import mark_end, overlay_panels
from twin.dashboards.player import follow_cursor, player, register_player, speed_options
from twin.dashboards.store import RunInfo, RunStore
from twin.dashboards.values import KpiDelta, Timeline, kpi_deltas, per_day

from twin.analysis.config_diff import config_diff, shown_value

PATH = "/compare"
TITLE = "Compare"
PLAYER = ids.COMPARE_PLAYER
MAX_CHANGES = 60
"""Changed config paths listed (the rest counted)."""


def layout(context: Context, search: str | None = None) -> html.Div:
    a = default_run(context.store, inputs.query_value(search, "a"))
    b = default_run(context.store, inputs.query_value(search, "b"), skip=a)
    options = run_options(context.store, a, b)

    def picker(id: str, label: str, value: str | None) -> html.Div:
        return html.Div(
            [
                html.Label(label),
                dcc.Dropdown(id=id, options=options, value=value, clearable=False),
            ],
            className="filter wide",
        )

    return html.Div(
        [
            html.Div(
                [
                    html.H2(TITLE),
                    picker(ids.COMPARE_A, "A (baseline)", a),
                    picker(ids.COMPARE_B, "B (what-if)", b),
                ],
                className="page-head",
            ),
            html.Div(id=ids.COMPARE_STATUS, className="status"),
            html.Div(id=ids.COMPARE_DIFF, className="config-diff"),
            html.Div(
                [
                    html.Div(id=ids.COMPARE_KPIS, className="half"),
                    html.Div(graph(ids.COMPARE_SERIES, context), className="half"),
                ],
                className="row",
            ),
            player(PLAYER),
            map_controls(ids.COMPARE_LAYERS, ids.COMPARE_COLOUR),
            html.Div(
                [
                    html.Div(graph(ids.COMPARE_MAP_A, context), className="half"),
                    html.Div(graph(ids.COMPARE_MAP_B, context), className="half"),
                ],
                className="row",
            ),
        ]
    )


# ---------------------------------------------------------------------------------------------
# The functions behind the callbacks
# ---------------------------------------------------------------------------------------------


def kpi_table(
    rows: list[KpiDelta], name_a: str, name_b: str, caption: str | None = None
) -> html.Table:
    """KPI, A, B, B − A and the relative change."""

    def signed(value: float | None, suffix: str = "") -> str:
        return "–" if value is None else format_number(value, sign=True) + suffix

    return html.Table(
        [
            *([html.Caption(caption)] if caption else []),
            html.Thead(
                html.Tr([html.Th("KPI"), html.Th(name_a), html.Th(name_b), html.Th("Δ (B−A)")])
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Th(row.name),
                            html.Td(format_number(row.a)),
                            html.Td(format_number(row.b)),
                            html.Td(
                                [
                                    signed(row.delta),
                                    html.Span(
                                        f" ({signed(row.delta_pct, '%')})"
                                        if row.delta_pct is not None
                                        else "",
                                        className="muted",
                                    ),
                                ],
                                className=f"delta {row.tone}",
                            ),
                        ],
                        **{"data-kpi": row.name},
                    )
                    for row in rows
                ]
            ),
        ],
        className="kpi-table",
    )


def compare_frame(store: RunStore, a: Any, b: Any) -> tuple[Any, Any, Any]:
    """Status notes, KPI table and overlaid totals of runs A and B."""
    notes: list[Any] = []
    runs = []
    for label, name in (("A", a), ("B", b)):
        data, problem = load(store, name)
        if name:
            notes.append(run_facts(label, store.info(name), data))
        if data is None:
            notes.append(message(problem or "no run"))
        runs.append(data)
    data_a, data_b = runs
    if data_a is None or data_b is None:
        return notes, None, figures.empty_figure("choose two readable runs")
    try:
        kpis_a, kpis_b = data_a.kpis(), data_b.kpis()
        span_a, span_b = (_span_s(data) for data in (data_a, data_b))
        if span_a and span_b and abs(span_a - span_b) > 1e-6 * max(span_a, span_b):
            notes.append(
                message(
                    f"the runs cover different spans ({format_duration(span_a)} and "
                    f"{format_duration(span_b)} simulated): totals (jobs, energy, CO2, cost…) "
                    "are shown per day; the shorter run's series end early",
                    "warning",
                )
            )
            kpis_a, kpis_b = per_day(kpis_a, span_a), per_day(kpis_b, span_b)
            caption = "totals per simulated day"
        else:
            caption = None
        table = kpi_table(kpi_deltas(kpis_a, kpis_b), data_a.name, data_b.name, caption)
        series = store.derived.get(
            ("overlay", data_a.token, data_b.token),
            lambda: _overlay(data_a, data_b),
        )
    except DATA_ERRORS as error:
        return [*notes, message(str(error))], None, figures.empty_figure(str(error))
    return notes, table, series


def run_facts(label: str, info: RunInfo, data: Any) -> html.Div:
    """``A: [complete] europe · 1d 12h simulated of 7d from 2025-01-06 00:00 · seed 7 ·
    [what-ifs] [overrides]``, and the run's problem if it has one."""
    parts: list[Any] = [html.B(f"{label}: "), status_badge(info), " ", info.scenario]
    try:
        reached = _span_s(data) if data is not None else None
        start = data.start if data is not None else None
    except DATA_ERRORS:  # the table that says is unreadable: the notes say why
        reached = start = None
    if start is not None:
        span = format_duration(reached)
        if reached and info.horizon_s and reached < info.horizon_s * (1 - 1e-9):
            span += f" of {format_duration(info.horizon_s)}"
        parts.append(f" · {span} simulated from {start:%Y-%m-%d %H:%M}")
    if info.seed is not None:
        parts.append(f" · seed {info.seed}")
    parts += [" · ", *run_made(info)]
    if info.problem:
        parts.append(
            message(f"{info.name}: {info.problem}", "warning" if info.readable else "error")
        )
    return html.Div(parts, className="run-facts", **{"data-run": label})


def config_changes(store: RunStore, a: Any, b: Any) -> Any:
    """What B's resolved config changes against A's, as a list of ``path: A → B`` (the
    seed apart: the run facts show it)."""
    if not a or not b:
        return None
    try:
        changes = config_diff(store.config_dict(a), store.config_dict(b))
    except DATA_ERRORS as error:
        return message(f"no config diff: {error}", "warning")
    if not changes:
        return html.Div(
            "B's resolved config is A's (the seed apart)", className="muted", **{"data-changes": 0}
        )
    items = [
        html.Li(
            [
                html.Code(change.path),
                ": ",
                html.Span(shown_value(change.before), className="before"),
                " → ",
                html.Span(shown_value(change.after), className="after"),
            ]
        )
        for change in changes[:MAX_CHANGES]
    ]
    if len(changes) > MAX_CHANGES:
        items.append(html.Li(f"… and {len(changes) - MAX_CHANGES} more", className="muted"))
    paths = "path" if len(changes) == 1 else "paths"
    return html.Details(
        [html.Summary(f"What B changes against A: {len(changes)} config {paths}"), html.Ul(items)],
        open=len(changes) <= 12,
        **{"data-changes": len(changes)},
    )


def _overlay(data_a: Any, data_b: Any) -> figures.Figure:
    """Both runs' network totals overlaid; where one ends before the other, a line says so."""
    figure = figures.series_figure(
        overlay_panels(data_a.totals(), data_b.totals(), data_a.name, data_b.name),
        start=data_a.start,
        t=data_a.timeline.first_s,
        title="network totals",
    )
    end_a, end_b = data_a.timeline.last_s, data_b.timeline.last_s
    if abs(end_a - end_b) > 1e-9 * max(end_a, end_b, 1.0):
        shorter = data_a if end_a < end_b else data_b
        figure = mark_end(
            figure,
            min(end_a, end_b),
            data_a.start,
            f"{shorter.name} ends ({format_duration(min(end_a, end_b))})",
        )
    return figure


def _span_s(data: Any) -> float | None:
    """The simulated span a run reached (its horizon if it does not say)."""
    summary = data.summary
    span = summary.simulated_s if summary.simulated_s is not None else summary.horizon_s
    return float(span) if span else None


def joint_timeline(store: RunStore, a: Any, b: Any) -> Timeline | None:
    """One slider for both runs: the span covering both, at the finer step."""
    lines = []
    for name in (a, b):
        data, _ = load(store, name)
        if data is not None:
            try:
                lines.append(data.timeline)
            except DATA_ERRORS:
                continue
    if not lines:
        return None
    return Timeline(
        min(line.first_s for line in lines),
        max(line.last_s for line in lines),
        min(line.step_s for line in lines),
    )


def maps_frame(
    store: RunStore, a: Any, b: Any, t: Any, layers: Any = None, colour_by: Any = None
) -> tuple[Any, Any, str]:
    """Both maps at the same simulated time ``t``, with the same layers and colouring (a
    run that ended before ``t`` shows its last state, and its title says so)."""
    shown = {"height": 440, "layers": layers, "colour_by": colour_by}
    figure_a, clock = map_frame(store, a, t, title=_title(store, a, t), **shown)
    figure_b, clock_b = map_frame(store, b, t, title=_title(store, b, t), **shown)
    return figure_a, figure_b, clock or clock_b


def _title(store: RunStore, name: Any, t: Any) -> str:
    title = name if isinstance(name, str) and len(name) <= 80 else inputs.shown(name)
    data, _ = load(store, name)
    try:
        wanted = inputs.time_s(t)
        last = data.timeline.last_s if data is not None else None
    except (*DATA_ERRORS, inputs.InputError):
        return title
    if wanted is not None and last is not None and wanted > last:
        return f"{title}: ended at {format_duration(last)}, its last state"
    return title


def choose_frame(store: RunStore, a: Any, b: Any, t: Any) -> tuple[Any, ...]:
    """Runs A and B chosen: notes, KPI deltas, overlaid totals and the joint slider."""
    notes, table, series = compare_frame(store, a, b)
    changes = config_changes(store, a, b)
    timeline = joint_timeline(store, a, b)
    if timeline is None:
        return (notes, changes, table, series, 0, 1, 1, None, 0, speed_options(None))
    try:
        wanted = inputs.time_s(t)
    except inputs.InputError:
        wanted = None
    settings = slider_settings(timeline, wanted)
    return (
        notes,
        changes,
        table,
        series,
        settings["min"],
        settings["max"],
        settings["step"],
        settings["marks"],
        settings["value"],
        speed_options(timeline),
    )


def register(app: Dash, context: Context) -> None:
    store = context.store
    register_player(app, PLAYER)

    @guard.callback(
        app,
        Output(ids.COMPARE_STATUS, "children"),
        Output(ids.COMPARE_DIFF, "children"),
        Output(ids.COMPARE_KPIS, "children"),
        Output(ids.COMPARE_SERIES, "figure"),
        Output(PLAYER.slider, "min"),
        Output(PLAYER.slider, "max"),
        Output(PLAYER.slider, "step"),
        Output(PLAYER.slider, "marks"),
        Output(PLAYER.slider, "value"),
        Output(PLAYER.speed, "options"),
        Input(ids.COMPARE_A, "value"),
        Input(ids.COMPARE_B, "value"),
        State(PLAYER.slider, "value"),
    )
    def choose_runs(a: Any, b: Any, t: Any) -> tuple[Any, ...]:
        return choose_frame(store, a, b, t)

    @guard.callback(
        app,
        Output(ids.COMPARE_MAP_A, "figure"),
        Output(ids.COMPARE_MAP_B, "figure"),
        Output(PLAYER.clock, "children"),
        Input(PLAYER.slider, "value"),
        Input(ids.COMPARE_A, "value"),
        Input(ids.COMPARE_B, "value"),
        Input(ids.COMPARE_LAYERS, "value"),
        Input(ids.COMPARE_COLOUR, "value"),
    )
    def draw_maps(t: Any, a: Any, b: Any, layers: Any, colour_by: Any) -> tuple[Any, Any, str]:
        return maps_frame(store, a, b, t, layers, colour_by)

    follow_cursor(app, PLAYER, ids.COMPARE_SERIES)
