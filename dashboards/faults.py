"""A run's faults as the Replay page shows them (``faults.arrow``, one row per fault): which
sites are down and which links are cut at time ``t`` (the map), and the timeline of
outages, cuts and accelerator failures (a pure figure builder, as
:mod:`twin.dashboards.figures`).

:class:`FaultHistory` is built once per run (:attr:`RunData.faults`). A site outage takes
down the sites of its ``sites`` column (a country's grid event: several), a link cut its
``target`` link; overlapping faults of one target are merged into one :class:`FaultSpan`
(``[start_s, end_s)``: up again at ``end_s``, which may be after the horizon). Asking what
is down at ``t`` is a binary search over the spans' boundaries, the answer shared by every
``t`` between two boundaries.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from twin.dashboards.columns import FAULT, check_columns
from twin.dashboards.figures import (
    Figure,
    _cursor,
    _epoch_ms,
    empty_figure,
    template,
    time_label,
    to_date,
    to_dates,
)
from twin.dashboards.limits import MAX_KEY_CHARS, MAX_TIME_S
from twin.dashboards.values import FaultSpan

SITE_OUTAGE, LINK_CUT, ACCELERATOR = "site_outage", "link_cut", "accelerator"
COLOURS = {SITE_OUTAGE: "#b2182b", LINK_CUT: "#e08214", ACCELERATOR: "#3b3f44"}
LABELS = {SITE_OUTAGE: "site outage", LINK_CUT: "link cut", ACCELERATOR: "accelerator failure"}
MAX_TICKS = 400
"""Accelerator failures drawn per site: more are counted into this many bins of the run."""
_SEGMENT_CACHE = 4096


class Spans:
    """The merged, disjoint fault spans of one target, searchable by time."""

    def __init__(self, spans: Iterable[FaultSpan]) -> None:
        self.spans = tuple(sorted(spans, key=lambda span: span.start_s))
        self.starts = [span.start_s for span in self.spans]

    def at(self, t: float) -> FaultSpan | None:
        """The span holding ``t`` (``start_s <= t < end_s``), if any."""
        index = bisect_right(self.starts, t) - 1
        if index >= 0 and t < self.spans[index].end_s:
            return self.spans[index]
        return None


class FaultHistory:
    """Site outages per site, link cuts per link and accelerator failure times per site."""

    def __init__(
        self,
        outages: dict[str, Spans],
        cuts: dict[str, Spans],
        failures: dict[str, np.ndarray],
        failure_types: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.outages = outages
        self.cuts = cuts
        self.failures = failures
        """Site → sorted start times of its accelerator failures."""
        self.failure_types = failure_types or {}
        bounds = [
            edge
            for spans in (*outages.values(), *cuts.values())
            for span in spans.spans
            for edge in (span.start_s, span.end_s)
            if math.isfinite(edge)
        ]
        self._bounds = np.unique(np.asarray(bounds, dtype=float))
        self._down: dict[int, frozenset[str]] = {}
        self._cut: dict[int, frozenset[str]] = {}

    @classmethod
    def from_table(cls, table: pa.Table) -> FaultHistory:
        """From a ``faults`` table (RunError-free: the caller converts what pyarrow raises)."""
        check_columns(FAULT.table, table.schema)
        kind = _text(table, FAULT.kind)
        is_accelerator = pc.fill_null(pc.equal(kind, ACCELERATOR), False)
        failures, types = _failures(table.filter(is_accelerator))
        other = table.filter(pc.fill_null(pc.is_in(kind, pa.array([SITE_OUTAGE, LINK_CUT])), False))
        spans: dict[str, dict[str, list[tuple[float, float, str, str]]]] = {
            SITE_OUTAGE: defaultdict(list),
            LINK_CUT: defaultdict(list),
        }
        rows = zip(
            _text(other, FAULT.kind).to_pylist(),
            _text(other, FAULT.target).to_pylist(),
            _text(other, FAULT.sites).to_pylist(),
            _text(other, FAULT.cause).to_pylist(),
            _numbers(other, FAULT.start).tolist(),
            _numbers(other, FAULT.end).tolist(),
            strict=True,
        )
        for what, target, sites, cause, start, end in rows:
            if not math.isfinite(start):
                continue
            start = min(max(start, -MAX_TIME_S), MAX_TIME_S)
            end = math.inf if math.isnan(end) else max(end, start)
            target = target or ""
            if what == LINK_CUT:
                names = [target]
            else:
                names = _split(sites) or ([] if target.startswith("country:") else [target])
            for name in names:
                if name and len(name) <= MAX_KEY_CHARS:
                    spans[what][name].append((start, end, target, cause or ""))
        return cls(
            {site: _merged(parts) for site, parts in spans[SITE_OUTAGE].items()},
            {link: _merged(parts) for link, parts in spans[LINK_CUT].items()},
            failures,
            types,
        )

    # -- at time t ---------------------------------------------------------------------------

    def down_sites(self, t: float) -> frozenset[str]:
        """The sites down at ``t`` (one binary search, then a shared answer)."""
        return self._state(t, self.outages, self._down)

    def cut_links(self, t: float) -> frozenset[str]:
        """The links cut at ``t``."""
        return self._state(t, self.cuts, self._cut)

    def down_at(self, t: float) -> dict[str, FaultSpan]:
        """Each site down at ``t`` with its outage (since when, until when)."""
        return {site: self.outages[site].at(t) for site in sorted(self.down_sites(t))}  # type: ignore[misc]

    def cut_at(self, t: float) -> dict[str, FaultSpan]:
        """Each link cut at ``t`` with its cut."""
        return {link: self.cuts[link].at(t) for link in sorted(self.cut_links(t))}  # type: ignore[misc]

    def _state(
        self, t: float, spans: dict[str, Spans], cache: dict[int, frozenset[str]]
    ) -> frozenset[str]:
        segment = int(np.searchsorted(self._bounds, t, side="right"))
        found = cache.get(segment)
        if found is None:
            found = frozenset(key for key, mine in spans.items() if mine.at(t) is not None)
            if len(cache) >= _SEGMENT_CACHE:
                cache.clear()
            cache[segment] = found
        return found

    # -- the timeline ------------------------------------------------------------------------

    @property
    def rows(self) -> list[tuple[str, str]]:
        """The timeline's rows, as (kind, id): sites (outages, failures), then links."""
        sites = sorted(set(self.outages) | set(self.failures))
        return [("site", site) for site in sites] + [("link", link) for link in sorted(self.cuts)]

    def __bool__(self) -> bool:
        return bool(self.outages or self.cuts or self.failures)


def timeline_figure(
    history: FaultHistory,
    *,
    start: dt.datetime,
    horizon_s: float,
    t: float | None = None,
    title: str | None = "faults",
) -> Figure:
    """One row per site and link that had a fault: a bar per outage or cut from its start to
    its end (clipped to ``[0, horizon_s]``), coloured by kind, and a tick per accelerator
    failure (binned when a site has more than MAX_TICKS). The time cursor is the first
    layout shape (moved as a series figure's: :func:`~twin.dashboards.figures.move_cursor`,
    ``CURSOR_JS``). Bars and ticks carry ``customdata = [kind, id]`` (a click selects it)."""
    horizon = max(float(horizon_s), 0.0) if math.isfinite(horizon_s) else 0.0
    data: list[dict[str, Any]] = []
    shown: list[str] = []
    for what, by_target, kind in (
        (SITE_OUTAGE, history.outages, "site"),
        (LINK_CUT, history.cuts, "link"),
    ):
        bars: dict[str, list] = {key: [] for key in ("y", "base", "x", "text", "data")}
        for target, spans in sorted(by_target.items()):
            for span in spans.spans:
                first, last = max(span.start_s, 0.0), min(span.end_s, horizon)
                if last <= first:
                    continue
                bars["y"].append(target)
                bars["base"].append(to_date(first, start))
                bars["x"].append(round((last - first) * 1000.0, 3))
                bars["text"].append(_span_text(target, what, span, start, horizon))
                bars["data"].append([kind, target])
                shown.append(target)
        if bars["y"]:
            data.append(
                {
                    "type": "bar",
                    "orientation": "h",
                    "name": LABELS[what],
                    "y": bars["y"],
                    "base": bars["base"],
                    "x": bars["x"],
                    "hovertext": bars["text"],
                    "hovertemplate": "%{hovertext}<extra></extra>",
                    "customdata": bars["data"],
                    "marker": {"color": COLOURS[what]},
                    "opacity": 0.85,
                    "width": 0.6,
                }
            )
    ticks = _ticks(history, start, horizon)
    if ticks is not None:
        data.append(ticks)
        shown += ticks["y"]
    rows = [key for _, key in history.rows if key in set(shown)]
    if not rows:
        return empty_figure("no faults within the run", height=120)
    layout: dict[str, Any] = {
        "barmode": "overlay",
        "height": 110 + 26 * len(rows),
        "margin": {"l": 120, "r": 10, "t": 30 if title else 10, "b": 30},
        "template": template("plotly_white"),
        "xaxis": {"type": "date", "range": [to_date(0.0, start), to_date(horizon, start)]},
        "yaxis": {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": rows,
            "autorange": "reversed",
        },
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        "hovermode": "closest",
        "clickmode": "event",
        "shapes": [_cursor(t if t is not None else 0.0, start, visible=t is not None)],
        "meta": {"start_ms": _epoch_ms(start)},
    }
    if title:
        layout["title"] = {"text": title, "x": 0.01, "font": {"size": 13}}
    return {"data": data, "layout": layout}


def span_label(span: FaultSpan, start: dt.datetime | None) -> str:
    """``since day 1, 06:00 until day 1, 08:00``: a span in words."""
    return f"since {when(span.start_s, start)}<br>until {when(span.end_s, start)}"


def when(t: float, start: dt.datetime | None) -> str:
    """Simulated time as people read it (``not restored`` for a fault without an end)."""
    if not math.isfinite(t):
        return "not restored"
    label = time_label(t, start or dt.datetime(2000, 1, 1))
    return label if start is not None else label.split(" (")[0]


# ---------------------------------------------------------------------------------------------
# Reading the table
# ---------------------------------------------------------------------------------------------


def _text(table: pa.Table, name: str) -> pa.ChunkedArray:
    """A column as strings (nulls where the table has no such column)."""
    if name not in table.column_names:
        return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column.cast(pa.string())


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    """A column as floats (NaN for nulls)."""
    column = pc.cast(table.column(name), pa.float64())
    return np.asarray(pc.fill_null(column, math.nan).to_numpy(zero_copy_only=False), dtype=float)


def _split(sites: str | None) -> list[str]:
    return [site.strip() for site in (sites or "").split(",") if site.strip()]


def _merged(parts: list[tuple[float, float, str, str]]) -> Spans:
    """Overlapping or touching intervals as one span each."""
    spans: list[FaultSpan] = []
    group: list[tuple[float, float, str, str]] = []
    for part in sorted(parts):
        if group and part[0] > max(end for _, end, _, _ in group):
            spans.append(_span(group))
            group = []
        group.append(part)
    if group:
        spans.append(_span(group))
    return Spans(spans)


def _span(group: list[tuple[float, float, str, str]]) -> FaultSpan:
    return FaultSpan(
        group[0][0],
        max(end for _, end, _, _ in group),
        len(group),
        tuple(dict.fromkeys(target for _, _, target, _ in group if target)),
        tuple(dict.fromkeys(cause for _, _, _, cause in group if cause)),
    )


def _failures(rows: pa.Table) -> tuple[dict[str, np.ndarray], dict[str, tuple[str, ...]]]:
    """Accelerator failure times and types per site (vectorised: there may be many)."""
    if not rows.num_rows:
        return {}, {}
    sites = pc.coalesce(_text(rows, FAULT.sites), _text(rows, FAULT.target))
    times = _numbers(rows, FAULT.start)
    names = np.asarray(pc.fill_null(sites, "").to_numpy(zero_copy_only=False), dtype=object)
    keep = np.isfinite(times) & (np.abs(times) <= MAX_TIME_S)
    keys, inverse = np.unique(names[keep], return_inverse=True)
    kept = times[keep]
    order = np.argsort(inverse, kind="stable")
    cuts = np.searchsorted(inverse[order], np.arange(1, len(keys)))
    failures: dict[str, list[np.ndarray]] = defaultdict(list)
    for key, picked in zip(keys.tolist(), np.split(order, cuts), strict=True):
        for site in _split(key)[:1]:
            if len(site) <= MAX_KEY_CHARS:
                failures[site].append(kept[picked])
    pairs = pa.table({"site": sites, "type": _text(rows, FAULT.accelerator)})
    distinct = pairs.group_by(["site", "type"]).aggregate([]).to_pylist()
    types: dict[str, list[str]] = defaultdict(list)
    for pair in distinct:
        for site in _split(pair["site"])[:1]:
            if pair["type"]:
                types[site].append(pair["type"])
    return (
        {site: np.sort(np.concatenate(parts)) for site, parts in failures.items()},
        {site: tuple(sorted(set(found))) for site, found in types.items()},
    )


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------


def _span_text(target: str, what: str, span: FaultSpan, start: dt.datetime, horizon: float) -> str:
    after = " (after the run's end)" if span.end_s > horizon else ""
    hours = (span.end_s - span.start_s) / 3600.0
    lasted = f"{hours:,.1f} h" if math.isfinite(hours) else "no end"
    why = ", ".join(span.causes) or "?"
    named = ", ".join(t for t in span.targets if t != target)
    return (
        f"<b>{target}</b>: {LABELS[what]}<br>{span_label(span, start)}{after}<br>{lasted}, "
        f"{span.faults} fault{'s' if span.faults != 1 else ''} ({why})"
        + (f"<br>from {named}" if named else "")
    )


def _ticks(history: FaultHistory, start: dt.datetime, horizon: float) -> dict[str, Any] | None:
    """Accelerator failures: one tick each, or counted into bins past MAX_TICKS a site."""
    ticks: dict[str, list] = {key: [] for key in ("x", "y", "text", "data")}
    for site, times in sorted(history.failures.items()):
        times = times[(times >= 0.0) & (times <= horizon)]
        types = ", ".join(history.failure_types.get(site, ())) or "?"
        if len(times) <= MAX_TICKS:
            for t in times.tolist():
                ticks["x"].append(t)
                ticks["text"].append(
                    f"<b>{site}</b>: accelerator failure ({types})<br>{when(t, start)}"
                )
                ticks["y"].append(site)
        else:
            counts, edges = np.histogram(times, bins=MAX_TICKS, range=(0.0, max(horizon, 1.0)))
            for count, lo, hi in zip(counts.tolist(), edges[:-1], edges[1:], strict=True):
                if count:
                    ticks["x"].append(float((lo + hi) / 2))
                    ticks["text"].append(
                        f"<b>{site}</b>: {count} accelerator failures ({types})<br>"
                        f"{when(lo, start)} to {when(hi, start)}"
                    )
                    ticks["y"].append(site)
        ticks["data"] += [["site", site]] * (len(ticks["y"]) - len(ticks["data"]))
    if not ticks["x"]:
        return None
    dates = np.datetime_as_string(to_dates(ticks["x"], start), unit="ms").tolist()
    return {
        "type": "scatter",
        "mode": "markers",
        "name": LABELS[ACCELERATOR],
        "x": dates,
        "y": ticks["y"],
        "hovertext": ticks["text"],
        "hovertemplate": "%{hovertext}<extra></extra>",
        "customdata": ticks["data"],
        "marker": {
            "symbol": "line-ns-open",
            "size": 12,
            "color": COLOURS[ACCELERATOR],
            "line": {"width": 1.5, "color": COLOURS[ACCELERATOR]},
        },
    }


__all__ = ["FaultHistory", "Spans", "span_label", "timeline_figure", "when"]
