"""Explore: a run's summary KPIs, its jobs (paged, filtered and sorted on the server) and
histograms of waits and transfer times."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, dash_table, dcc, html
from dash.dash_table.Format import Format, Scheme
from twin.dashboards import figures, ids
from twin.dashboards.components import (
    DATA_ERRORS,
    Context,
    default_run,
    format_number,
    graph,
    load,
    message,
    query_value,
    run_options,
    run_status,
)
from twin.dashboards.data import JOB_FIELDS, JobFilter, RunStore

PATH = "/explore"
TITLE = "Explore"
PAGE_SIZE = 20


def layout(context: Context, search: str | None = None) -> html.Div:
    run = default_run(context.store, query_value(search, "run"))

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


def kpi_block(store: RunStore, run: str | None) -> Any:
    """The run's headline numbers: the same as ``twin summary`` (Summary.kpis())."""
    data, problem = load(store, run)
    if data is None:
        return message(problem or "no run")
    try:
        kpis = data.kpis()
    except DATA_ERRORS as error:
        return message(f"{run}: {error}")
    return html.Table(
        html.Tbody(
            [
                html.Tr([html.Th(name), html.Td(format_number(value))], **{"data-kpi": name})
                for name, value in kpis.items()
            ]
        ),
        className="kpi-table",
    )


def jobs_frame(
    store: RunStore,
    run: str | None,
    chosen: JobFilter,
    query: str,
    sort_by: list[dict[str, str]] | None,
    page: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of jobs and the page count."""
    data, _ = load(store, run)
    if data is None:
        return [], 1
    try:
        rows, total = data.jobs_page(chosen, query or "", sort_by or [], page or 0, page_size)
    except DATA_ERRORS:
        return [], 1
    return rows, max(1, -(-total // max(page_size, 1)))


def register(app: Dash, context: Context) -> None:
    store = context.store

    @app.callback(
        Output(ids.EXPLORE_STATUS, "children"),
        Output(ids.EXPLORE_KPIS, "children"),
        Output(ids.EXPLORE_SITE, "options"),
        Output(ids.EXPLORE_TENANT, "options"),
        Output(ids.EXPLORE_STATE, "options"),
        Output(ids.EXPLORE_TRANSFERS, "figure"),
        Output(ids.EXPLORE_TRANSFERS_BOX, "style"),
        Input(ids.EXPLORE_RUN, "value"),
    )
    def choose_run(run: str | None) -> tuple[Any, ...]:
        status = run_status(store.info(run)) if run else [message("choose a run", "info")]
        hidden = {"display": "none"}
        data, _ = load(store, run)
        if data is None:
            return status, kpi_block(store, run), [], [], [], figures.empty_figure(""), hidden
        try:
            choices = data.job_choices()
        except DATA_ERRORS:
            choices = {}
        try:
            transfers = data.transfer_histogram()
        except DATA_ERRORS as error:
            transfers, status = None, [*status, message(f"transfers: {error}", "warning")]
        transfer_figure = (
            figures.histogram_figure(transfers, title="transfer times")
            if transfers is not None
            else figures.empty_figure("")
        )
        return (
            status,
            kpi_block(store, run),
            choices.get("site", []),
            choices.get("tenant", []),
            choices.get("state", []),
            transfer_figure,
            {} if transfers is not None else hidden,
        )

    @app.callback(
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

    @app.callback(
        Output(ids.EXPLORE_JOBS, "data"),
        Output(ids.EXPLORE_JOBS, "page_count"),
        Input(ids.EXPLORE_RUN, "value"),
        Input(ids.EXPLORE_SITE, "value"),
        Input(ids.EXPLORE_TENANT, "value"),
        Input(ids.EXPLORE_STATE, "value"),
        Input(ids.EXPLORE_JOBS, "filter_query"),
        Input(ids.EXPLORE_JOBS, "sort_by"),
        Input(ids.EXPLORE_JOBS, "page_current"),
        Input(ids.EXPLORE_JOBS, "page_size"),
    )
    def jobs(run, sites, tenants, states, query, sort_by, page, page_size) -> tuple[Any, int]:
        chosen = JobFilter(tuple(sites or ()), tuple(tenants or ()), tuple(states or ()))
        return jobs_frame(store, run, chosen, query, sort_by, page, page_size or PAGE_SIZE)

    @app.callback(
        Output(ids.EXPLORE_WAIT, "figure"),
        Input(ids.EXPLORE_RUN, "value"),
        Input(ids.EXPLORE_SITE, "value"),
        Input(ids.EXPLORE_TENANT, "value"),
        Input(ids.EXPLORE_STATE, "value"),
    )
    def waits(run, sites, tenants, states) -> Any:
        data, problem = load(store, run)
        if data is None:
            return figures.empty_figure(problem or "no run")
        chosen = JobFilter(tuple(sites or ()), tuple(tenants or ()), tuple(states or ()))
        try:
            return figures.histogram_figure(data.wait_histogram(chosen), title="waits")
        except DATA_ERRORS as error:
            return figures.empty_figure(f"{run}: {error}")
