"""Runs: every run directory under the runs dir, with its status, and where to look at it;
and every sweep directory, one line each (its points open from its Sweeps page)."""

from __future__ import annotations

from typing import Any

from dash import Dash, dcc, html
from twin.dashboards import ids
from twin.dashboards.components import (
    Context,
    format_duration,
    format_number,
    message,
    run_made,
    status_badge,
)
from twin.dashboards.store import RunInfo
from twin.dashboards.sweeps import SweepInfo, sweep_infos

PATH = "/"
TITLE = "Runs"


def layout(context: Context, search: str | None = None) -> html.Div:
    """The runs list; built once per state of the runs (and shared: never modified)."""
    runs = context.store.list_runs()
    sweeps = sweep_infos(context.store)
    key = ("runs page", tuple(runs), tuple(sweeps))
    return context.store.derived.get(key, lambda: _page(context, runs, sweeps))


def _page(context: Context, runs: list[RunInfo], sweeps: list[SweepInfo]) -> html.Div:
    head = html.Div(
        [
            html.H2(TITLE),
            html.Span(f"{len(runs)} under {context.store.root}", className="muted"),
        ],
        className="page-head",
    )
    listed = [_sweeps_table(context, sweeps)] if sweeps else []
    if not runs:
        return html.Div([head, message("no runs yet: make one with `twin run`", "info"), *listed])
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
                    html.Td(run_made(info), className="run-made"),
                    html.Td("–" if info.seed is None else str(info.seed)),
                    html.Td(format_duration(info.horizon_s) if info.horizon_s else "–"),
                    html.Td(
                        [status_badge(info)]
                        + ([html.Div(info.problem, className="problem")] if info.problem else [])
                    ),
                    html.Td(_headline(info), className="run-kpis"),
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
                            "what-ifs, overrides",
                            "seed",
                            "horizon",
                            "status",
                            "totals",
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
    return html.Div([head, table, *listed])


def _headline(info: RunInfo) -> str:
    """A few manifest totals: ``13,061 jobs · 2,412 MWh · 610 t CO2 · €455k``."""
    shown = []
    for label, value in info.headline:
        if label == "€":
            big = value >= 10_000
            shown.append(
                f"€{format_number(round(value / 1000 if big else value), 0)}{'k' if big else ''}"
            )
        else:
            shown.append(f"{format_number(value, 0)} {label}")
    return " · ".join(shown) or "–"


def _sweeps_table(context: Context, sweeps: list[SweepInfo]) -> html.Div:
    """One line per sweep directory, linking to its Sweeps page."""
    rows = [
        html.Tr(
            [
                html.Td(
                    dcc.Link(info.name, href=context.link("/sweeps", sweep=info.name))
                    if info.readable
                    else info.name,
                    className="run-name",
                ),
                html.Td(", ".join(info.params) or "–"),
                html.Td(f"{info.points} points, {info.configurations} configurations"),
                html.Td(
                    [html.Span(info.status, className=f"badge badge-{info.status}")]
                    + ([html.Div(info.problem, className="problem")] if info.problem else [])
                ),
            ],
            className=f"sweep-row sweep-{info.status}",
            **{"data-sweep": info.name},
        )
        for info in sweeps
    ]
    head = html.Tr([html.Th(name) for name in ("sweep", "parameters", "size", "status")])
    return html.Div(
        [
            html.H3("Sweeps"),
            html.Table(
                [html.Thead(head), html.Tbody(rows)], id=ids.SWEEPS_TABLE, className="runs-table"
            ),
        ]
    )


def register(app: Dash, context: Context) -> None:
    """The list is rebuilt each time the page is shown: no callbacks of its own."""
