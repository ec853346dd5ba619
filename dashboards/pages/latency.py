"""Latency: one service's request latencies over chosen sites or demand regions, a time range
and a period, as p50/p90/p99 against its SLO, and per site or region, from the windows'
mergeable sketches (exact to their 1 % buckets), for sizing replicas."""

from __future__ import annotations

import math
from typing import Any

from dash import Dash, Input, Output, dash_table, dcc, html
from twin.dashboards import guard, ids, inputs, latency
from twin.dashboards.components import (
    DATA_ERRORS,
    Context,
    default_run,
    graph,
    load,
    message,
    run_options,
    run_status,
)
from twin.dashboards.figures import empty_figure
from twin.dashboards.latency_figures import latency_figure
from twin.dashboards.store import RunStore

PATH = "/latency"
TITLE = "Latency"
COLUMNS = (
    ("key", "site / region"),
    ("requests", "requests"),
    ("p50_ms", "p50 ms"),
    ("p90_ms", "p90 ms"),
    ("p99_ms", "p99 ms"),
    ("max_ms", "max ms (bucket)"),
)


def layout(context: Context, search: str | None = None) -> html.Div:
    run = default_run(context.store, inputs.query_value(search, "run"))
    site = inputs.query_value(search, "site")
    return html.Div(
        [
            html.Div(
                [
                    html.H2(TITLE),
                    dcc.Dropdown(
                        id=ids.LATENCY_RUN,
                        options=run_options(context.store, run),
                        value=run,
                        clearable=False,
                        className="run-picker",
                    ),
                    html.Div(id=ids.LATENCY_STATUS, className="status"),
                ],
                className="page-head",
            ),
            html.Div(
                [
                    _labelled("service", dcc.Dropdown(id=ids.LATENCY_SERVICE, clearable=False)),
                    _labelled("metric", dcc.Dropdown(id=ids.LATENCY_METRIC, clearable=False)),
                    _labelled(
                        "scope",
                        dcc.RadioItems(
                            id=ids.LATENCY_SCOPE,
                            options=[{"label": s, "value": s} for s in latency.SCOPES],
                            value="sites",
                            inline=True,
                        ),
                    ),
                    _labelled(
                        "sites or regions",
                        dcc.Dropdown(
                            id=ids.LATENCY_KEYS,
                            multi=True,
                            placeholder="all",
                            value=[site] if site else [],
                        ),
                    ),
                    _labelled(
                        "period",
                        dcc.RadioItems(
                            id=ids.LATENCY_PERIOD,
                            options=[{"label": p, "value": p} for p in latency.PERIODS],
                            value="hour",
                            inline=True,
                        ),
                    ),
                    _labelled(
                        "axis",
                        dcc.Checklist(
                            id=ids.LATENCY_LOG,
                            options=[{"label": "log", "value": "log"}],
                            value=[],
                            inline=True,
                        ),
                    ),
                ],
                className="filters",
            ),
            html.Div(
                [
                    html.Label("time range (hours since the start)"),
                    dcc.RangeSlider(
                        id=ids.LATENCY_RANGE, min=0, max=1, value=[0, 1], allowCross=False
                    ),
                ],
                className="filter",
            ),
            graph(ids.LATENCY_FIGURE, context),
            html.Div(id=ids.LATENCY_SLO, className="status"),
            dash_table.DataTable(
                id=ids.LATENCY_TABLE,
                columns=[{"name": name, "id": key} for key, name in COLUMNS],
                sort_action="native",
                page_size=25,
                style_cell={"fontFamily": "inherit", "fontSize": "13px", "padding": "4px 8px"},
                style_header={"fontWeight": "600"},
            ),
        ]
    )


def _labelled(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")


def _choices(store: RunStore, run: Any) -> tuple[Any, latency.Choices | None, str | None]:
    data, problem = load(store, run)
    if data is None:
        return None, None, problem
    summary = data.summary
    end = summary.simulated_s if summary.simulated_s is not None else summary.horizon_s
    found = store.derived.get(
        ("latency choices", data.token),
        lambda: latency.choices(data.run.path, summary, float(end)),
    )
    return data, found, None


def run_frame(store: RunStore, run: Any) -> tuple[Any, ...]:
    """A run chosen: its status, services, and the range slider over its span."""
    status = run_status(store.info(run)) if run else [message("choose a run", "info")]
    try:
        _, found, problem = _choices(store, run)
    except DATA_ERRORS as error:
        found, problem = None, str(error)
    if found is None or found.why_none:
        note = problem or (found.why_none if found else "no run")
        services = found.services if found else ()
        return [*status, message(note, "info")], _options(services), None, 1, [0, 1]
    hours = max(1, math.ceil(found.end_s / 3600))
    return status, _options(found.services), found.services[0], hours, [0, hours]


def scope_frame(store: RunStore, run: Any, scope: Any) -> tuple[Any, ...]:
    """A scope chosen: its metrics and its sites or regions."""
    try:
        _, found, _ = _choices(store, run)
    except DATA_ERRORS:
        found = None
    if found is None or found.why_none or scope not in latency.SCOPES:
        return [], None, []
    metrics = found.metrics.get(scope, ())
    keys = found.sites if scope == "sites" else found.regions
    options = [{"label": latency.LABELS.get(m, m), "value": m} for m in metrics]
    first = "ttft" if "ttft" in metrics else (metrics[0] if metrics else None)
    return options, first, _options(keys)


def explore_frame(
    store: RunStore,
    run: Any,
    service: Any,
    metric: Any,
    scope: Any,
    keys: Any,
    span: Any,
    period: Any,
    log: Any,
) -> tuple[Any, Any, list[dict[str, Any]]]:
    """The figure, the SLO note and the table of a selection."""
    try:
        data, found, problem = _choices(store, run)
        if found is None or found.why_none:
            return empty_figure(problem or (found.why_none if found else "")), None, []
        query = _query(found, service, metric, scope, keys, span, period)
        path = data.run.path
        series = store.derived.get(
            ("latency series", data.token, query), lambda: latency.series(path, query)
        )
        rows = store.derived.get(
            ("latency table", data.token, query), lambda: latency.table(path, query)
        )
        threshold = latency.slo_threshold_s(data.summary, query.service, query.metric)
        figure = latency_figure(
            series,
            metric=query.metric,
            start=data.start,
            threshold_s=threshold,
            log=True if inputs.choices(log, "axis") == ("log",) else None,
        )
    except DATA_ERRORS as error:
        return empty_figure(str(error)), message(str(error), "warning"), []
    note = _slo_note(path, query, threshold)
    return figure, note, latency.as_records(rows)


def _query(
    found: latency.Choices,
    service: Any,
    metric: Any,
    scope: Any,
    keys: Any,
    span: Any,
    period: Any,
) -> latency.LatencyQuery:
    """The selection checked against what the run offers (InputError if it does not)."""
    if service not in found.services:
        raise inputs.InputError(f"not a service of this run: {inputs.shown(service)}")
    scope = scope if scope in latency.SCOPES else "sites"
    if metric not in found.metrics.get(scope, ()):
        raise inputs.InputError(f"not a metric of this run's {scope}: {inputs.shown(metric)}")
    known = set(found.sites if scope == "sites" else found.regions)
    chosen = tuple(key for key in inputs.choices(keys, scope) if key in known)
    start_s, end_s = _span(span, found.end_s)
    period = period if period in latency.PERIODS else "whole"
    if not chosen and scope == "regions":  # a region's rows are read by name
        chosen = tuple(found.regions)
    return latency.LatencyQuery(service, metric, scope, chosen or None, start_s, end_s, period)


def _span(value: Any, end_s: float) -> tuple[float | None, float | None]:
    """The slider's [from, to] hours as a (start, end] range in seconds (None: open)."""
    if not isinstance(value, list) or len(value) != 2:
        return None, None
    low, high = (inputs.number(v) for v in value)
    if low is None or high is None or not 0 <= low <= high:
        return None, None
    start = low * 3600 if low > 0 else None
    end = high * 3600 if high * 3600 < end_s else None
    return start, end


def _slo_note(path: Any, query: latency.LatencyQuery, threshold: float | None) -> Any:
    if threshold is None:
        return message("no SLO on this metric for this service", "info")
    share = latency.share_within(path, query, threshold)
    if share is None:
        return message("no requests in this selection", "info")
    return html.Span(
        f"{100 * share:.2f}% of these requests within the SLO ({threshold * 1000:.4g} ms), "
        "read from the sketches: exact but for requests within 1% of the threshold",
        **{"data-slo-share": f"{share:.6f}"},
    )


def _options(values: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"label": value, "value": value} for value in values]


def register(app: Dash, context: Context) -> None:
    store = context.store

    @guard.callback(
        app,
        Output(ids.LATENCY_STATUS, "children"),
        Output(ids.LATENCY_SERVICE, "options"),
        Output(ids.LATENCY_SERVICE, "value"),
        Output(ids.LATENCY_RANGE, "max"),
        Output(ids.LATENCY_RANGE, "value"),
        Input(ids.LATENCY_RUN, "value"),
    )
    def choose_run(run: Any) -> tuple[Any, ...]:
        return run_frame(store, run)

    @guard.callback(
        app,
        Output(ids.LATENCY_METRIC, "options"),
        Output(ids.LATENCY_METRIC, "value"),
        Output(ids.LATENCY_KEYS, "options"),
        Input(ids.LATENCY_RUN, "value"),
        Input(ids.LATENCY_SCOPE, "value"),
    )
    def choose_scope(run: Any, scope: Any) -> tuple[Any, ...]:
        return scope_frame(store, run, scope)

    @guard.callback(
        app,
        Output(ids.LATENCY_FIGURE, "figure"),
        Output(ids.LATENCY_SLO, "children"),
        Output(ids.LATENCY_TABLE, "data"),
        Input(ids.LATENCY_RUN, "value"),
        Input(ids.LATENCY_SERVICE, "value"),
        Input(ids.LATENCY_METRIC, "value"),
        Input(ids.LATENCY_SCOPE, "value"),
        Input(ids.LATENCY_KEYS, "value"),
        Input(ids.LATENCY_RANGE, "value"),
        Input(ids.LATENCY_PERIOD, "value"),
        Input(ids.LATENCY_LOG, "value"),
    )
    def explore(*values: Any) -> tuple[Any, ...]:
        return explore_frame(store, *values)
