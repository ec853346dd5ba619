"""Explore: a run's summary KPIs, its jobs (paged, filtered and sorted on the server) and
histograms of waits and transfer times."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, dash_table, dcc, html
from dash.dash_table.Format import Format, Scheme
from twin.dashboards import figures, guard, ids, inputs
from twin.dashboards.columns import JOB_FIELDS
from twin.dashboards.components import (
    DATA_ERRORS,
    Context,
    default_run,
    format_number,
    graph,
    load,
    message,
    run_options,
    run_status,
)
from twin.dashboards.limits import MAX_PAGE, MAX_PAGE_SIZE
from twin.dashboards.store import RunStore
from twin.dashboards.values import JobFilter

PATH = "/explore"
TITLE = "Explore"
PAGE_SIZE = 20


def layout(context: Context, search: str | None = None) -> html.Div:
    run = default_run(context.store, inputs.query_value(search, "run"))

    def chooser(id: str, label: str) -> html.Div:
        return html.Div(
            [html.Label(label), dcc.Dropdown(id=id, multi=True, placeholder="all")],
            className="filter",
        )

    return html.Div(
        [
            html.Div(
                [
                    html.H2(TITLE),
                    dcc.Dropdown(
                        id=ids.EXPLORE_RUN,
                        options=run_options(context.store, run),
                        value=run,
                        clearable=False,
                        className="run-picker",
                    ),
                    html.Div(id=ids.EXPLORE_STATUS, className="status"),
                ],
                className="page-head",
            ),
            html.Div(id=ids.EXPLORE_KPIS, className="kpis"),
            html.Div(
                [
                    chooser(ids.EXPLORE_SITE, "site"),
                    chooser(ids.EXPLORE_TENANT, "tenant"),
                    chooser(ids.EXPLORE_STATE, "state"),
                ],
                className="filters",
            ),
            dash_table.DataTable(
                id=ids.EXPLORE_JOBS,
                columns=[_column(spec) for spec in JOB_FIELDS],
                page_current=0,
                page_size=PAGE_SIZE,
                page_action="custom",
                filter_action="custom",
                filter_query="",
                sort_action="custom",
                sort_mode="multi",
                sort_by=[{"column_id": "wait_h", "direction": "desc"}],
                style_table={"overflowX": "auto"},
                style_cell={"fontFamily": "inherit", "fontSize": "13px", "padding": "4px 8px"},
                style_header={"fontWeight": "600"},
            ),
            html.Div(id=ids.EXPLORE_JOBS_NOTE, className="status"),
            html.Div(
                [
                    html.Div(graph(ids.EXPLORE_WAIT, context), className="half"),
                    html.Div(
                        graph(ids.EXPLORE_TRANSFERS, context),
                        id=ids.EXPLORE_TRANSFERS_BOX,
                        className="half",
                    ),
                ],
                className="row",
            ),
        ]
    )


def _column(spec: Any) -> dict[str, Any]:
    column: dict[str, Any] = {"name": spec.name, "id": spec.id}
    if spec.numeric:
        column["type"] = "numeric"
        if spec.scale != 1.0:
            column["format"] = Format(precision=2, scheme=Scheme.fixed)
        elif spec.id in ("energy_mwh", "co2_t"):  # small per job: significant digits
            column["format"] = Format(precision=3, scheme=Scheme.decimal_or_exponent)
    else:
        column["type"] = "text"
    return column


def kpi_block(store: RunStore, run: Any) -> Any:
    """The run's headline numbers: the same as ``twin summary`` (Summary.kpis())."""
    data, problem = load(store, run)
    if data is None:
        return message(problem or "no run")
    try:
        kpis = data.kpis()
    except DATA_ERRORS as error:
        return message(f"{inputs.shown(run)}: {error}")
    return html.Table(
        html.Tbody(
            [
                html.Tr([html.Th(name), html.Td(format_number(value))], **{"data-kpi": name})
                for name, value in kpis.items()
            ]
        ),
        className="kpi-table",
    )


def job_filter(sites: Any, tenants: Any, states: Any) -> JobFilter:
    """The filter dropdowns' values (InputError if one is not a list of short strings)."""
    return JobFilter(
        inputs.choices(sites, "site"),
        inputs.choices(tenants, "tenant"),
        inputs.choices(states, "state"),
    )


def jobs_frame(
    store: RunStore,
    run: Any,
    chosen: JobFilter,
    query: Any,
    sort_by: Any,
    page: Any,
    page_size: Any,
) -> tuple[list[dict[str, Any]], int, list[str]]:
    """One page of jobs, the page count, and notes on inputs left out or not understood."""
    data, problem = load(store, run)
    if data is None:
        return [], 1, [problem] if problem and run else []
    size = inputs.integer(page_size, 1, MAX_PAGE_SIZE, PAGE_SIZE)
    number = inputs.integer(page, 0, MAX_PAGE, 0)
    notes = [] if number == page or page is None else [f"no page {inputs.shown(page)}: the first"]
    if size != page_size and page_size is not None:
        notes.append(f"page size {inputs.shown(page_size)} not understood: {size} rows")
    try:
        text = inputs.query(query)
        keys, ignored = inputs.sort_by(sort_by, set(data.jobs.column_names))
        notes += ignored
        notes += [
            f"filter not understood: {inputs.shown(t)}" for t in data.ignored_filter_terms(text)
        ]
        rows, total = data.jobs_page(chosen, text, keys, number, size)
    except DATA_ERRORS as error:
        return [], 1, [*notes, f"{inputs.shown(run)}: {error}"]
    return rows, max(1, -(-total // size)), notes


def choose_frame(store: RunStore, run: Any) -> tuple[Any, ...]:
    """A run chosen: its status, KPIs, the filter choices and the transfer-time histogram."""
    status = run_status(store.info(run)) if run else [message("choose a run", "info")]
    hidden = {"display": "none"}
    data, _ = load(store, run)
    if data is None:
        return status, kpi_block(store, run), [], [], [], figures.empty_figure(""), hidden
    try:
        choices = data.job_choices()
    except DATA_ERRORS as error:
        choices, status = {}, [*status, message(f"jobs: {error}", "warning")]
    try:
        transfers = store.derived.get(("transfers", data.token), lambda: _transfers(data))
    except DATA_ERRORS as error:
        transfers, status = None, [*status, message(f"transfers: {error}", "warning")]
    return (
        status,
        kpi_block(store, run),
        choices.get("site", []),
        choices.get("tenant", []),
        choices.get("state", []),
        transfers if transfers is not None else figures.empty_figure(""),
        {} if transfers is not None else hidden,
    )


def _transfers(data: Any) -> Any:
    histogram = data.transfer_histogram()
    if histogram is None:
        return None
    return figures.histogram_figure(histogram, title="transfer times")


def waits_frame(store: RunStore, run: Any, sites: Any, tenants: Any, states: Any) -> Any:
    """The wait histogram of the filtered jobs."""
    data, problem = load(store, run)
    if data is None:
        return figures.empty_figure(problem or "no run")
    try:
        chosen = job_filter(sites, tenants, states)
        return store.derived.get(
            ("waits", data.token, chosen),
            lambda: figures.histogram_figure(data.wait_histogram(chosen), title="waits"),
        )
    except DATA_ERRORS as error:
        return figures.empty_figure(f"{inputs.shown(run)}: {error}")


def register(app: Dash, context: Context) -> None:
    store = context.store

    @guard.callback(
        app,
        Output(ids.EXPLORE_STATUS, "children"),
        Output(ids.EXPLORE_KPIS, "children"),
        Output(ids.EXPLORE_SITE, "options"),
        Output(ids.EXPLORE_TENANT, "options"),
        Output(ids.EXPLORE_STATE, "options"),
        Output(ids.EXPLORE_TRANSFERS, "figure"),
        Output(ids.EXPLORE_TRANSFERS_BOX, "style"),
        Input(ids.EXPLORE_RUN, "value"),
    )
    def choose_run(run: Any) -> tuple[Any, ...]:
        return choose_frame(store, run)

    @guard.callback(
        app,
        Output(ids.EXPLORE_JOBS, "page_current"),
        Input(ids.EXPLORE_RUN, "value"),
        Input(ids.EXPLORE_SITE, "value"),
        Input(ids.EXPLORE_TENANT, "value"),
        Input(ids.EXPLORE_STATE, "value"),
        Input(ids.EXPLORE_JOBS, "filter_query"),
        prevent_initial_call=True,
    )
    def first_page(*_: Any) -> int:
        return 0

    @guard.callback(
        app,
        Output(ids.EXPLORE_JOBS, "data"),
        Output(ids.EXPLORE_JOBS, "page_count"),
        Output(ids.EXPLORE_JOBS_NOTE, "children"),
        Input(ids.EXPLORE_RUN, "value"),
        Input(ids.EXPLORE_SITE, "value"),
        Input(ids.EXPLORE_TENANT, "value"),
        Input(ids.EXPLORE_STATE, "value"),
        Input(ids.EXPLORE_JOBS, "filter_query"),
        Input(ids.EXPLORE_JOBS, "sort_by"),
        Input(ids.EXPLORE_JOBS, "page_current"),
        Input(ids.EXPLORE_JOBS, "page_size"),
    )
    def jobs(run, sites, tenants, states, query, sort_by, page, page_size) -> tuple[Any, ...]:
        try:
            chosen = job_filter(sites, tenants, states)
        except inputs.InputError as error:
            return [], 1, message(str(error), "warning")
        rows, pages, notes = jobs_frame(store, run, chosen, query, sort_by, page, page_size)
        return rows, pages, [message(note, "warning") for note in notes]

    @guard.callback(
        app,
        Output(ids.EXPLORE_WAIT, "figure"),
        Input(ids.EXPLORE_RUN, "value"),
        Input(ids.EXPLORE_SITE, "value"),
        Input(ids.EXPLORE_TENANT, "value"),
        Input(ids.EXPLORE_STATE, "value"),
    )
    def waits(run: Any, sites: Any, tenants: Any, states: Any) -> Any:
        return waits_frame(store, run, sites, tenants, states)
