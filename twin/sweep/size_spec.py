"""The sizing file: which numeric parameter to size, in which range, against which targets.

::

    scenario: europe                   # a built-in name or a file (relative to this file)
    whatifs: [inference_peak]          # optional
    set: {telemetry.interval: 30m}     # optional, fixed for every point
    horizon: 6h
    parameter: workloads.inference.services.chat.replicas.jupiter
    range: [1, 256]                    # the least and the most to consider
    step: 1                            # integers: the answer's resolution (default 1);
                                       # a float range: the final bracket's width
    targets:                           # every one must hold
      - inference.chat.slo_attainment >= 0.99
      - jobs.wait_p95_s <= 3600
    seeds: 5                           # a count or a list
    confidence: 0.95                   # one-sided, over seeds
    metrics: [co2_t]                   # optional, shown in the evidence table too

The search assumes that more of the parameter never makes a target worse (more accelerators,
replicas, capacity or power); it checks that assumption on the values it runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.config import ConfigError, ConfigIssue, TwinUserError
from twin.config.errors import shorten
from twin.config.loader import parse_set_path, read_mapping, resolve_source
from twin.config.units import parse_duration_s
from twin.config.validate import format_path
from twin.config.yaml_input import DEFAULT_LIMITS, InputLimits
from twin.sweep.spec import OWN_FIELDS, SweepSpec, _scenario_source, _whatif_source, shipped

_TARGET = re.compile(r"^\s*(?P<metric>\S+)\s*(?P<op><=|>=)\s*(?P<value>\S+)\s*$")
MAX_STEPS = 10_000
"""At most this many steps in the range (so a search ends after a few dozen values)."""


@dataclass(frozen=True)
class Target:
    """``metric >= threshold`` or ``metric <= threshold``."""

    metric: str
    op: Literal[">=", "<="]
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"

    def holds(self, low: float, high: float) -> bool:
        """Whether the target holds for a value known to lie in ``[low, high]``."""
        return low >= self.threshold if self.op == ">=" else high <= self.threshold


class _SizeFile(BaseModel):
    """The sizing file as written (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    scenario: Annotated[str, Field(min_length=1, max_length=4096)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    whatifs: list[Annotated[str, Field(min_length=1, max_length=4096)]] = []
    set: dict[Annotated[str, Field(min_length=1, max_length=500)], Any] = {}
    horizon: str | int | float | None = None
    parameter: Annotated[str, Field(min_length=1, max_length=500)]
    range: Annotated[list[int | float], Field(min_length=2, max_length=2)]
    step: int | float | None = None
    targets: Annotated[list[str], Field(min_length=1, max_length=100)]
    seeds: int | list[int] = 3
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    metrics: list[str] = []

    @field_validator("horizon")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration_s(value)
        return value

    @field_validator("range")
    @classmethod
    def _range(cls, value: list[float]) -> list[float]:
        low, high = value
        if not all(math.isfinite(v) for v in value):
            raise ValueError("the range's ends must be finite numbers")
        if not low < high:
            raise ValueError(f"expected [least, most] with least < most, got {value}")
        return value

    @field_validator("step")
    @classmethod
    def _step(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"a step must be a finite number above 0, got {value}")
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> int | list[int]:
        count = value if isinstance(value, int) else len(value)
        if not 1 <= count <= 1000:
            raise ValueError("1 to 1,000 seeds")
        if isinstance(value, list) and len(set(value)) != len(value):
            raise ValueError("seeds must be distinct")
        if isinstance(value, list) and any(not 0 <= s < 2**63 for s in value):
            raise ValueError("a seed must be 0 to 2**63 - 1")
        return value


@dataclass(frozen=True)
class SizeSpec:
    """A sizing file, read and checked."""

    sweep: SweepSpec
    """Its base as a sweep without a grid: scenario, what-ifs, fixed overrides, horizon,
    seeds, and every metric the targets and the evidence table need."""
    parameter: str
    low: float
    high: float
    step: float
    integer: bool
    """Whether the parameter takes whole values (the range and step are integers)."""
    targets: tuple[Target, ...]
    confidence: float
    metric_places: tuple[str, ...] = ()
    """Where each of ``sweep.metrics`` comes from in the file (``targets[0]``, ``metrics[1]``)."""

    def value(self, x: float) -> int | float:
        """``x`` as the parameter's type."""
        return round(x) if self.integer else float(x)


def builtin_sizings() -> dict[str, Path]:
    """Name → path of the sizing files shipped with twin (``configs/sizing/*.yaml``)."""
    return shipped("sizing")


def read_size(source: str | Path, limits: InputLimits = DEFAULT_LIMITS) -> SizeSpec:
    """Read and check a sizing file (or a shipped one's name); ConfigError listing every
    problem with its field path."""
    path = resolve_source(source, builtin_sizings(), what="sizing file")
    data = read_mapping(path, "sizing", limits)
    try:
        raw = _SizeFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_issues(error), str(path)) from None
    issues = _check(raw, limits)
    targets = []
    for index, text in enumerate(raw.targets):
        try:
            targets.append(parse_target(text))
        except ValueError as error:
            issues.append(ConfigIssue(f"targets[{index}]", str(error)))
    if issues:
        raise ConfigError(issues, str(path))
    low, high = raw.range
    integer = all(isinstance(v, int) for v in (low, high, raw.step or 1))
    step = float(raw.step) if raw.step is not None else 1.0 if integer else (high - low) / 100
    if (high - low) / step > MAX_STEPS:
        raise ConfigError(
            [ConfigIssue("step", f"{step:g} makes over {MAX_STEPS:,} steps in the range")],
            str(path),
        )
    places = {t.metric: f"targets[{i}]" for i, t in reversed(list(enumerate(targets)))}
    for index, name in enumerate(raw.metrics):
        places.setdefault(name, f"metrics[{index}]")
    metrics = list(places)
    seeds = tuple(range(1, raw.seeds + 1)) if isinstance(raw.seeds, int) else tuple(raw.seeds)
    sweep = SweepSpec(
        source=str(path),
        scenario=_scenario_source(raw.scenario, path.parent),
        whatifs=tuple(_whatif_source(w, path.parent, i) for i, w in enumerate(raw.whatifs)),
        sets=tuple(raw.set.items()),
        horizon=raw.horizon,
        grid=(),
        zipped=(),
        seeds=seeds,
        metrics=tuple(metrics),
        description=raw.description,
    )
    return SizeSpec(
        sweep,
        raw.parameter,
        low,
        high,
        step,
        integer,
        tuple(targets),
        raw.confidence,
        tuple(places.values()),
    )


def parse_target(text: str) -> Target:
    """``metric >= number`` or ``metric <= number``; ValueError saying what is expected."""
    match = _TARGET.match(text)
    if match is None:
        raise ValueError(f"expected 'METRIC >= NUMBER' or 'METRIC <= NUMBER', got {shorten(text)}")
    try:
        threshold = float(match["value"])
    except ValueError:
        raise ValueError(f"{shorten(match['value'])} is not a number") from None
    if not math.isfinite(threshold):
        raise ValueError("the threshold must be a finite number")
    return Target(match["metric"], match["op"], threshold)  # type: ignore[arg-type]


def _check(raw: _SizeFile, limits: InputLimits) -> list[ConfigIssue]:
    issues = []
    for where, key in [("parameter", raw.parameter)] + [(f"set.{k}", k) for k in raw.set]:
        try:
            tokens = parse_set_path(key, limits.max_depth)
        except TwinUserError as error:
            issues.append(ConfigIssue(where, str(error).removeprefix("--set ")))
            continue
        if len(tokens) == 1 and tokens[0] in OWN_FIELDS:
            issues.append(ConfigIssue(where, f"{key} has a field of its own"))
    if raw.parameter in raw.set:
        issues.append(ConfigIssue(f"set.{raw.parameter}", "is the parameter being sized"))
    return issues


def _issues(error: ValidationError) -> list[ConfigIssue]:
    issues = []
    for item in error.errors():
        loc = tuple(item["loc"])
        if loc[:1] == ("set",) and len(loc) > 1:
            where = f"set.{loc[1]}" + format_path(loc[2:])
        elif loc[:1] in (("seeds",), ("range",), ("step",)) and item["type"] != "value_error":
            where = str(loc[0])
        else:
            where = format_path(loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "required field missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown field; fields: " + ", ".join(_SizeFile.model_fields)
        elif "input" in item and item["type"] != "value_error":
            message += f", got {shorten(item['input'])}"
        issues.append(ConfigIssue(where, message))
    return list(dict.fromkeys(issues))
