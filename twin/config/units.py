"""Parsing of human-friendly quantities: durations such as ``7d``, ``12h``, ``90s``, and dates.

twin parses these itself (YAML's own timestamps are off, see :mod:`twin.config.yaml_input`),
so every bad value is reported with its field path, and nothing unbounded gets through: a
duration is finite and at most ten years, a date is a real calendar date between 1900 and 2200.
"""

from __future__ import annotations

import datetime as dt
import math
import re

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|m|min|h|d|w)?\s*$")
MAX_DURATION_S = 3650 * 86400.0
"""The longest duration a scenario may give (ten years)."""
YEARS = (1900, 2200)
"""Dates a scenario may give, inclusive."""


def parse_duration_s(value: object) -> float:
    """Return ``value`` in seconds: a number of seconds or a string like ``7d``, ``12h``, ``30m``.

    Raises ValueError with the accepted forms when ``value`` is neither, or is not finite.
    """
    seconds = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and len(value) <= 64:
        match = _DURATION.match(value)
        if match:
            number, unit = match.groups()
            seconds = float(number) * _UNIT_SECONDS[unit or "s"]
    if seconds is None:
        raise ValueError(
            f"expected a duration such as 7d, 12h, 30m or seconds, got {_shown(value)}"
        )
    if not math.isfinite(seconds):
        raise ValueError(f"expected a finite duration (at most 10 years), got {_shown(value)}")
    return seconds


def parse_timestamp(value: object) -> object:
    """An ISO date or date-time, as text or a ``date``/``datetime``; never a bare number.

    Returns a ``datetime`` (naive when the text gives no offset); raises ValueError saying
    what is wrong (not a date, an impossible date such as 2024-02-30, a year out of range).
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and len(value) <= 64 and re.match(r"^\s*\d{4}-", value):
        text = value.strip().replace("Z", "+00:00").replace(" ", "T", 1)
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"not a real date or date-time: {_shown(value)} ({error})") from None
    else:
        raise ValueError(
            "expected an ISO date such as 2026-03-02 or a date-time such as "
            f"2026-03-02T08:00:00Z, got {_shown(value)}"
        )
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise ValueError(f"expected a date between {YEARS[0]} and {YEARS[1]}, got {_shown(value)}")
    return moment


def format_duration(seconds: float) -> str:
    """Short human form of a duration in seconds (``7d``, ``1.5h``, ``42s``)."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
