"""The grid a site draws from, in the scenario schema: carbon intensity, electricity price and
the facility power cap, each a constant, 24 hourly values, a file of timestamped values (a
step series) or, for the cap, a schedule of steps.

A series file is read and checked when the scenario is loaded (:mod:`twin.config.grid_checks`):
it must cover the run (or repeat), its timestamps increase, its values are numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Field, Tag

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


def _form(number: str, listed: str) -> Callable[[Any], str]:
    """Which form a value takes, from its type: a mapping is a series file, a list the
    ``listed`` form, anything else a number (so a message says what that form expected)."""

    def form(value: Any) -> str:
        if isinstance(value, (dict, BaseModel)):
            return "form-series"
        if isinstance(value, (list, tuple)):
            return listed
        return number

    return form


def _hourly(low: float) -> Any:
    return Annotated[
        list[Annotated[float, Field(ge=low, le=1e5)]], Field(min_length=24, max_length=24)
    ]


CarbonIntensity = Annotated[
    Annotated[Annotated[float, Field(ge=0, le=1e5)], Tag("form-number")]
    | Annotated[_hourly(0), Tag("form-hourly")]
    | Annotated[GridSeries, Tag("form-series")],
    Discriminator(_form("form-number", "form-hourly")),
]
"""gCO2/kWh: a constant, 24 hourly values (UTC) or a series file."""
Price = Annotated[
    Annotated[Annotated[float, Field(ge=-1e5, le=1e5)], Tag("form-number")]
    | Annotated[_hourly(-1e5), Tag("form-hourly")]
    | Annotated[GridSeries, Tag("form-series")],
    Discriminator(_form("form-number", "form-hourly")),
]
"""EUR/MWh (negative prices allowed): a constant, 24 hourly values (UTC) or a series file."""
PowerCap = Annotated[
    Annotated[Annotated[float, Field(gt=0, le=100_000)], Tag("form-number")]
    | Annotated[
        Annotated[list[PowerStep], Field(min_length=1, max_length=100_000)],
        Tag("form-schedule"),
    ]
    | Annotated[GridSeries, Tag("form-series")],
    Discriminator(_form("form-number", "form-schedule")),
]
"""MW: a constant, a schedule of steps or a series file."""
