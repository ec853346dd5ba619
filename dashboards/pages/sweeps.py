"""Sweeps: a metric against a chosen parameter, one line per value of another, with CI bands
over seeds (a click on a mean links to its configuration's runs); the table of points, each
opening its run in Replay; two configurations compared (paired over their common seeds) and
opened in Compare."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dash_table, dcc, html
from twin.dashboards import figures, guard, ids, inputs
from twin.dashboards.components import Context, graph, message
from twin.dashboards.errors import RunError
from twin.dashboards.limits import MAX_NAME_CHARS, MAX_SHOWN_POINTS
from twin.dashboards.store import RunStore
from twin.dashboards.sweep_tables import cut, metric_words, pair_table, points_table
from twin.dashboards.sweeps import Sweep, SweepInfo, load_sweep, sweep_info, sweep_infos

PATH = "/sweeps"
TITLE = "Sweeps"
PAGE_SIZE = 20
NO_SWEEP: tuple[Any, ...] = ([], None, [], None, [], None, [], [], [], None, [], None, [], [])
"""The pickers and the table of choose_sweep when no sweep can be shown."""


def layout(context: Context, search: str | None = None) -> html.Div:
    """The page; ``?sweep=NAME`` (and ``metric``, ``x``, ``line``) choose what it shows."""
    store = context.store
    wanted = inputs.query_value(search, "sweep")
    infos = sweep_infos(store)
    names = [info.name for info in infos]
    options = [{"label": _sweep_label(info), "value": info.name} for info in infos]
    if wanted and wanted not in names:
        options.append({"label": inputs.shown(wanted), "value": wanted})
    sweep = wanted or (names[0] if names else None)

    def picker(id: str, label: str, value: str | None = None, **kwargs: Any) -> html.Div:
        return html.Div(
            [html.Label(label), dcc.Dropdown(id=id, value=value, **kwargs)],
            className="filter wide",
        )

    return html.Div(
        [
            html.Div(
                [
                    html.H2(TITLE),
                    dcc.Dropdown(
                        id=ids.SWEEP_PICK,
                        options=options,
                        value=sweep,
                        clearable=False,
                        placeholder="no sweeps yet: make one with `twin sweep`",
                        className="run-picker",
                    ),
                ],
                className="page-head",
            ),
            html.Div(id=ids.SWEEP_STATUS, className="status"),
            html.Div(
                [
                    picker(
                        ids.SWEEP_METRIC,
                        "metric",
                        inputs.query_value(search, "metric"),
                        clearable=False,
                    ),
                    picker(
                        ids.SWEEP_X, "against", inputs.query_value(search, "x"), clearable=False
                    ),
                    picker(
                        ids.SWEEP_LINE,
                        "one line per value of",
                        inputs.query_value(search, "line"),
                        placeholder="(one line)",
                    ),
                    picker(
                        ids.SWEEP_HOLD,
                        "other parameters held at",
                        [],
                        multi=True,
                        placeholder="(their first values)",
                    ),
                ],
                className="filters",
            ),
            html.Div(id=ids.SWEEP_NOTE, className="muted"),
            graph(ids.SWEEP_FIGURE, context),
            html.Div(
                "click a mean to open its configuration's runs",
                id=ids.SWEEP_CLICKED,
                className="muted",
            ),
            html.H3("Points"),
            dash_table.DataTable(
                id=ids.SWEEP_POINTS,
                page_size=PAGE_SIZE,
                sort_action="native",
                markdown_options={"link_target": "_self", "html": False},
                style_table={"overflowX": "auto"},
                style_cell={"fontSize": 13, "padding": "3px 8px", "textAlign": "left"},
                style_data_conditional=[
                    {"if": {"filter_query": "{status} = failed"}, "backgroundColor": "#fdecea"},
                    {"if": {"filter_query": "{status} = incomplete"}, "backgroundColor": "#fff4e5"},
                ],
            ),
            html.H3("Two configurations"),
            html.Div(
                [
                    picker(ids.SWEEP_A, "A (baseline)", clearable=False),
                    picker(ids.SWEEP_B, "B (what-if)", clearable=False),
                ],
                className="filters",
            ),
            html.Div(id=ids.SWEEP_PAIR),
        ]
    )


def _sweep_label(info: SweepInfo) -> str:
    if not info.readable:
        return f"{info.name} ({info.status})"
    return f"{info.name} ({info.points} points, {info.configurations} configurations)"


# ---------------------------------------------------------------------------------------------
# The functions behind the callbacks (called directly by tests)
# ---------------------------------------------------------------------------------------------


def open_sweep(store: RunStore, name: Any) -> tuple[Sweep | None, str | None]:
    """The sweep, or why it can't be shown."""
    if name is None or name == "":
        return None, "choose a sweep"
    if inputs.text(name, MAX_NAME_CHARS) is None:
        return None, f"refused: {inputs.shown(name)} is not a sweep name"
    try:
        return load_sweep(store, name), None
    except RunError as error:
        return None, str(error)


def sweep_frame(
    context: Context, name: Any, metric: Any, x: Any, line: Any, a: Any, b: Any
) -> tuple[Any, ...]:
    """A sweep chosen: its status, the pickers (keeping valid choices; nothing held), the
    points table."""
    sweep, problem = open_sweep(context.store, name)
    if sweep is None:
        return (message(problem or "choose a sweep", "error" if name else "info"), *NO_SWEEP)
    info = sweep_info(context.store, name)
    status: list[Any] = [
        html.Span(sweep.status, className=f"badge badge-{sweep.status}"),
        f" {len(sweep.points)} points, {len(sweep.configurations)} configurations",
    ]
    if info.problem:
        status.append(message(info.problem, "warning"))
    if not sweep.params:
        status.append(message("no swept parameters: nothing to plot against", "info"))
    if len(sweep.points) > MAX_SHOWN_POINTS:
        shown = f"the table shows the first {MAX_SHOWN_POINTS:,} of {len(sweep.points):,} points"
        status.append(message(shown, "info"))
    metrics = [{"label": f"{m} ({metric_words(m)})", "value": m} for m in sweep.metrics]
    params = [{"label": p, "value": p} for p in sweep.params]
    configs = [{"label": cut(c.label), "value": c.id} for c in sweep.configurations.values()]
    metric = _chosen(metric, sweep.metrics) or (sweep.metrics or (None,))[0]
    x = _chosen(x, sweep.params) or (sweep.params or (None,))[0]
    others = [p for p in sweep.params if p != x]
    line = _chosen(line, others) or (others[0] if len(others) == 1 else None)
    config_ids = list(sweep.configurations)
    a = _chosen(a, config_ids) or (config_ids or [None])[0]
    b = _chosen(b, [c for c in config_ids if c != a]) or next(
        (c for c in config_ids if c != a), None
    )
    columns, rows = points_table(context, sweep)
    held = [
        {"label": cut(f"{p}={v}"), "value": f"{p}={v}"}
        for p in sweep.params
        for v in sweep.order(p)
    ]
    return (
        status,
        metrics,
        metric,
        params,
        x,
        params,
        line,
        held if len(sweep.params) > 1 else [],
        [],
        configs,
        a,
        configs,
        b,
        columns,
        rows,
    )


def figure_frame(
    store: RunStore, name: Any, metric: Any, x: Any, line: Any, hold: Any = None
) -> tuple[Any, Any]:
    """The metric's mean and CI band against ``x``, one band per value of ``line``, the
    other parameters held at the ``hold`` values chosen (``path=value``) or their first;
    and a note saying the metric's unit and direction, and what was held."""
    sweep, problem = open_sweep(store, name)
    if sweep is None:
        return figures.empty_figure(problem or "choose a sweep"), None
    for what, value, allowed in (("metric", metric, sweep.metrics), ("parameter", x, sweep.params)):
        if value is None or value == "":
            return figures.empty_figure(f"choose a {what}"), None
        if _chosen(value, allowed) is None:
            return figures.empty_figure(f"not found: {what} {inputs.shown(value)}"), None
    if line is not None and line != "" and _chosen(line, sweep.params) is None:
        return figures.empty_figure(f"not found: parameter {inputs.shown(line)}"), None
    try:
        held = held_values(sweep, hold)
    except inputs.InputError as error:
        return figures.empty_figure(str(error)), None
    key = ("sweep figure", sweep.name, sweep.version, metric, x, line or None, held)
    return store.derived.get(key, lambda: _figure(sweep, metric, x, line or None, dict(held)))


def held_values(sweep: Sweep, hold: Any) -> tuple[tuple[str, str], ...]:
    """The ``path=value`` choices of the hold picker as (path, value) pairs, the last one
    per path; InputError for one that is not a value of the sweep."""
    found: dict[str, str] = {}
    for choice in inputs.choices(hold, "held value"):
        path, _, value = choice.partition("=")
        if path not in sweep.params or value not in sweep.order(path):
            raise inputs.InputError(f"not found: {inputs.shown(choice)} is not a swept value")
        found[path] = value
    return tuple(sorted(found.items()))


def _figure(
    sweep: Sweep, metric: str, x: str, line: str | None, hold: dict[str, str]
) -> tuple[Any, Any]:
    """The figure and note of :func:`figure_frame` (built once per sweep version)."""
    chosen = sweep.bands(metric, x, line, hold)
    figure = figures.band_figure(
        chosen.bands,
        x_title=x,
        y_title=f"{metric} ({metric_words(metric).split(',')[0]})",
        title=f"{metric} against {x}: mean and 95% CI over seeds",
        order=chosen.order,
        numeric=chosen.numeric,
    )
    notes = [f"{metric}: {metric_words(metric)}; complete points only."]
    if chosen.held:
        held = ", ".join(f"{p}={cut(v)}" for p, v in chosen.held.items())
        notes.append(f" Held at: {held} (choose other values, or a line parameter).")
    return figure, notes


def clicked_frame(context: Context, name: Any, click: Any) -> Any:
    """The runs of the configuration whose mean was clicked: one Replay link per seed."""
    sweep, problem = open_sweep(context.store, name)
    if sweep is None:
        return problem
    try:
        config = click["points"][0]["customdata"][4]
    except (TypeError, KeyError, IndexError):
        config = None
    found = sweep.configurations.get(config) if isinstance(config, str) else None
    if found is None:
        return "click a mean to open its configuration's runs"
    links: list[Any] = [f"{cut(found.label)}: "]
    for point in found.points:
        if len(links) > 1:
            links.append(" · ")
        text = f"seed {point.seed}" + ("" if point.status == "complete" else f" ({point.status})")
        links.append(dcc.Link(text, href=context.link("/replay", run=point.run)))
    return links


def pair_frame(context: Context, name: Any, a: Any, b: Any) -> Any:
    """B against A: every metric's means and the paired difference B − A over their common
    seeds, and a link opening one common seed of each in Compare."""
    sweep, problem = open_sweep(context.store, name)
    if sweep is None:
        return message(problem or "choose a sweep", "info")
    config_ids = list(sweep.configurations)
    if _chosen(a, config_ids) is None or _chosen(b, config_ids) is None:
        return message("choose two configurations of the sweep", "info")
    if a == b:
        return message("choose two different configurations", "info")
    seed = sweep.common_seed(a, b)
    if seed is None:
        link: Any = message("the two configurations have no complete seed in common", "warning")
    else:
        run_a, run_b = sweep.run_of(a, seed), sweep.run_of(b, seed)
        link = html.Div(
            [
                dcc.Link(
                    f"open seed {seed} of both in Compare",
                    href=context.link("/compare", a=run_a, b=run_b),
                    id=ids.SWEEP_COMPARE_LINK,
                ),
                html.Span(
                    " (Compare shows two single runs: the first seed both completed; the "
                    "table here is over all their common seeds)",
                    className="muted",
                ),
            ]
        )
    return [link, pair_table(sweep, a, b)]


def _chosen(value: Any, allowed: Any) -> str | None:
    """``value`` if it is one of the ``allowed`` strings, else None."""
    return value if isinstance(value, str) and value in allowed else None


def register(app: Dash, context: Context) -> None:
    store = context.store

    @guard.callback(
        app,
        Output(ids.SWEEP_STATUS, "children"),
        Output(ids.SWEEP_METRIC, "options"),
        Output(ids.SWEEP_METRIC, "value"),
        Output(ids.SWEEP_X, "options"),
        Output(ids.SWEEP_X, "value"),
        Output(ids.SWEEP_LINE, "options"),
        Output(ids.SWEEP_LINE, "value"),
        Output(ids.SWEEP_HOLD, "options"),
        Output(ids.SWEEP_HOLD, "value"),
        Output(ids.SWEEP_A, "options"),
        Output(ids.SWEEP_A, "value"),
        Output(ids.SWEEP_B, "options"),
        Output(ids.SWEEP_B, "value"),
        Output(ids.SWEEP_POINTS, "columns"),
        Output(ids.SWEEP_POINTS, "data"),
        Input(ids.SWEEP_PICK, "value"),
        State(ids.SWEEP_METRIC, "value"),
        State(ids.SWEEP_X, "value"),
        State(ids.SWEEP_LINE, "value"),
        State(ids.SWEEP_A, "value"),
        State(ids.SWEEP_B, "value"),
    )
    def choose_sweep(name: Any, metric: Any, x: Any, line: Any, a: Any, b: Any) -> Any:
        return sweep_frame(context, name, metric, x, line, a, b)

    @guard.callback(
        app,
        Output(ids.SWEEP_FIGURE, "figure"),
        Output(ids.SWEEP_NOTE, "children"),
        Input(ids.SWEEP_PICK, "value"),
        Input(ids.SWEEP_METRIC, "value"),
        Input(ids.SWEEP_X, "value"),
        Input(ids.SWEEP_LINE, "value"),
        Input(ids.SWEEP_HOLD, "value"),
    )
    def draw(name: Any, metric: Any, x: Any, line: Any, hold: Any) -> tuple[Any, Any]:
        return figure_frame(store, name, metric, x, line, hold)

    @guard.callback(
        app,
        Output(ids.SWEEP_CLICKED, "children"),
        Input(ids.SWEEP_FIGURE, "clickData"),
        Input(ids.SWEEP_PICK, "value"),
        prevent_initial_call=True,
    )
    def click(click_data: Any, name: Any) -> Any:
        return clicked_frame(context, name, click_data)

    @guard.callback(
        app,
        Output(ids.SWEEP_PAIR, "children"),
        Input(ids.SWEEP_PICK, "value"),
        Input(ids.SWEEP_A, "value"),
        Input(ids.SWEEP_B, "value"),
    )
    def pair(name: Any, a: Any, b: Any) -> Any:
        return pair_frame(context, name, a, b)
