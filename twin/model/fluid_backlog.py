"""The fluid backlog of the ``fluid`` fidelity: load above capacity, carried across windows.

Newell's cumulative curves (*Applications of Queueing Theory*, 1982, ch. 2): within a window
the accepted arrivals grow at the routed rate ``λ``, the departures at the capacity ``R``
while a backlog lasts, and the backlog ``B`` is their difference, so it grows or drains at
``λ − R``; beyond the queue limit arrivals are turned away. A request that completes at
``t`` arrived, first in first out, when the arrival curve reached the departure curve's
value at ``t``: its wait is the horizontal distance between the curves. The curves are kept
(one point per window) only while a backlog lasts, and only as far back as the oldest
request still waiting, so a window costs the same whatever the request rate.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass(frozen=True)
class BacklogWindow:
    """The backlog through one window."""

    end: float
    """Requests in the backlog at the window's end."""
    overflow: float
    """Requests the queue limit turned away (expected)."""
    share: float
    """Share of the window's completions served while the backlog lasted."""
    wait_from_s: float
    """Wait of a request completing at the window's start (or when the backlog begins)."""
    wait_to_s: float
    """Wait of a request completing at the window's end (or when the backlog drains)."""


NONE = BacklogWindow(0.0, 0.0, 0.0, 0.0, 0.0)


class Backlog:
    """The carried backlog of one service at one site (requests beyond the stationary level)."""

    def __init__(self) -> None:
        self.level = 0.0
        self._times: list[float] = []
        """Window ends since the backlog began, with the cumulative accepted arrivals."""
        self._arrived: list[float] = []

    def step(
        self, start: float, end: float, rate: float, capacity: float, room: float
    ) -> BacklogWindow:
        """Advance through the window ``[start, end]`` at arrival ``rate`` and ``capacity``
        requests/s, holding at most ``room`` requests."""
        window_s = end - start
        net = rate - capacity
        before = self.level
        if before <= 0 and net <= 0:
            return NONE
        if not self._times:
            self._times, self._arrived = [start], [0.0]
        arrived_before = self._arrived[-1]
        wait_from = self._wait(start, arrived_before - before)
        after = before + net * window_s
        if after > 0:  # the backlog lasts the whole window
            overflow = max(0.0, after - room)
            after = min(after, room)
            self._times.append(end)
            self._arrived.append(arrived_before + rate * window_s - overflow)
            self.level = after
            self._trim(self._arrived[-1] - after)
            wait_to = self._wait(end, self._arrived[-1] - after)
            return BacklogWindow(after, overflow, 1.0, wait_from, wait_to)
        drain_s = before / -net  # it drains within the window
        served_then = capacity * drain_s
        share = served_then / (served_then + rate * (window_s - drain_s))
        self.level, self._times, self._arrived = 0.0, [], []
        return BacklogWindow(0.0, 0.0, share, wait_from, 0.0)

    def _wait(self, now: float, departed: float) -> float:
        """Wait of the request completing at ``now``: the time since the arrival curve
        reached ``departed`` (linear between window ends)."""
        arrived, times = self._arrived, self._times
        i = bisect.bisect_left(arrived, departed)
        if i == 0:
            return now - times[0]
        if i == len(arrived):
            return 0.0
        low, high = arrived[i - 1], arrived[i]
        when = times[i - 1] + (departed - low) / (high - low) * (times[i] - times[i - 1])
        return max(0.0, now - when)

    def _trim(self, departed: float) -> None:
        """Forget the curve before the oldest request still waiting."""
        keep = max(0, bisect.bisect_left(self._arrived, departed) - 1)
        if keep:
            del self._times[:keep], self._arrived[:keep]
