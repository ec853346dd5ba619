"""What makes a comparison of runs dishonest, found before comparing: runs that differ in
horizon, start or twin version, and runs that did not complete.

Each :class:`Issue` names the groups it concerns; it affects the comparison of a group with
the baseline when it concerns no other group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twin.analysis.groups import FACTS, Group, Member

SHOWN = 3
"""Runs named per value in a message; the others are counted."""


@dataclass(frozen=True)
class Issue:
    """A reason not to trust a comparison."""

    groups: frozenset[int]
    """Indices of the groups it concerns (0 is the baseline)."""
    message: str

    def affects(self, group: int) -> bool:
        """Whether the comparison of group ``group`` with the baseline is affected."""
        return self.groups <= {0, group}


def find_issues(groups: Sequence[Group]) -> list[Issue]:
    """Every difference of horizon, start and twin version (within a group, and between a
    group and the baseline) and every run that is not complete."""
    issues: list[Issue] = []
    for index, group in enumerate(groups):
        issues += _within(index, group)
    for index, group in enumerate(groups[1:], start=1):
        issues += _against_baseline(groups[0], index, group)
    return issues


def _within(index: int, group: Group) -> list[Issue]:
    """The runs of one group that differ from each other or did not complete."""
    issues = []
    for key, what in FACTS.items():
        spread = _by_value(group.members, key)
        if len(spread) > 1:
            message = f"{what} differs within {group.name}: {_describe(spread, key)}"
            issues.append(Issue(frozenset({index}), message))
    unfinished = [m for m in group.members if not m.complete]
    if unfinished:
        runs = "; ".join(_unfinished(m) for m in unfinished[:SHOWN])
        more = f" and {len(unfinished) - SHOWN} more" if len(unfinished) > SHOWN else ""
        message = (
            f"{group.name}: {len(unfinished)} of {len(group.members)} runs not complete: "
            f"{runs}{more}"
        )
        issues.append(Issue(frozenset({index}), message))
    return issues


def _against_baseline(base: Group, index: int, group: Group) -> list[Issue]:
    """Where a group (each uniform in itself) differs from the baseline."""
    issues = []
    for key, what in FACTS.items():
        ours, theirs = _by_value(base.members, key), _by_value(group.members, key)
        if len(ours) == 1 and len(theirs) == 1 and set(ours) != set(theirs):
            message = (
                f"{what} differs: {_show(next(iter(ours)), key)} in {base.name}, "
                f"{_show(next(iter(theirs)), key)} in {group.name}"
            )
            issues.append(Issue(frozenset({0, index}), message))
    return issues


def _by_value(members: Sequence[Member], key: str) -> dict[Any, list[str]]:
    """Known value of fact ``key`` → the runs that have it."""
    spread: dict[Any, list[str]] = {}
    for member in members:
        value = member.facts.get(key)
        if value is not None:
            spread.setdefault(value, []).append(member.name)
    return spread


def _describe(spread: dict[Any, list[str]], key: str) -> str:
    parts = []
    for value, names in spread.items():
        more = f" (+{len(names) - SHOWN} more)" if len(names) > SHOWN else ""
        parts.append(f"{_show(value, key)} in {', '.join(names[:SHOWN])}{more}")
    return "; ".join(parts)


def _show(value: Any, key: str) -> str:
    if key == "horizon_s" and isinstance(value, (int, float)):
        return f"{value:g} s ({value / 3600:g} h)"
    return str(value)


def _unfinished(member: Member) -> str:
    reason = f" ({member.reason})" if member.reason else ""
    return f"{member.name} is {member.status}{reason}"
