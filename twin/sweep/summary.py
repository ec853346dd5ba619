"""A sweep's summary: each configuration's metrics as mean ± 95% Student-t interval over its
seeds (complete points only; a metric undefined in a run does not count towards its n)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from twin.analysis.stats import Interval, mean_interval
from twin.sweep.table import METRIC


@dataclass(frozen=True)
class ConfigurationSummary:
    """One configuration of a sweep and its metrics over seeds."""

    config: str
    label: str
    points: int
    complete: int
    metrics: dict[str, Interval]


def metric_names(table: pa.Table) -> list[str]:
    """The metrics of a sweep table, in column order."""
    return [name.removeprefix(METRIC) for name in table.column_names if name.startswith(METRIC)]


def summarize_sweep(table: pa.Table) -> list[ConfigurationSummary]:
    """Per configuration (in the table's order), each metric's interval over seeds."""
    rows = table.to_pylist()
    order = list(dict.fromkeys(row["config"] for row in rows))
    summaries = []
    for config in order:
        mine = [row for row in rows if row["config"] == config]
        complete = [row for row in mine if row["status"] == "complete"]
        summaries.append(
            ConfigurationSummary(
                config=config,
                label=mine[0]["label"],
                points=len(mine),
                complete=len(complete),
                metrics={
                    name: mean_interval([row[METRIC + name] for row in complete])
                    for name in metric_names(table)
                },
            )
        )
    return summaries
