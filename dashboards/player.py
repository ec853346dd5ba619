"""The time player: slider + play/pause + speed, driven by a ``dcc.Interval``."""

from __future__ import annotations

import inspect
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from twin.dashboards import figures, guard, ids, inputs
from twin.dashboards.components import format_duration
from twin.dashboards.values import Timeline

TICK_MS = 500
"""How often the player advances while playing."""
SPEEDS = (1, 2, 4, 8, 16, 32, 64)
"""Telemetry steps per tick."""

_HAS_DIRECT_INPUT = "allow_direct_input" in inspect.signature(dcc.Slider).parameters


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


def next_time(value: float, lo: float, hi: float, step: float, speed: Any) -> float:
    """One tick forward (``speed`` steps, one of SPEEDS); back to the start after the end."""
    steps = inputs.integer(speed, 1, SPEEDS[-1], 1)
    new = value + step * steps
    return lo if new > hi + 1e-9 or new < lo else new


def register_player(app: Dash, ids_: ids.Player) -> None:
    """Play/pause toggles the interval; each tick moves the slider."""

    @guard.callback(
        app,
        Output(ids_.interval, "disabled"),
        Output(ids_.play, "children"),
        Input(ids_.play, "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle(n_clicks: Any) -> tuple[bool, str]:
        playing = inputs.integer(n_clicks, 0, 2**53, 0) % 2 == 1
        return (not playing, "⏸ pause" if playing else "▶ play")

    @guard.callback(
        app,
        Output(ids_.slider, "value", allow_duplicate=True),
        Input(ids_.interval, "n_intervals"),
        State(ids_.slider, "value"),
        State(ids_.slider, "min"),
        State(ids_.slider, "max"),
        State(ids_.slider, "step"),
        State(ids_.speed, "value"),
        prevent_initial_call=True,
    )
    def tick(_: Any, value: Any, lo: Any, hi: Any, step: Any, speed: Any) -> Any:
        numbers = [inputs.number(v) for v in (value, lo, hi, step)]
        if any(n is None for n in numbers) or numbers[3] <= 0 or numbers[1] > numbers[2]:  # type: ignore[operator]
            return no_update
        return next_time(*numbers, speed)  # type: ignore[arg-type]


def follow_cursor(app: Dash, ids_: ids.Player, graph_id: str) -> None:
    """The cursor of series figure ``graph_id`` follows the player's slider, in the browser
    (:data:`~twin.dashboards.figures.CURSOR_JS`: no server round trip per tick)."""
    app.clientside_callback(
        figures.CURSOR_JS,
        Output(graph_id, "figure", allow_duplicate=True),
        Input(ids_.slider, "value"),
        State(graph_id, "figure"),
        prevent_initial_call=True,
    )
