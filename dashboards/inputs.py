"""Callback inputs, validated in one place.

A Dash callback receives whatever JSON a request carries, not only what its component
would send: every value a page uses passes through one of these first. Each returns the
value in the shape the page needs, or raises :class:`InputError` whose message is the state to
show ("not a time", "filter too long", …). Nothing here echoes more than a short excerpt of
what it was given (:func:`shown`).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs

from twin.dashboards.limits import (
    MAX_CHOICES,
    MAX_KEY_CHARS,
    MAX_QUERY_CHARS,
    MAX_SHOWN_CHARS,
    MAX_SORT_KEYS,
    MAX_TIME_S,
    MAX_URL_CHARS,
)

SELECTION_KINDS = ("site", "link")


class InputError(ValueError):
    """A callback input that is not what its component sends; the message says so."""


def shown(value: Any) -> str:
    """A short, safe rendering of ``value`` for a message (strings cut, containers named)."""
    if isinstance(value, str):
        if len(value) > MAX_SHOWN_CHARS:
            return repr(value[:MAX_SHOWN_CHARS]) + f"… ({len(value):,} characters)"
        return repr(value)
    if value is None or isinstance(value, (bool, int, float)):
        text = repr(value)
        return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "…"
    return f"a {type(value).__name__}"


def text(value: Any, limit: int = MAX_KEY_CHARS) -> str | None:
    """A non-empty string of at most ``limit`` characters, else None."""
    if isinstance(value, str) and 0 < len(value) <= limit and "\x00" not in value:
        return value
    return None


def number(value: Any) -> float | None:
    """A finite number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def time_s(value: Any) -> float | None:
    """A simulated time from a slider: None stays None (the run's first stamp); a finite
    number is kept (bounded to ±MAX_TIME_S; pages clamp it to the run's timeline)."""
    if value is None:
        return None
    result = number(value)
    if result is None:
        raise InputError(f"no data at this time: {shown(value)} is not a time")
    return min(max(result, -MAX_TIME_S), MAX_TIME_S)


def integer(value: Any, lo: int, hi: int, default: int) -> int:
    """An integral number in ``[lo, hi]`` (an integral float too); anything else: default."""
    result = number(value)
    if result is None or not result.is_integer() or not lo <= result <= hi:
        return default
    return int(result)


def choices(value: Any, what: str) -> tuple[str, ...]:
    """The values of a multi-select: None, one string or a list of strings."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or len(items) > MAX_CHOICES:
        raise InputError(f"not a {what} choice: {shown(value)}")
    picked = tuple(item for item in items if text(item) is not None)
    if len(picked) != len(items):
        bad = next(item for item in items if text(item) is None)
        raise InputError(f"not a {what}: {shown(bad)}")
    return picked


def selection(value: Any) -> tuple[str, str] | None:
    """``site:<id>`` or ``link:<id>`` as (kind, id); None for nothing chosen."""
    if value is None or value == "":
        return None
    kind, _, key = value.partition(":") if isinstance(value, str) else ("", "", "")
    if kind not in SELECTION_KINDS or text(key) is None:
        raise InputError(f"not found: {shown(value)} is not a factory or a link")
    return kind, key


def clicked(value: Any) -> str | None:
    """The ``kind:id`` of the site or link a map click (``clickData``) landed on, if any."""
    try:
        kind, key = value["points"][0]["customdata"][:2]
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        return None
    if not isinstance(kind, str) or kind not in SELECTION_KINDS or text(key) is None:
        return None
    return f"{kind}:{key}"


def query(value: Any) -> str:
    """A filter query: a string of at most MAX_QUERY_CHARS (None: no filter)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"filter not understood: {shown(value)} is not text")
    if len(value) > MAX_QUERY_CHARS:
        raise InputError(
            f"filter too long ({len(value):,} characters; at most {MAX_QUERY_CHARS:,})"
        )
    return value


def sort_by(value: Any, columns: set[str]) -> tuple[list[dict[str, str]], list[str]]:
    """DataTable's ``sort_by`` (a list of ``{column_id, direction}``) restricted to known
    columns, and a note per entry left out."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        return [], [f"sort not understood: {shown(value)}"]
    kept, ignored = [], []
    for item in value[:MAX_SORT_KEYS]:
        column = item.get("column_id") if isinstance(item, dict) else None
        direction = item.get("direction", "asc") if isinstance(item, dict) else None
        if isinstance(column, str) and column in columns and direction in ("asc", "desc"):
            kept.append({"column_id": column, "direction": direction})
        else:
            ignored.append(f"sort not understood: {shown(item)}")
    if len(value) > MAX_SORT_KEYS:
        ignored.append(f"sorting by the first {MAX_SORT_KEYS} columns only")
    return kept, ignored


def url_path(value: Any) -> str:
    """A location's pathname ('/' for anything that is not a short string)."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_CHARS:
        return "/"
    return value


def query_value(search: Any, key: str) -> str | None:
    """The first value of ``key`` in a location's query string (``?run=…``), if any."""
    if not isinstance(search, str) or not search:
        return None
    try:
        values = parse_qs(search[:MAX_URL_CHARS].lstrip("?"), max_num_fields=64).get(key)
    except ValueError:  # too many fields
        return None
    return values[0] if values else None


__all__ = [
    "InputError",
    "choices",
    "clicked",
    "integer",
    "number",
    "query",
    "query_value",
    "selection",
    "shown",
    "sort_by",
    "text",
    "time_s",
    "url_path",
]
