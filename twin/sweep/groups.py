"""The groups ``twin compare`` is given, by name: run directories, folders of runs, sweeps.

``RUN`` (a run directory) and ``FOLDER`` (a folder of run directories of one configuration)
are one group each. ``SWEEP`` (a directory holding ``sweep.arrow``) is every configuration of
the sweep, one group each, in the table's order; ``SWEEP@CONFIG`` is one of them, named by its
label (``policies.scheduler=fcfs``, ``base``; spaces optional) or its configuration id (or a
unique prefix of it). A sweep group's metric values come from the table's ``metric:``
columns, and for other metrics from its points' run directories.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from twin.analysis.groups import (
    FACTS,
    CompareError,
    Group,
    Member,
    check_one_run_per_seed,
    member_of_run,
    run_group,
)
from twin.analysis.metrics import parse_metric
from twin.config import ConfigError, Scenario, validate_scenario
from twin.config.loader import read_mapping
from twin.sweep.metric_names import check_metric_names
from twin.sweep.table import METRIC
from twin.trace.errors import first_line
from twin.trace.layout import CONFIG
from twin.trace.reader import open_run

SWEEP_TABLE = "sweep.arrow"
SELECT = "@"
"""Between a sweep directory and the configuration it names."""
REQUIRED = ("config", "label", "seed", "status", "run")
ID_PREFIX_CHARS = 4
"""The shortest configuration-id prefix accepted."""
SHOWN = 12
"""Configurations listed when a name matches none."""


def resolve_groups(names: Sequence[str]) -> list[Group]:
    """The groups the command-line names ``names`` stand for, in order."""
    groups: list[Group] = []
    for name in names:
        groups += resolve_group(name)
    return groups


def resolve_group(name: str) -> list[Group]:
    """One name: a run or a folder (one group), a sweep (a group per configuration) or
    ``SWEEP@CONFIG`` (one group)."""
    path = Path(name)
    if (path / SWEEP_TABLE).is_file():
        return [c.group for c in sweep_configurations(path, name)]
    if path.exists() or SELECT not in name:
        return [run_group(path, name)]
    directory, selector = _split(name)
    configurations = sweep_configurations(Path(directory), directory)
    return [select_configuration(configurations, selector, name)]


def _split(name: str) -> tuple[str, str]:
    """``SWEEP@CONFIG`` at the first ``@`` after a sweep directory (a label may hold one)."""
    parts = name.split(SELECT)
    for cut in range(1, len(parts)):
        directory = SELECT.join(parts[:cut])
        if (Path(directory) / SWEEP_TABLE).is_file():
            return directory, SELECT.join(parts[cut:])
    directory = parts[0]
    what = "is not a sweep directory (no sweep.arrow)"
    what = what if Path(directory).is_dir() else "does not exist"
    raise CompareError(f"{name}: {directory} {what} (SWEEP@CONFIG names a configuration)")


@dataclass(frozen=True)
class SweepConfiguration:
    """One configuration of a sweep: its id, its label, its runs."""

    id: str
    label: str
    group: Group


def sweep_configurations(directory: Path, name: str) -> list[SweepConfiguration]:
    """Every configuration of the sweep in ``directory``, in the order of its table; ``name``
    is how the sweep was named (its groups are ``name@label``)."""
    table = read_sweep_table(directory)
    metrics = [c for c in table.column_names if c.startswith(METRIC)]
    found: dict[str, SweepConfiguration] = {}
    for row in table.select([*REQUIRED, "reason", *metrics]).to_pylist():
        label = row["label"]
        group = Group(f"{name}{SELECT}{label}", [])
        configuration = found.setdefault(
            row["config"], SweepConfiguration(row["config"], label, group)
        )
        configuration.group.members.append(_member(directory, name, row, metrics))
    for configuration in found.values():
        check_one_run_per_seed(configuration.group)
    return list(found.values())


def read_sweep_table(directory: Path) -> pa.Table:
    """``DIR/sweep.arrow``; CompareError if it is not a readable sweep table."""
    path = directory / SWEEP_TABLE
    try:
        table = ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    except (pa.ArrowException, OSError, ValueError) as error:
        raise CompareError(f"{path} is not a readable Arrow file: {first_line(error)}") from None
    missing = [c for c in (*REQUIRED, "reason") if c not in table.column_names]
    if missing:
        raise CompareError(f"{path} is not a sweep table: no column {', '.join(missing)}")
    if table.num_rows == 0:
        raise CompareError(f"{path} holds no points: there is nothing to compare")
    return table


def _member(directory: Path, name: str, row: dict[str, Any], metrics: list[str]) -> Member:
    """A point of the sweep: its run directory's facts, the table's status and values."""
    run_dir = directory / row["run"]
    shown = f"{name}/{row['run']}"
    reason = row["reason"] or ""
    if not run_dir.is_dir() and row["status"] != "complete":
        facts = dict.fromkeys(FACTS)
        return Member(shown, run_dir, int(row["seed"]), facts, row["status"], reason)
    member = member_of_run(open_run(run_dir), shown)
    member.known = {c.removeprefix(METRIC): _float(row[c]) for c in metrics}
    if row["status"] != "complete":
        member.status, member.reason = row["status"], reason or member.reason
    return member


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def select_configuration(
    configurations: list[SweepConfiguration], selector: str, name: str
) -> Group:
    """The configuration ``selector`` names: a label (spaces optional), an id or an id
    prefix; CompareError with a did-you-mean otherwise."""
    wanted = _squeeze(selector)
    for configuration in configurations:
        if _squeeze(configuration.label) == wanted:
            return configuration.group
    if len(wanted) >= ID_PREFIX_CHARS:
        matches = [c for c in configurations if c.id.startswith(wanted)]
        if len(matches) == 1:
            return matches[0].group
    labels = [c.label for c in configurations]
    close = difflib.get_close_matches(selector, labels, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = [f"{c.label} ({c.id})" for c in configurations]
    listed = "; ".join(shown[:SHOWN]) + (
        f"; … {len(shown) - SHOWN} more" if len(shown) > SHOWN else ""
    )
    raise CompareError(
        f"{name}: the sweep has no configuration {selector!r}{hint}; it has: {listed}"
    )


def _squeeze(text: str) -> str:
    return "".join(text.split())


def check_names(names: Sequence[str], groups: Sequence[Group]) -> None:
    """ConfigError (paths ``--metric[i]``, with a did-you-mean) for a metric no group's
    scenario defines: an unknown metric, or a service, tenant, site or region in none."""
    failing: set[str] | None = None
    first: ConfigError | None = None
    for scenario in _scenarios(groups):
        try:
            check_metric_names(names, scenario, path="--metric")
        except ConfigError as error:
            paths = {issue.path for issue in error.issues}
            failing = paths if failing is None else failing & paths
            first = first or error
        else:
            return
    if first is None:  # no run left its config (every point failed): the names alone
        for name in names:
            parse_metric(name)
        return
    issues = [issue for issue in first.issues if issue.path in (failing or set())]
    if issues:
        raise ConfigError(issues, "the metrics asked for")


def _scenarios(groups: Sequence[Group]) -> list[Scenario]:
    """The scenario of each group's first run that has its config (one per distinct file)."""
    seen: dict[str, Scenario] = {}
    for group in groups:
        for member in group.members:
            config = member.path / CONFIG
            if config.is_file():
                text = config.read_text(encoding="utf-8")
                if text not in seen:
                    seen[text] = validate_scenario(read_mapping(config, "scenario"), str(config))
                break
    return list(seen.values())
