"""Checks of a scenario's grid series and power schedules when it is loaded: each series
file reads (:mod:`twin.importers.grid_series`, imported only when a scenario names one), is
not larger than the run-size bounds allow, holds values its field can take (no negative
carbon intensity, a power cap above 0) and covers the run unless it repeats; a power
schedule starts at 0 and goes forward in time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from twin.config.budget import RAISE, WorkBounds
from twin.config.data_files import trace_file
from twin.config.errors import ConfigError, ConfigIssue, TwinUserError
from twin.config.schema import Scenario, Site
from twin.config.schema_grid import SERIES_FIELDS, GridSeries, PowerStep

if TYPE_CHECKING:
    import numpy as np

    from twin.importers.grid_series import GridSeriesTable

LOWEST = {"carbon_gco2_per_kwh": (0.0, True), "power_mw": (0.0, False)}
"""The least value of each field's series, and whether that value itself is allowed."""


def site_series(scenario: Scenario) -> Iterator[tuple[str, Site, str, GridSeries]]:
    """(config path, site, field, spec) of every grid series the scenario names."""
    for index, site in enumerate(scenario.sites):
        for field in SERIES_FIELDS:
            spec = getattr(site, field)
            if isinstance(spec, GridSeries):
                yield f"sites[{index}].{field}", site, field, spec


def check_grid_series(scenario: Scenario, source: str, scale: float = 1.0) -> None:
    """Raise :class:`ConfigError` with every problem of the scenario's series files
    (``scale``: the run-size bounds' multiplier, ``--large-input``)."""
    issues = grid_series_issues(scenario, WorkBounds().series_steps * scale)
    if issues:
        raise ConfigError(issues, source)


def grid_series_issues(scenario: Scenario, max_steps: float | None) -> list[ConfigIssue]:
    """The problems of every series file of the scenario, each at its field's path."""
    issues: list[ConfigIssue] = []
    for path, _, field, spec in site_series(scenario):
        from twin.importers.grid_series import read_grid_series_once  # pyarrow: only then

        try:
            file = trace_file(spec.series)
            table = read_grid_series_once(file, spec.column, spec.time_column, field)
        except TwinUserError as error:
            issues.append(ConfigIssue(f"{path}.series", str(error)))
            continue
        name = file.name[:80]
        steps = len(table.values)
        if max_steps is not None and steps > max_steps:
            issues.append(
                ConfigIssue(
                    f"{path}.series",
                    f"{name} holds {steps:,} steps, more than {max_steps:,.0f}; {RAISE}",
                )
            )
            continue
        issues += _value_issues(path, name, field, table)
        if not spec.repeat:
            issues += _coverage_issues(path, name, scenario, table.epoch_s)
    return issues


def _value_issues(path: str, name: str, field: str, table: GridSeriesTable) -> list[ConfigIssue]:
    """The first value below what the field takes (carbon ≥ 0; a power cap > 0)."""
    if field not in LOWEST:
        return []
    least, allowed = LOWEST[field]
    values = table.values
    bad = (values < least) if allowed else (values <= least)
    if not bad.any():
        return []
    k = int(bad.argmax())
    what = "negative" if allowed else "not above 0"
    count = int(bad.sum())
    more = f" (and {count - 1} more)" if count > 1 else ""
    return [
        ConfigIssue(
            f"{path}.series",
            f"{name} {table.where} {table.lines[k]}: {table.column} {values[k]:g} is {what}{more}",
        )
    ]


def covered_until(epoch_s: np.ndarray) -> float:
    """Where a series' last step ends: as long after its start as the step before it."""
    return float(epoch_s[-1] + (epoch_s[-1] - epoch_s[-2]))


def _coverage_issues(
    path: str, name: str, scenario: Scenario, epoch_s: np.ndarray
) -> list[ConfigIssue]:
    start = scenario.start.timestamp()
    end = start + scenario.horizon
    first, last = float(epoch_s[0]), covered_until(epoch_s)
    if first <= start and end <= last:
        return []
    return [
        ConfigIssue(
            f"{path}.series",
            f"{name} covers {_iso(first)} to {_iso(last)}, but the run needs {_iso(start)} to "
            f"{_iso(end)}; give a series that covers it, or repeat: true to repeat it",
        )
    ]


def _iso(epoch_s: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc)
    return moment.isoformat(timespec="minutes").replace("+00:00", "Z")


def power_schedule_issues(scenario: Scenario) -> list[ConfigIssue]:
    """A power schedule's first step is at 0 (the cap from the start) and its steps go
    forward in time."""
    issues = []
    for index, site in enumerate(scenario.sites):
        steps = site.power_mw
        if not isinstance(steps, list):
            continue
        path = f"sites[{index}].power_mw"
        if steps[0].at != 0:
            issues.append(
                ConfigIssue(
                    f"{path}[0].at",
                    f"the first step gives the cap from the start: expected 0, got "
                    f"{steps[0].at:g} s",
                )
            )
        issues += _order_issues(path, steps)
    return issues


def _order_issues(path: str, steps: list[PowerStep]) -> list[ConfigIssue]:
    return [
        ConfigIssue(
            f"{path}[{j}].at",
            f"steps must be in increasing order of at: {step.at:g} s comes after "
            f"{steps[j - 1].at:g} s",
        )
        for j, step in enumerate(steps)
        if j > 0 and step.at <= steps[j - 1].at
    ]
