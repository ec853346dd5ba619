"""Checks of raw config data shared by the scenario's cross-checks (:mod:`twin.config.validate`
and :mod:`twin.config.validate_faults`): distributions' relations, lists of dicts, and how
known names are listed in a message."""

from __future__ import annotations

from typing import Any

from twin.config.errors import ConfigIssue


def dicts(items: Any) -> list[tuple[int, dict[str, Any]]]:
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def check_distribution(path: str, dist: dict[str, Any]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []

    def number(key: str) -> float | None:
        value = dist.get(key)
        return (
            float(value)
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            else None
        )

    low, high = number("low"), number("high")
    if dist.get("dist") == "uniform" and low is not None and high is not None and high < low:
        issues.append(ConfigIssue(f"{path}.high", f"must be >= low ({low:g}), got {high:g}"))
    values, weights = dist.get("values"), dist.get("weights")
    if isinstance(values, list) and isinstance(weights, list):
        if len(weights) != len(values):
            issues.append(
                ConfigIssue(
                    f"{path}.weights",
                    f"must have one weight per value ({len(values)}), got {len(weights)}",
                )
            )
        elif all(isinstance(w, (int, float)) for w in weights) and sum(weights) <= 0:
            issues.append(ConfigIssue(f"{path}.weights", "must not all be zero"))
    lowest, highest = number("min"), number("max")
    if lowest is not None and highest is not None and highest < lowest:
        issues.append(ConfigIssue(f"{path}.max", f"must be >= min ({lowest:g}), got {highest:g}"))
    return issues


def known(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit]) + (", …" if len(names) > limit else "")
    return f"known: {shown}" if names else "none are defined"
