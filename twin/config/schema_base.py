"""Building blocks of the scenario schema: the strict base model, units (durations, dates),
bounded numbers and the distributions a config can give wherever a quantity varies.

Every model forbids unknown keys and is frozen once validated; every number is finite.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from twin.config.units import MAX_DURATION_S, parse_duration_s, parse_timestamp

# ---------------------------------------------------------------- building blocks


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors; validated configs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Duration = Annotated[
    float,
    BeforeValidator(parse_duration_s),
    Field(ge=0, le=MAX_DURATION_S),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
                {
                    "type": "string",
                    "pattern": r"^\s*[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?\s*(s|m|min|h|d|w)?\s*$",
                },
            ],
            "description": "a duration: seconds, or a string such as 7d, 12h, 30m (≤ 10 years)",
        }
    ),
]
"""Seconds; accepts ``7d``, ``12h``, ``30m``, ``90s`` or a number; at most 10 years."""


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Naive date-times are UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


Timestamp = Annotated[
    dt.datetime,
    BeforeValidator(parse_timestamp),
    AfterValidator(_as_utc),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "description": "an ISO date or date-time (UTC unless it says otherwise)",
        }
    ),
]
"""An ISO date or date-time between 1900 and 2200; naive values are taken as UTC."""

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]+$", min_length=1, max_length=64)]
Name = Annotated[str, Field(max_length=200)]
Text = Annotated[str, Field(max_length=10_000)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0, le=1e12)]
"""A relative weight or share (non-negative, finite)."""
Sample = Annotated[float, Field(ge=-1e15, le=1e15)]
"""A value a distribution produces or is bounded by (finite, |x| ≤ 1e15)."""
MAX_POOL = 10_000_000
"""The most accelerators of one pool, and so of one job."""
HourlyProfile = Annotated[
    list[Annotated[float, Field(ge=0, le=1e5)]], Field(min_length=24, max_length=24)
]
"""24 values, one per hour of the day (UTC), for carbon intensity or price."""

# ---------------------------------------------------------------- distributions


class _Clipped(StrictModel):
    min: Sample | None = Field(None, description="samples below are raised to this value")
    max: Sample | None = Field(None, description="samples above are lowered to this value")


class Constant(_Clipped):
    dist: Literal["constant"]
    value: Sample


class Exponential(_Clipped):
    dist: Literal["exponential"]
    mean: float = Field(gt=0, le=1e15)


class LogNormal(_Clipped):
    dist: Literal["lognormal"]
    median: float = Field(gt=0, le=1e15)
    sigma: float = Field(gt=0, le=10, description="standard deviation of the log")


class Uniform(_Clipped):
    dist: Literal["uniform"]
    low: Sample
    high: Sample


class Choice(_Clipped):
    dist: Literal["choice"]
    values: list[Sample] = Field(min_length=1, max_length=100_000)
    weights: list[Weight] | None = Field(
        None, description="relative weights, same length as values; default equal"
    )


class Empirical(_Clipped):
    dist: Literal["empirical"]
    file: str = Field(
        description="CSV(.gz) of samples: 'builtin:NAME' for a packaged trace, or a path "
        "relative to the config file"
    )
    column: Name | None = Field(None, description="column to sample; default the first")
    scale: float = Field(1.0, gt=0, le=1e12, description="multiplier applied to every sample")


Distribution = Annotated[
    Constant | Exponential | LogNormal | Uniform | Choice | Empirical,
    Field(discriminator="dist"),
]
