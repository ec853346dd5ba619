"""Groups of runs to compare: one configuration, one run per seed.

A group is one run directory, a folder of run directories (the same configuration run with
different seeds), or a configuration of a sweep (built by :mod:`twin.sweep.groups`). Each of
its runs is a :class:`Member`: where it is, its seed, the facts an honest comparison checks
(horizon, start, twin version, completeness), and its metric values, measured once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.analysis.measure import measure_summary
from twin.trace.layout import CONFIG, MANIFEST
from twin.trace.reader import Run, RunError, open_run
from twin.trace.summary import Summary, summarize

FACTS = {"horizon_s": "horizon", "start": "start", "twin_version": "twin version"}
"""Manifest fields two runs must agree on to be compared (field → its name in messages)."""
_SEED_LINE = re.compile(r"^seed:.*$", re.MULTILINE)


class CompareError(ValueError):
    """A comparison that cannot be made as asked (a group that does not exist, a folder that
    holds no runs, runs that differ in horizon...): a user mistake, reported without a
    traceback."""


@dataclass
class Member:
    """One run of a group."""

    name: str
    """How messages name it (its path)."""
    path: Path
    seed: int
    facts: dict[str, Any]
    """The :data:`FACTS` of its manifest (None where unknown)."""
    status: str
    reason: str = ""
    services: tuple[str, ...] = ()
    """Its inference services."""
    has_jobs: bool = True
    """Whether it submitted training jobs."""
    known: dict[str, float] = field(default_factory=dict)
    """Metric values known without reading the run (a sweep table's columns)."""
    _summary: Summary | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def values(self, names: Sequence[str]) -> dict[str, float]:
        """The metrics ``names`` of this run: known ones as they are, the others measured
        from its trace (NaN for all of them if the run failed before writing one)."""
        missing = [name for name in names if name not in self.known]
        measured: dict[str, float] = {}
        if missing and self.status == "failed" and not (self.path / MANIFEST).is_file():
            measured = dict.fromkeys(missing, float("nan"))
        elif missing:
            if self._summary is None:
                self._summary = summarize(open_run(self.path))
            measured = measure_summary(self._summary, missing)
        return {name: self.known.get(name, measured.get(name, float("nan"))) for name in names}


@dataclass
class Group:
    """Runs of one configuration, at most one per seed."""

    name: str
    members: list[Member]

    @property
    def seeds(self) -> list[int]:
        return [member.seed for member in self.members]

    def values(self, names: Sequence[str]) -> dict[str, dict[int, float]]:
        """Metric name → seed → value."""
        table: dict[str, dict[int, float]] = {name: {} for name in names}
        for member in self.members:
            for name, value in member.values(names).items():
                table[name][member.seed] = value
        return table


def member_of_run(run: Run, name: str | None = None) -> Member:
    """The member a run directory makes."""
    manifest = run.manifest
    return Member(
        name=name or str(run.path),
        path=run.path,
        seed=int(manifest.get("seed", 0)),
        facts={key: manifest.get(key) for key in FACTS},
        status=run.status,
        reason=str(manifest.get("reason", "")),
        services=tuple(manifest.get("inference", {}) or {}),
        has_jobs=bool(manifest.get("jobs_submitted", 1)),
    )


def run_group(path: str | Path, name: str | None = None) -> Group:
    """The group of a run directory, or of a folder of run directories (one configuration
    with several seeds: their resolved configs must be equal apart from the seed)."""
    folder = Path(path)
    label = name or str(path)
    if (folder / MANIFEST).is_file():
        return Group(label, [member_of_run(open_run(folder))])
    if not folder.is_dir():
        raise CompareError(
            f"{label}: no such run directory, folder of runs or sweep{_did_you_mean(folder)}"
        )
    runs = [open_run(sub) for sub in sorted(folder.iterdir()) if (sub / MANIFEST).is_file()]
    if not runs:
        raise CompareError(
            f"{label} is not a run directory (no {MANIFEST}), a folder of run directories "
            "or a sweep directory (no sweep.arrow)"
        )
    _check_one_configuration(label, runs)
    group = Group(label, [member_of_run(run) for run in runs])
    check_one_run_per_seed(group)
    return group


def _did_you_mean(path: Path) -> str:
    """`` (did you mean 'runs/base'?)`` for a folder beside ``path`` with a close name."""
    try:
        names = [p.name for p in path.parent.iterdir() if p.is_dir()]
    except OSError:
        return ""
    close = difflib.get_close_matches(path.name, names, n=1)
    return f" (did you mean {str(path.parent / close[0])!r}?)" if close else ""


def _check_one_configuration(label: str, runs: list[Run]) -> None:
    """The runs of a folder group must differ in their seed alone."""
    first = _config_without_seed(runs[0])
    for run in runs[1:]:
        if _config_without_seed(run) != first:
            raise CompareError(
                f"{label} is not one configuration: {run.path} and {runs[0].path} differ in "
                f"more than their seed (compare their {CONFIG}); give each its own argument"
            )


def _config_without_seed(run: Run) -> str:
    try:
        return _SEED_LINE.sub("", run.config_text)
    except OSError as error:
        raise RunError(f"{run.path / CONFIG} is not readable: {error}") from None


def check_one_run_per_seed(group: Group) -> None:
    """A seed twice in a group would count one sample twice."""
    seen: dict[int, Member] = {}
    for member in group.members:
        if member.seed in seen:
            raise CompareError(
                f"{group.name} holds two runs with seed {member.seed}: {seen[member.seed].name} "
                f"and {member.name} (a group has one run per seed)"
            )
        seen[member.seed] = member
