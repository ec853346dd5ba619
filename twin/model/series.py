"""Step series: a value that is constant from each step's start until the next one's.

Carbon intensity, electricity price and a site's power cap are all step series of simulated
time: a constant (one step), 24 hourly values of the day (a series that repeats every day), or
a file of timestamped values (a year of hours, or a reference year that repeats). One class
serves them all, so the model evaluates and integrates every form the same way.

The integral is exact (a sum of rectangles): the running integral at every step start is kept
as a cumulative sum, so ``integral(t0, t1)`` costs two binary searches however many steps lie
between, and a span inside one step is ``value × (t1 − t0)``, the same arithmetic as a
constant. The ``*_many`` forms evaluate arrays of times at once (numpy ``searchsorted``).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np


class StepSeries:
    """A step-wise constant function of simulated time (seconds since the scenario start).

    ``starts_s`` are the steps' starts on the series' own clock ``u = t + shift_s``
    (increasing, the first at or before every time asked about: before it, the first value
    holds; after the last start, the last value holds). With ``period_s`` the series repeats:
    ``u`` is taken modulo the period, and ``starts_s`` must lie in [0, period) with the
    first at 0.
    """

    def __init__(
        self,
        starts_s: Sequence[float] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        period_s: float | None = None,
        shift_s: float = 0.0,
    ) -> None:
        starts = np.asarray(starts_s, dtype=np.float64)
        levels = np.asarray(values, dtype=np.float64)
        if starts.ndim != 1 or starts.shape != levels.shape or len(starts) == 0:
            raise ValueError("a step series needs as many starts as values, at least one")
        if len(starts) > 1 and not np.all(np.diff(starts) > 0):
            raise ValueError("step starts must increase")
        if period_s is not None and (starts[0] != 0 or starts[-1] >= period_s):
            raise ValueError("a repeating series' steps must start at 0 and lie within a period")
        self.starts_s = starts
        self.values = levels
        self.period_s = period_s
        self.shift_s = float(shift_s)
        widths = np.diff(starts, append=period_s if period_s is not None else starts[-1])
        self.cumulative = np.concatenate([[0.0], np.cumsum(levels * widths)])
        """∫ from the first start to each step's start (and, repeating, to the period's end)."""
        self._starts = starts.tolist()
        self._values = levels.tolist()
        self._cumulative = self.cumulative.tolist()
        self.constant: float | None = self._values[0] if len(levels) == 1 else None
        """The value when the series has one step (a constant), else None."""

    # ---------------------------------------------------------------- forms

    @classmethod
    def of_constant(cls, value: float) -> StepSeries:
        return cls([0.0], [float(value)])

    @classmethod
    def of_day(cls, hourly: Sequence[float], midnight_offset_s: float) -> StepSeries:
        """24 values by UTC hour of the day; ``midnight_offset_s`` is how far past midnight
        (UTC) the scenario starts."""
        return cls(np.arange(24) * 3600.0, hourly, period_s=86400.0, shift_s=midnight_offset_s)

    # ---------------------------------------------------------------- one time

    def _clock(self, time_s: float) -> tuple[float, float]:
        """(the series' clock, the integral of whole periods before it)."""
        u = time_s + self.shift_s
        period = self.period_s
        if period is None:
            return u, 0.0
        turns = math.floor(u / period)
        return u - turns * period, turns * self._cumulative[-1]

    def _index(self, u: float) -> int:
        return max(bisect.bisect_right(self._starts, u) - 1, 0)

    def value(self, time_s: float) -> float:
        """The value at ``time_s``."""
        if self.constant is not None:
            return self.constant
        u, _ = self._clock(time_s)
        return self._values[self._index(u)]

    def integral(self, t0: float, t1: float) -> float:
        """∫ value dt over [t0, t1] (value × seconds), exact; 0 if t1 ≤ t0."""
        if t1 <= t0:
            return 0.0
        if self.constant is not None:
            return self.constant * (t1 - t0)
        u0, whole0 = self._clock(t0)
        u1, whole1 = self._clock(t1)
        i0, i1 = self._index(u0), self._index(u1)
        if i0 == i1 and whole0 == whole1:
            return self._values[i0] * (t1 - t0)
        return self._running(u1, i1) + whole1 - self._running(u0, i0) - whole0

    def _running(self, u: float, i: int) -> float:
        """∫ from the first start to ``u`` (within a period), ``i`` its step."""
        return self._cumulative[i] + self._values[i] * (u - self._starts[i])

    def steps_within(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """(time, value) of every step that starts in (t0, t1), in order of time: when a
        process following the series must act."""
        period = self.period_s
        starts = self.starts_s - self.shift_s
        if period is None:
            inside = (starts > t0) & (starts < t1)
            return list(zip(starts[inside].tolist(), self.values[inside].tolist(), strict=True))
        found: list[tuple[float, float]] = []
        turn = math.floor((t0 + self.shift_s) / period)
        while turn * period - self.shift_s < t1:
            found += [
                (start, value)
                for start, value in zip(
                    (starts + turn * period).tolist(), self._values, strict=True
                )
                if t0 < start < t1
            ]
            turn += 1
        return found

    # ---------------------------------------------------------------- many times

    def _clock_many(self, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = np.asarray(times_s, dtype=np.float64) + self.shift_s
        if self.period_s is None:
            return u, np.zeros_like(u)
        turns = np.floor(u / self.period_s)
        return u - turns * self.period_s, turns * self.cumulative[-1]

    def _index_many(self, u: np.ndarray) -> np.ndarray:
        return np.maximum(np.searchsorted(self.starts_s, u, side="right") - 1, 0)

    def values_at(self, times_s: np.ndarray | Sequence[float]) -> np.ndarray:
        """The value at each of ``times_s`` (float64 array of the same shape)."""
        u, _ = self._clock_many(np.asarray(times_s, dtype=np.float64))
        return self.values[self._index_many(u)]

    def integrals(
        self, t0: np.ndarray | Sequence[float], t1: np.ndarray | Sequence[float]
    ) -> np.ndarray:
        """∫ over each [t0[k], t1[k]] (0 where t1 ≤ t0), e.g. a job's run from each of many
        candidate starts."""
        a = np.asarray(t0, dtype=np.float64)
        b = np.asarray(t1, dtype=np.float64)
        return np.where(b > a, self._running_many(b) - self._running_many(a), 0.0)

    def _running_many(self, times_s: np.ndarray) -> np.ndarray:
        u, whole = self._clock_many(times_s)
        i = self._index_many(u)
        return self.cumulative[i] + self.values[i] * (u - self.starts_s[i]) + whole
