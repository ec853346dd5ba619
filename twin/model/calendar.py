"""Simulated time against the wall calendar: hours of the day and daily profiles.

Simulation time is float seconds since the scenario's ``start``; daily profiles (carbon
intensity, price, diurnal demand) are 24 values indexed by the UTC hour of the day, and
:meth:`Calendar.profile` makes a constant or such a profile a
:class:`~twin.model.series.StepSeries` (the form files of timestamped values take too).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from twin.model.series import StepSeries

HOUR_S = 3600.0
DAY_S = 86400.0


class Calendar:
    """Converts simulated seconds to dates and daily profiles to step series."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        self.offset_s = (start - midnight).total_seconds()

    def seconds_at(self, when: dt.datetime) -> float:
        """Simulated time of a date (negative if before the start)."""
        return (when - self.start).total_seconds()

    def hour_of_day(self, time_s: float) -> int:
        return int(((time_s + self.offset_s) // HOUR_S) % 24)

    def profile(self, spec: float | Sequence[float]) -> StepSeries:
        """A constant or 24 hourly values (UTC) as a step series of simulated time."""
        if isinstance(spec, (int, float)):
            return StepSeries.of_constant(spec)
        return StepSeries.of_day(spec, self.offset_s)
