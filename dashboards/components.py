"""Pieces the pages share: the app context, run pickers, status badges, number formats."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from dash import dcc, html
from twin.dashboards.data import RunData
from twin.dashboards.errors import RunError
from twin.dashboards.inputs import InputError
from twin.dashboards.store import RunInfo, RunStore
from twin.dashboards.values import Timeline

DATA_ERRORS = (RunError, InputError)
"""What reading a run or a callback input may raise: shown as a message, never a crash."""


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


def format_duration(seconds: float | None) -> str:
    """``1d 6h``, ``45m``, ``12.3 s``."""
    if seconds is None or not math.isfinite(seconds):
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
    if value is None or not math.isfinite(value):
        return "–"
    plus = "+" if sign else ""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):{plus},}"
    if abs(value) < 1:
        return f"{value:{plus}.3g}"
    if abs(value) >= 1e15:
        return f"{value:{plus}.3e}"
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


def run_made(info: RunInfo) -> list[Any]:
    """How the run's scenario was made: its what-ifs and ``--set`` overrides."""
    parts: list[Any] = [html.Span(name, className="badge badge-whatif") for name in info.whatifs]
    parts += [html.Code(item, className="override") for item in info.overrides]
    return parts or ["–"]


def run_options(store: RunStore, *wanted: str | None) -> list[dict[str, Any]]:
    """Dropdown options: every run listed, the unreadable ones marked (still choosable, to
    see why), plus the ``wanted`` names (from the URL) even if they are not runs, so the
    page can say why they are not shown."""
    infos = store.list_runs()
    names = {info.name for info in infos}
    extra = [name for name in dict.fromkeys(wanted) if name and name not in names]
    return [
        {
            "label": info.name if info.status == "complete" else f"{info.name} ({info.status})",
            "value": info.name,
        }
        for info in infos
    ] + [
        {"label": f"{info.name} ({info.status})", "value": name}
        for name, info in ((name, store.info(name)) for name in extra)
    ]


def default_run(store: RunStore, wanted: str | None, skip: str | None = None) -> str | None:
    """``wanted`` if given (even a bad one, so its refusal is shown), else the first readable
    run other than ``skip``."""
    if wanted:
        return wanted
    readable = [info.name for info in store.list_runs() if info.readable]
    others = [name for name in readable if name != skip]
    return (others or readable or [None])[0]


def load(store: RunStore, name: Any) -> tuple[RunData | None, str | None]:
    """The run, or why it can't be shown ("choose a run", "run not found: …", "refused: …",
    "malformed: …", "not readable: …")."""
    if name is None or name == "":
        return None, "choose a run"
    try:
        return store.get(name), None
    except RunError as error:
        return None, str(error)


def graph(id: str, context: Context, **kwargs: Any) -> dcc.Graph:
    """A graph whose map geometry comes from this app's assets (no CDN)."""
    config = {"displaylogo": False, **context.graph_config, **kwargs.pop("config", {})}
    return dcc.Graph(id=id, config=config, **kwargs)


def slider_settings(timeline: Timeline, value: float | None) -> dict[str, Any]:
    """min, max, step, marks and a clamped value for a run's timeline."""
    span = max(timeline.last_s - timeline.first_s, timeline.step_s)
    day = 86400.0
    every = next((d * day for d in (1, 2, 7, 14, 30, 60, 90) if span / (d * day) <= 10), None)
    if span < 2 * day:
        every = next(h * 3600.0 for h in (1, 2, 3, 6, 12, 24) if span / (h * 3600.0) <= 8)
    if every is None or every <= 0:
        every = span / 8 if span > 0 else 1.0
    marks = {}
    mark = math.ceil(max(timeline.first_s, 0.0) / every) * every  # marks from the start of day 1
    while mark <= timeline.last_s + 1e-9 and len(marks) < 24:
        label = f"d{int(mark // day) + 1}" if every >= day else f"{mark / 3600:g}h"
        marks[_mark_key(mark)] = label
        mark += every
    clamped = timeline.first_s if value is None else timeline.clamp(value)
    return {
        "min": timeline.first_s,
        "max": timeline.last_s,
        "step": timeline.step_s,
        "marks": marks,
        "value": clamped,
    }


def _mark_key(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
