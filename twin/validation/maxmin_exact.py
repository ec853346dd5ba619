"""An independent max-min fair allocation in exact rational arithmetic, to hold twin's
progressive-filling kernel against.

It is written from the textbook, not from twin's kernel: the bottleneck algorithm of
Bertsekas & Gallager, *Data Networks* (2nd ed., 1992) §6.5.2, recomputed from scratch each
round in :class:`fractions.Fraction` (so no rounding, no saturation tolerance), plus the
optimality certificate (feasible, and every flow below its cap has a bottleneck link: a
saturated link on which no flow gets more).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

Route = Sequence[int]


def maxmin_exact(
    routes: Sequence[Route], capacity: Sequence[float], caps: Sequence[float] | None = None
) -> list[Fraction]:
    """Max-min fair rates of flows over links (a link counted once per occurrence in a
    route); ``caps`` bound each flow's rate (None: unbounded). Rates are exact rationals.
    Every flow crosses at least one link."""
    if not all(routes):
        raise ValueError("every flow must cross at least one link")
    n = len(routes)
    limit: list[Fraction | None] = [
        None if caps is None or caps[f] == float("inf") else Fraction(caps[f]) for f in range(n)
    ]
    remaining = [Fraction(c) for c in capacity]
    rates: dict[int, Fraction] = {}
    while len(rates) < n:
        open_flows = [f for f in range(n) if f not in rates]
        crossing: dict[int, int] = {}
        for f in open_flows:
            for link in routes[f]:
                crossing[link] = crossing.get(link, 0) + 1
        share = min(remaining[link] / count for link, count in crossing.items())
        lowest_cap = min((limit[f] for f in open_flows if limit[f] is not None), default=None)
        if lowest_cap is not None and lowest_cap <= share:
            fixed = [(f, lowest_cap) for f in open_flows if limit[f] == lowest_cap]
        else:
            tight = {link for link, count in crossing.items() if remaining[link] / count == share}
            fixed = [(f, share) for f in open_flows if tight.intersection(routes[f])]
        for f, rate in fixed:
            rates[f] = rate
            for link in routes[f]:
                remaining[link] -= rate
    return [rates[f] for f in range(n)]


def bottleneck_violations(
    routes: Sequence[Route],
    capacity: Sequence[float],
    rates: Sequence[float],
    caps: Sequence[float] | None = None,
    rtol: float = 1e-9,
) -> int:
    """Flows that break max-min optimality: over a link's capacity, or below their cap with
    no saturated link on which they are the largest flow (to ``rtol``)."""
    load = [0.0] * len(capacity)
    on_link: dict[int, list[int]] = {}
    for f, route in enumerate(routes):
        for link in route:
            load[link] += rates[f]
            on_link.setdefault(link, []).append(f)
    saturated = {link for link, total in enumerate(load) if total >= capacity[link] * (1 - rtol)}
    violations = 0
    for f, route in enumerate(routes):
        over = any(load[link] > capacity[link] * (1 + rtol) for link in route)
        at_cap = caps is not None and rates[f] >= caps[f] * (1 - rtol)
        bottleneck = any(
            rates[f] >= max(rates[g] for g in on_link[link]) * (1 - rtol)
            for link in route
            if link in saturated
        )
        violations += over or not (at_cap or bottleneck)
    return violations
