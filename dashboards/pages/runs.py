"""Runs: every run directory under the runs dir, with its status, and where to look at it."""

from __future__ import annotations

from typing import Any

from dash import Dash, dcc, html
from twin.dashboards import ids
from twin.dashboards.components import Context, format_duration, message, status_badge
from twin.dashboards.store import RunInfo

PATH = "/"
TITLE = "Runs"


def layout(context: Context, search: str | None = None) -> html.Div:
    """The runs list; built once per state of the runs (and shared: never modified)."""
    runs = context.store.list_runs()
    return context.store.derived.get(("runs page", tuple(runs)), lambda: _page(context, runs))


def _page(context: Context, runs: list[RunInfo]) -> html.Div:
    head = html.Div(
        [
            html.H2(TITLE),
            html.Span(f"{len(runs)} under {context.store.root}", className="muted"),
        ],
        className="page-head",
    )
    if not runs:
        return html.Div([head, message("no runs yet: make one with `twin run`", "info")])
    rows = []
    for info in runs:
        readable = info.readable
        actions: list[Any] = []
        if readable:
            actions = [
                dcc.Link("replay", href=context.link("/replay", run=info.name)),
                " · ",
                dcc.Link("explore", href=context.link("/explore", run=info.name)),
                " · ",
                dcc.Link("compare", href=context.link("/compare", a=info.name)),
            ]
        rows.append(
            html.Tr(
                [
                    html.Td(
                        dcc.Link(info.name, href=context.link("/replay", run=info.name))
                        if readable
                        else info.name,
                        className="run-name",
                    ),
                    html.Td(info.scenario),
                    html.Td(format_duration(info.horizon_s) if info.horizon_s else "–"),
                    html.Td(
                        [status_badge(info)]
                        + ([html.Div(info.problem, className="problem")] if info.problem else [])
                    ),
                    html.Td(f"{info.wall_time_s:.1f} s" if info.wall_time_s is not None else "–"),
                    html.Td(", ".join(info.tables), className="muted"),
                    html.Td(actions),
                ],
                className=f"run-row run-{info.status}",
                **{"data-run": info.name},
            )
        )
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(name)
                        for name in (
                            "run",
                            "scenario",
                            "horizon",
                            "status",
                            "wall time",
                            "tables",
                            "",
                        )
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        id=ids.RUNS_TABLE,
        className="runs-table",
    )
    return html.Div([head, table])


def register(app: Dash, context: Context) -> None:
    """The list is rebuilt each time the page is shown: no callbacks of its own."""
