"""Simulated time against the wall calendar: hours of the day and hourly profiles.

Simulation time is float seconds since the scenario's ``start``; profiles (carbon intensity,
price, diurnal demand) are 24 values indexed by the UTC hour of the day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

HOUR_S = 3600.0
DAY_S = 86400.0


class Calendar:
    """Converts simulated seconds to dates and evaluates hourly profiles."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.offset_s = (start - midnight).total_seconds()

    def seconds_at(self, when: dt.datetime) -> float:
        """Simulated time of a date (negative if before the start)."""
        return (when - self.start).total_seconds()

    def hour_of_day(self, time_s: float) -> int:
        return int(((time_s + self.offset_s) // HOUR_S) % 24)

    def value(self, profile: float | Sequence[float], time_s: float) -> float:
        """The profile's value at ``time_s`` (a constant is its own value)."""
        if isinstance(profile, (int, float)):
            return float(profile)
        return float(profile[self.hour_of_day(time_s)])

    def integral(self, profile: float | Sequence[float], t0: float, t1: float) -> float:
        """∫ profile dt over [t0, t1], in value × seconds, exact at hour boundaries."""
        if t1 <= t0:
            return 0.0
        if isinstance(profile, (int, float)):
            return float(profile) * (t1 - t0)
        total = 0.0
        t = t0
        while t < t1:
            hour_end = (math.floor((t + self.offset_s) / HOUR_S) + 1) * HOUR_S - self.offset_s
            segment_end = min(hour_end, t1)
            total += profile[self.hour_of_day(t)] * (segment_end - t)
            t = segment_end
        return total
