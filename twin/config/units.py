"""Parsing of human-friendly quantities: durations such as ``7d``, ``12h``, ``90s``."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|m|min|h|d|w)?\s*$")


def parse_duration_s(value: object) -> float:
    """Return ``value`` in seconds: a number of seconds or a string like ``7d``, ``12h``, ``30m``.

    Raises ValueError with the accepted forms when ``value`` is neither.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 7d, 12h, 30m or seconds, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            number, unit = match.groups()
            return float(number) * _UNIT_SECONDS[unit or "s"]
    raise ValueError(f"expected a duration such as 7d, 12h, 30m or seconds, got {value!r}")


def format_duration(seconds: float) -> str:
    """Short human form of a duration in seconds (``7d``, ``1.5h``, ``42s``)."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
