"""Pieces the pages share: the app context, run pickers, status badges, the time player."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

import pyarrow as pa
from dash import Dash, Input, Output, State, dcc, html, no_update
from twin.dashboards import ids
from twin.dashboards.data import RunData, RunError, RunInfo, RunStore, Timeline

TICK_MS = 500
"""How often the player advances while playing."""
SPEEDS = (1, 2, 4, 8, 16, 32, 64)
"""Telemetry steps per tick."""

_HAS_DIRECT_INPUT = "allow_direct_input" in inspect.signature(dcc.Slider).parameters

DATA_ERRORS = (RunError, pa.ArrowException, KeyError, OSError)
"""What reading a broken run may raise: shown as a message, never a crash."""


@dataclass(frozen=True)
class Context:
    """What page layouts and callbacks need from the app."""

    store: RunStore
    href: Callable[[str], str]
    graph_config: dict[str, Any] = field(default_factory=dict)

    def link(self, path: str, **query: str) -> str:
        """An app-relative link (honours a URL prefix) with a quoted query."""
        pairs = "&".join(f"{key}={quote(value, safe='')}" for key, value in query.items())
        return self.href(path) + (f"?{pairs}" if pairs else "")


def query_value(search: str | None, key: str) -> str | None:
    values = parse_qs((search or "").lstrip("?")).get(key)
    return values[0] if values else None


def format_duration(seconds: float | None) -> str:
    """``1d 6h``, ``45m``, ``12.3 s``."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return " ".join(p for p in parts if p) or "0m"


def format_number(value: float | None, digits: int = 2, sign: bool = False) -> str:
    """``12,345``, ``3.14``, ``0.00123`` (small numbers keep three significant digits)."""
    if value is None:
        return "–"
    plus = "+" if sign else ""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):{plus},}"
    if abs(value) < 1:
        return f"{value:{plus}.3g}"
    return f"{value:{plus},.{digits}f}"


def status_badge(info: RunInfo) -> html.Span:
    return html.Span(
        info.status, className=f"badge badge-{info.status}", title=info.problem or info.status
    )


def message(text: str, kind: str = "error") -> html.Div:
    """An inline notice (kind: error, warning, info)."""
    return html.Div(text, className=f"notice notice-{kind}", role="alert")


def run_status(info: RunInfo) -> list[Any]:
    """A badge, and the problem in words when there is one."""
    parts: list[Any] = [status_badge(info), " ", html.Span(info.scenario, className="muted")]
    if info.problem:
        kind = "warning" if info.readable else "error"
        parts.append(message(f"{info.name}: {info.problem}", kind))
    return parts


def run_options(store: RunStore, *wanted: str | None) -> list[dict[str, Any]]:
    """Dropdown options: every run listed, the unreadable ones marked (still choosable, to
    see why), plus the ``wanted`` names (from the URL) even if they are not runs, so the
    page can say why they are not shown."""
    infos = store.list_runs()
    names = {info.name for info in infos}
    infos += [store.info(name) for name in dict.fromkeys(wanted) if name and name not in names]
    return [
        {
            "label": info.name if info.status == "complete" else f"{info.name} ({info.status})",
            "value": info.name,
        }
        for info in infos
    ]


def default_run(store: RunStore, wanted: str | None, skip: str | None = None) -> str | None:
    """``wanted`` if given (even a bad one, so its refusal is shown), else the first readable
    run other than ``skip``."""
    if wanted:
        return wanted
    readable = [info.name for info in store.list_runs() if info.readable]
    others = [name for name in readable if name != skip]
    return (others or readable or [None])[0]


def load(store: RunStore, name: str | None) -> tuple[RunData | None, str | None]:
    """The run, or why it can't be shown."""
    if not name:
        return None, "choose a run"
    try:
        return store.get(name), None
    except DATA_ERRORS as error:
        return None, str(error)


def graph(id: str, context: Context, **kwargs: Any) -> dcc.Graph:
    """A graph whose map geometry comes from this app's assets (no CDN)."""
    config = {"displaylogo": False, **context.graph_config, **kwargs.pop("config", {})}
    return dcc.Graph(id=id, config=config, **kwargs)


# ---------------------------------------------------------------------------------------------
# The time player: slider + play/pause + speed, driven by a dcc.Interval
# ---------------------------------------------------------------------------------------------


def player(ids_: ids.Player) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Button("▶ play", id=ids_.play, n_clicks=0, className="button"),
                    html.Label("speed", className="muted"),
                    dcc.Dropdown(
                        id=ids_.speed,
                        options=speed_options(None),
                        value=4,
                        clearable=False,
                        searchable=False,
                        className="speed",
                    ),
                    html.Span("", id=ids_.clock, className="clock"),
                ],
                className="player-controls",
            ),
            dcc.Slider(
                id=ids_.slider,
                min=0,
                max=1,
                step=1,
                value=0,
                marks=None,
                updatemode="mouseup",
                # Dash ≥ 4 adds number boxes beside sliders: the clock says the time better
                **({"allow_direct_input": False} if _HAS_DIRECT_INPUT else {}),
            ),
            dcc.Interval(id=ids_.interval, interval=TICK_MS, disabled=True, n_intervals=0),
        ],
        className="player",
    )


def speed_options(timeline: Timeline | None) -> list[dict[str, Any]]:
    """Speeds as steps per tick, labelled in simulated time per wall second."""
    per_second = 1000 / TICK_MS
    options = []
    for steps in SPEEDS:
        label = f"{steps}×"
        if timeline is not None:
            label += f"  ({format_duration(steps * timeline.step_s * per_second)} / s)"
        options.append({"label": label, "value": steps})
    return options


def slider_settings(timeline: Timeline, value: float | None) -> dict[str, Any]:
    """min, max, step, marks and a clamped value for a run's timeline."""
    span = max(timeline.last_s - timeline.first_s, timeline.step_s)
    day = 86400.0
    every = next((d * day for d in (1, 2, 7, 14, 30, 60, 90) if span / (d * day) <= 10), None)
    if span < 2 * day:
        every = next(h * 3600.0 for h in (1, 2, 3, 6, 12, 24) if span / (h * 3600.0) <= 8)
    if every is None:
        every = span / 8
    marks = {}
    mark = 0.0
    while mark <= timeline.last_s + 1e-9:
        if mark >= timeline.first_s:
            label = f"d{int(mark // day) + 1}" if every >= day else f"{mark / 3600:g}h"
            marks[_mark_key(mark)] = label
        mark += every
    clamped = timeline.first_s if value is None else value
    clamped = min(max(clamped, timeline.first_s), timeline.last_s)
    return {
        "min": timeline.first_s,
        "max": timeline.last_s,
        "step": timeline.step_s,
        "marks": marks,
        "value": clamped,
    }


def _mark_key(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def next_time(value: float, lo: float, hi: float, step: float, speed: int) -> float:
    """One tick forward; back to the start after the end."""
    new = value + step * max(int(speed or 1), 1)
    return lo if new > hi + 1e-9 else new


def register_player(app: Dash, ids_: ids.Player) -> None:
    """Play/pause toggles the interval; each tick moves the slider."""

    @app.callback(
        Output(ids_.interval, "disabled"),
        Output(ids_.play, "children"),
        Input(ids_.play, "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle(n_clicks: int) -> tuple[bool, str]:
        playing = bool(n_clicks and n_clicks % 2)
        return (not playing, "⏸ pause" if playing else "▶ play")

    @app.callback(
        Output(ids_.slider, "value", allow_duplicate=True),
        Input(ids_.interval, "n_intervals"),
        State(ids_.slider, "value"),
        State(ids_.slider, "min"),
        State(ids_.slider, "max"),
        State(ids_.slider, "step"),
        State(ids_.speed, "value"),
        prevent_initial_call=True,
    )
    def tick(_: int, value: float, lo: float, hi: float, step: float, speed: int) -> Any:
        if value is None or lo is None or hi is None or not step:
            return no_update
        return next_time(float(value), float(lo), float(hi), float(step), speed)
