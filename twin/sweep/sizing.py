"""The sizing search: the least value of a parameter at which every target holds.

The values are a grid from the range's least value in ``step``s (the most is the last). The
search runs the least value first; if it fails, values ``1, 3, 7, 15, …`` steps above it (the
gap doubling: exponential bracketing) until one holds, then bisects between the last failing
and the first holding value until they are one step apart: about ``2·log2(steps)`` values,
each run with every seed. A target holds at a value when its one-sided confidence bound over the
seeds (Student t at ``confidence``) is on the right side of the threshold: for
``slo_attainment >= 0.99`` at 95 %, the 95 % lower bound of the mean attainment is at least
0.99. With one seed the value itself is used, and the answer says it has no confidence.

It assumes that more of the parameter never makes a target worse, and checks it on the
values it ran: a target metric whose mean moves the wrong way between two of them by more
than their intervals is reported, and so is a failing value above a holding one.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from twin.analysis.stats import Interval, mean_interval
from twin.sweep.size_spec import SizeSpec, Target

Value = int | float


@dataclass(frozen=True)
class Evidence:
    """What the runs at one value of the parameter showed."""

    value: Value
    intervals: dict[str, Interval]
    """Per metric: mean and one-sided bounds (``low``/``high``) at the spec's confidence."""
    holds: dict[str, bool]
    """Per target (its text): whether it holds."""
    points: int
    complete: int

    @property
    def feasible(self) -> bool:
        return self.complete > 0 and all(self.holds.values())


Evaluate = Callable[[Sequence[Value]], dict[Value, Evidence]]
"""Runs every seed at each of the values given, returns the evidence per value."""


@dataclass(frozen=True)
class SizeAnswer:
    """The result of a search."""

    answer: Value | None
    """The least value found at which every target holds; None: none in the range does."""
    bracket: tuple[Value | None, Value | None]
    """The greatest failing value below the answer (None if the least holds) and the answer."""
    evidence: list[Evidence]
    """Every value run, in increasing order."""
    warnings: list[str] = field(default_factory=list)


def evidence_at(
    spec: SizeSpec, value: Value, metric_values: dict[str, list[float]], points: int
) -> Evidence:
    """The evidence at ``value`` from each metric's values over the complete points."""
    level = 2 * spec.confidence - 1  # the two-sided level whose ends are one-sided bounds
    intervals = {name: mean_interval(values, level) for name, values in metric_values.items()}
    complete = max((len(v) for v in metric_values.values()), default=0)
    holds = {str(t): _holds(t, intervals.get(t.metric)) for t in spec.targets}
    return Evidence(value, intervals, holds, points, complete)


def _holds(target: Target, interval: Interval | None) -> bool:
    if interval is None or interval.n == 0 or math.isnan(interval.mean):
        return False
    if math.isnan(interval.half_width):  # one seed: the value itself
        return target.holds(interval.mean, interval.mean)
    return target.holds(interval.low, interval.high)


def grid_values(spec: SizeSpec) -> list[Value]:
    """The values the search may run: the least, then one step at a time, the most last."""
    count = math.ceil((spec.high - spec.low) / spec.step - 1e-9)
    values = [spec.value(min(spec.low + k * spec.step, spec.high)) for k in range(count + 1)]
    return list(dict.fromkeys(values))


def search(spec: SizeSpec, evaluate: Evaluate) -> SizeAnswer:
    """Bracket then bisect (see the module's docstring)."""
    grid = grid_values(spec)
    seen: dict[Value, Evidence] = {}

    def feasible(index: int) -> bool:
        value = grid[index]
        if value not in seen:
            seen.update(evaluate([value]))
        return seen[value].feasible

    failing, holding = -1, None
    probe, jump = 0, 1
    while holding is None:
        if feasible(probe):
            holding = probe
        elif probe == len(grid) - 1:
            break
        else:
            failing, probe = probe, min(probe + jump, len(grid) - 1)
            jump *= 2
    while holding is not None and holding - failing > 1:
        middle = (failing + holding) // 2
        if feasible(middle):
            holding = middle
        else:
            failing = middle
    evidence = [seen[v] for v in sorted(seen)]
    answer = grid[holding] if holding is not None else None
    below = grid[failing] if failing >= 0 else None
    return SizeAnswer(answer, (below, answer), evidence, _warnings(spec, evidence, answer))


def _warnings(spec: SizeSpec, evidence: list[Evidence], answer: Value | None) -> list[str]:
    """What the values run say against the search's assumption, and about its confidence."""
    notes = []
    if len(spec.sweep.seeds) == 1:
        notes.append("1 seed: the targets are checked on single runs, without confidence")
    if answer is None and evidence:
        failed = [t for t, ok in evidence[-1].holds.items() if not ok]
        notes.append(
            f"no value in [{spec.value(spec.low)}, {spec.value(spec.high)}] meets every "
            f"target; at {evidence[-1].value} these fail: {'; '.join(failed)}"
        )
    for lower, upper in itertools.pairwise(evidence):
        if lower.feasible and not upper.feasible:
            notes.append(
                f"not monotone: the targets hold at {lower.value} but not at {upper.value}"
            )
    for target in spec.targets:
        runs = [(e.value, e.intervals.get(target.metric)) for e in evidence]
        runs = [(v, i) for v, i in runs if i is not None and i.n > 1]
        for (low_value, low_i), (high_value, high_i) in itertools.pairwise(runs):
            worse = high_i.high < low_i.low if target.op == ">=" else high_i.low > low_i.high
            if worse:
                notes.append(
                    f"{target.metric} is not monotone in {spec.parameter}: "
                    f"{low_i} at {low_value}, {high_i} at {high_value}"
                )
    return notes
