"""The results table of a sweep, ``DIR/sweep.arrow``: one row per point (configuration ×
seed). Fixed columns first; then one ``param:<override path>`` column per swept parameter
(the value as YAML text, e.g. ``lowest_carbon`` or ``64``), then one float64
``metric:<name>`` column per collected metric (NaN where not defined or the point failed).
"""

from __future__ import annotations

import pyarrow as pa

from twin.trace.schema import SCHEMA_VERSION

PARAM = "param:"
"""Prefix of the parameter columns."""
METRIC = "metric:"
"""Prefix of the metric columns."""


def _col(name: str, kind: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": description})


FIXED = [
    _col("point", pa.string(), "content address: hash of resolved config, seed, twin version"),
    _col("config", pa.string(), "id of the configuration (its parameters, not the seed)"),
    _col("label", pa.string(), "the configuration in words: path=value, ... ('base' if none)"),
    _col("seed", pa.int64(), "the scenario seed of the point"),
    _col("status", pa.string(), "complete, incomplete or failed"),
    _col("reason", pa.string(), "why the point is not complete", nullable=True),
    _col("run", pa.string(), "the point's run directory, relative to the sweep directory"),
    _col("wall_s", pa.float64(), "wall time of the point's run (not reproducible)", nullable=True),
    _col("host", pa.string(), "machine the point ran on (not reproducible)", nullable=True),
]
NOT_REPRODUCIBLE = ("wall_s", "host")
"""Columns that differ between equal sweeps (everything else is byte-identical)."""


def sweep_schema(params: list[str], metrics: list[str]) -> pa.Schema:
    """The schema of ``sweep.arrow`` for these swept override paths and metric names."""
    fields = list(FIXED)
    fields += [_col(PARAM + p, pa.string(), f"value of {p} (YAML text)") for p in params]
    fields += [_col(METRIC + m, pa.float64(), f"metric {m}") for m in metrics]
    return pa.schema(
        fields,
        metadata={"twin.schema_version": SCHEMA_VERSION, "twin.table": "sweep"},
    )
