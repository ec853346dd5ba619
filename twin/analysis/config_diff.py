"""What one run's resolved config changes against another's: a list of changed paths, in
the ``--set`` path syntax (``sites.jupiter.power_mw``), so a comparison can say what its
what-if did. Items of keyed lists (sites, links, regions, services…) are matched by id (a
link by its ends), not by position; other lists are compared whole."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from twin.trace.layout import CONFIG

ABSENT = "(absent)"
"""How a path missing on one side is shown."""
IGNORED = frozenset({"seed"})
"""Top-level keys that differ between the runs of one group by design."""


@dataclass(frozen=True)
class Change:
    """One path whose value differs."""

    path: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


def run_config(run_dir: Path) -> dict[str, Any]:
    """A run directory's resolved config (empty if it has none, e.g. a failed point)."""
    path = run_dir / CONFIG
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def config_diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Every path whose value differs between two resolved configs, in document order."""
    changes: list[Change] = []
    _diff(
        {k: v for k, v in before.items() if k not in IGNORED},
        {k: v for k, v in after.items() if k not in IGNORED},
        "",
        changes,
    )
    return changes


def _diff(a: Any, b: Any, path: str, changes: list[Change]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            where = f"{path}.{key}" if path else str(key)
            _diff(a.get(key, ABSENT), b.get(key, ABSENT), where, changes)
        return
    keyed_a, keyed_b = _keyed(a), _keyed(b)
    if keyed_a is not None and keyed_b is not None:
        _diff(keyed_a, keyed_b, path, changes)
        return
    if a != b:
        changes.append(Change(path, a, b))


def _keyed(items: Any) -> dict[str, Any] | None:
    """A list of items with ids (or links with ends) as id → item; None for other values."""
    if not isinstance(items, list) or not items:
        return None
    keyed: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict):
            return None
        if "id" in item:
            key = str(item["id"])
        elif "a" in item and "b" in item:
            key = f"{item['a']}-{item['b']}"
        else:
            return None
        if key in keyed:
            return None
        keyed[key] = {k: v for k, v in item.items() if k != "id"}
    return keyed


def describe(change: Change, longest: int = 60) -> str:
    """``path: before → after``, long values shortened."""
    before, after = shown_value(change.before, longest), shown_value(change.after, longest)
    return f"{change.path}: {before} → {after}"


def shown_value(value: Any, longest: int = 60) -> str:
    """A config value as one short line of YAML (strings as they are)."""
    text = (
        value
        if isinstance(value, str)
        else yaml.safe_dump(value, default_flow_style=True, width=10_000)
        .strip()
        .removesuffix("...")
        .strip()
    )
    return text if len(text) <= longest else text[: longest - 1] + "…"
