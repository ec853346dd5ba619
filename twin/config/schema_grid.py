"""The grid a site draws from, in the scenario schema: carbon intensity, electricity price and
the facility power cap, each a constant, 24 hourly values, a file of timestamped values (a
step series) or, for the cap, a schedule of steps.

A series file is read and checked when the scenario is loaded (:mod:`twin.config.grid_checks`):
it must cover the run (or repeat), its timestamps increase, its values are numbers.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from twin.config.schema_base import Duration, Name, StrictModel

SERIES_FIELDS = ("carbon_gco2_per_kwh", "price_eur_per_mwh", "power_mw")
"""The site fields that may name a series file (the default column of each is its name)."""


class GridSeries(StrictModel):
    """A step series from a file: one row per step, a timestamp and a value."""

    series: str = Field(
        description="CSV, CSV.gz or Parquet file of (timestamp, value) rows: 'builtin:NAME' "
        "for a packaged series, or a path relative to the config file. Each value holds "
        "from its timestamp (ISO 8601, with an offset or UTC) until the next; the last for "
        "as long as the step before it"
    )
    column: Name | None = Field(
        None,
        description="column of values; default the column named as the field "
        "(e.g. carbon_gco2_per_kwh), else the only column besides the timestamps",
    )
    time_column: Name | None = Field(None, description="column of timestamps; default the first")
    scale: float = Field(
        1.0, gt=0, le=1e6, description="multiplier applied to every value (unit conversion)"
    )
    repeat: bool = Field(
        False,
        description="true: the series repeats after its span (a reference year applied to "
        "any year); false: it must cover the whole run",
    )


class PowerStep(StrictModel):
    """From ``at`` (after the scenario start) on, the site's power cap is ``power_mw``."""

    at: Duration = Field(description="when the cap changes, after the start (the first at 0)")
    power_mw: float = Field(gt=0, le=100_000, description="the cap from then on, MW")


CarbonIntensity = (
    Annotated[float, Field(ge=0, le=1e5)]
    | Annotated[list[Annotated[float, Field(ge=0, le=1e5)]], Field(min_length=24, max_length=24)]
    | GridSeries
)
Price = (
    Annotated[float, Field(ge=-1e5, le=1e5)]
    | Annotated[list[Annotated[float, Field(ge=-1e5, le=1e5)]], Field(min_length=24, max_length=24)]
    | GridSeries
)
PowerCap = (
    Annotated[float, Field(gt=0, le=100_000)]
    | Annotated[list[PowerStep], Field(min_length=1, max_length=100_000)]
    | GridSeries
)
