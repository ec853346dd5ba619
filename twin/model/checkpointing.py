"""How a job's run is cut into compute, checkpoints and restarts, and what an interruption
costs it: pure arithmetic, no SimPy.

A run from a (re)start is a *segment*: first the restart overhead ``R`` (after an
interruption only), then compute intervals of ``τ`` seconds, each followed by a checkpoint
that stalls the job ``C`` seconds, and the last piece of compute with no checkpoint after it.
An interruption at elapsed time ``t`` keeps the work up to the last *completed* checkpoint;
the compute since then is lost (a checkpoint still being written is lost with it).

Young's interval (Young 1974; Daly 2006 to first order): for checkpoint cost ``C`` and mean
time between failures ``M``, ``τ = √(2 · C · M)`` minimises the expected waste, and the
share of time doing useful work is then about ``1 − √(2C/M)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def young_daly_interval_s(cost_s: float, mtbf_s: float) -> float:
    """Young's checkpoint interval √(2 · C · M) [s]; inf when nothing fails or checkpoints
    are free (then a checkpoint is never worth its stall, or costs nothing whenever taken)."""
    if cost_s <= 0.0 or not math.isfinite(mtbf_s):
        return math.inf
    return math.sqrt(2.0 * cost_s * mtbf_s)


@dataclass(frozen=True, slots=True)
class Segment:
    """The plan of one run from a (re)start until the job's work is done, if nothing fails."""

    restart_s: float
    """Restart overhead paid first (0 on a first start)."""
    compute_s: float
    """Compute left, wall seconds on this accelerator."""
    interval_s: float
    """Compute between two checkpoints (inf: none)."""
    cost_s: float
    """Stall of one checkpoint."""

    @property
    def checkpoints(self) -> int:
        """Checkpoints taken in the segment: one after each full interval, none after the
        last piece of compute."""
        if not math.isfinite(self.interval_s) or self.compute_s <= self.interval_s:
            return 0
        return math.ceil(self.compute_s / self.interval_s) - 1

    @property
    def duration_s(self) -> float:
        """Wall time of the whole segment if nothing interrupts it."""
        return self.restart_s + self.compute_s + self.checkpoints * self.cost_s

    def checkpoint_ends_s(self) -> list[float]:
        """When each checkpoint completes, seconds after the segment's start."""
        period = self.interval_s + self.cost_s
        return [self.restart_s + k * period for k in range(1, self.checkpoints + 1)]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where wall time went in (part of) a segment: the four add up to the elapsed time."""

    useful_s: float
    """Compute kept (ended by a completed checkpoint, or by the end of the job)."""
    lost_s: float
    """Compute since the last completed checkpoint, lost to the interruption."""
    checkpoint_s: float
    """Stalled writing checkpoints (a partly written one included)."""
    restart_s: float
    """Spent on the restart overhead."""
    checkpoints: int
    """Checkpoints completed."""


def completed(segment: Segment) -> Progress:
    """The segment ran to its end: every second of compute counted."""
    return Progress(
        segment.compute_s,
        0.0,
        segment.checkpoints * segment.cost_s,
        segment.restart_s,
        segment.checkpoints,
    )


def interrupted(segment: Segment, elapsed_s: float) -> Progress:
    """What an interruption ``elapsed_s`` seconds into the segment keeps and loses."""
    elapsed_s = max(0.0, min(elapsed_s, segment.duration_s))
    if elapsed_s <= segment.restart_s:
        return Progress(0.0, 0.0, 0.0, elapsed_s, 0)
    since_restart = elapsed_s - segment.restart_s
    period = segment.interval_s + segment.cost_s
    done = min(int(since_restart // period), segment.checkpoints) if segment.checkpoints else 0
    into = since_restart - done * period if done else since_restart
    kept = done * segment.interval_s if done else 0.0
    if done < segment.checkpoints and into > segment.interval_s:  # a checkpoint being written
        lost, writing = segment.interval_s, into - segment.interval_s
    else:
        lost, writing = into, 0.0
    return Progress(kept, lost, done * segment.cost_s + writing, segment.restart_s, done)
