"""The sweep file: a base scenario, fixed overrides, the parameters to vary, the seeds and the
metrics to collect, read within the project's YAML limits and checked with field paths.

::

    scenario: europe            # a built-in name or a file (relative to the sweep file)
    whatifs: [green_placement]  # optional, applied in order
    set: {telemetry.interval: 30m}   # optional, fixed for every point
    horizon: 1d                 # optional
    grid:                       # override path → values (cartesian product)
      policies.placement: [least_loaded, lowest_carbon]
    zip:                        # override paths whose values move together
      sites.north.power_mw: [0.2, 0.4]
      sites.south.power_mw: [0.15, 0.3]
    seeds: 3                    # a count (seeds 1, 2, 3) or a list of distinct seeds
    metrics: [jobs.wait_p95_s, co2_t]

Reading checks the file's own shape (:func:`read_sweep`); whether every configuration it
asks for is a valid scenario is checked by :func:`twin.sweep.points.expand`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.config import ConfigError, ConfigIssue, TwinUserError
from twin.config.errors import shorten
from twin.config.loader import parse_set_path, read_mapping, resolve_source, resolve_whatif
from twin.config.units import parse_duration_s
from twin.config.validate import format_path
from twin.config.yaml_input import DEFAULT_LIMITS, InputLimits

OWN_FIELDS = {"seed": "seeds", "horizon": "horizon"}
"""Scenario paths a sweep sets through its own fields, never through grid, zip or set."""

MAX_SEEDS = 100_000
MAX_SEED = 2**63 - 1
Path_ = Annotated[str, Field(min_length=1, max_length=500)]
Values = Annotated[list[Any], Field(min_length=1)]


class _SweepFile(BaseModel):
    """The sweep file as written (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    scenario: Annotated[str, Field(min_length=1, max_length=4096)]
    description: Annotated[str, Field(max_length=10_000)] = ""
    whatifs: list[Annotated[str, Field(min_length=1, max_length=4096)]] = []
    set: dict[Path_, Any] = {}
    horizon: str | int | float | None = None
    grid: dict[Path_, Values] = {}
    zip: dict[Path_, Values] = {}
    seeds: int | list[int] = 1
    metrics: Annotated[list[str], Field(min_length=1)]

    @field_validator("horizon")
    @classmethod
    def _duration(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            parse_duration_s(value)
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int):
            if not 1 <= value <= MAX_SEEDS:
                raise ValueError(f"a count of seeds must be 1 to {MAX_SEEDS:,}, got {value}")
            return value
        if not value or len(value) > MAX_SEEDS:
            raise ValueError(f"a list of seeds must hold 1 to {MAX_SEEDS:,} seeds")
        wrong = [s for s in value if not 0 <= s <= MAX_SEED]
        if wrong:
            raise ValueError(f"a seed must be 0 to 2**63 - 1, got {wrong[0]}")
        repeated = sorted({s for s in value if value.count(s) > 1})
        if repeated:
            raise ValueError(f"seeds must be distinct; repeated: {repeated}")
        return value


@dataclass(frozen=True)
class SweepSpec:
    """A sweep file, read and resolved: what :func:`twin.sweep.points.expand` expands."""

    source: str
    """The sweep file (in messages)."""
    scenario: str
    """A built-in scenario's name or the scenario file's absolute path."""
    whatifs: tuple[str, ...]
    sets: tuple[tuple[str, Any], ...]
    horizon: str | float | None
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    zipped: tuple[tuple[str, tuple[Any, ...]], ...]
    seeds: tuple[int, ...]
    metrics: tuple[str, ...]
    description: str = ""

    @property
    def params(self) -> list[str]:
        """The swept override paths: the grid's, then the zip's (the table's column order)."""
        return [path for path, _ in self.grid] + [path for path, _ in self.zipped]

    def base_overrides(self) -> list[str]:
        """The ``--set`` assignments every point shares (fixed overrides, then the horizon)."""
        overrides = [assignment(path, value) for path, value in self.sets]
        if self.horizon is not None:
            overrides.append(assignment("horizon", self.horizon))
        return overrides

    def to_data(self) -> dict[str, Any]:
        """The resolved sweep as plain data (``DIR/sweep.yaml``)."""
        data: dict[str, Any] = {"scenario": self.scenario}
        if self.description:
            data["description"] = self.description
        data["whatifs"] = list(self.whatifs)
        data["set"] = dict(self.sets)
        if self.horizon is not None:
            data["horizon"] = self.horizon
        data["grid"] = {path: list(values) for path, values in self.grid}
        data["zip"] = {path: list(values) for path, values in self.zipped}
        data["seeds"] = list(self.seeds)
        data["metrics"] = list(self.metrics)
        return data


def yaml_text(value: Any) -> str:
    """``value`` as one line of YAML (``lowest_carbon``, ``64``, ``[1, 2]``): how a parameter
    is written in an override and in the sweep table; read back, it is ``value`` again."""
    text = yaml.safe_dump(value, default_flow_style=True, width=2**31, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def assignment(path: str, value: Any) -> str:
    """The ``--set`` text that gives ``path`` the value ``value``."""
    return f"{path}={yaml_text(value)}"


def shipped(folder: str) -> dict[str, Path]:
    """Name → path of the YAML files shipped with twin in ``configs/<folder>/``."""
    root = resources.files("twin.configs").joinpath(folder)
    return {
        entry.name.removesuffix(".yaml"): Path(str(entry))
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


def builtin_sweeps() -> dict[str, Path]:
    """Name → path of the sweeps shipped with twin (``configs/sweeps/*.yaml``)."""
    return shipped("sweeps")


def read_sweep(source: str | Path, limits: InputLimits = DEFAULT_LIMITS) -> SweepSpec:
    """Read and check a sweep file (or a built-in sweep's name); ConfigError listing every
    problem with its field path."""
    path = resolve_source(source, builtin_sweeps(), what="sweep")
    data = read_mapping(path, "sweep", limits)
    try:
        raw = _SweepFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_issues(error, data), str(path)) from None
    issues = _check_paths(raw, limits)
    if issues:
        raise ConfigError(issues, str(path))
    seeds = tuple(range(1, raw.seeds + 1)) if isinstance(raw.seeds, int) else tuple(raw.seeds)
    return SweepSpec(
        source=str(path),
        scenario=_scenario_source(raw.scenario, path.parent),
        whatifs=tuple(_whatif_source(w, path.parent, i) for i, w in enumerate(raw.whatifs)),
        sets=tuple(raw.set.items()),
        horizon=raw.horizon,
        grid=tuple((p, tuple(v)) for p, v in raw.grid.items()),
        zipped=tuple((p, tuple(v)) for p, v in raw.zip.items()),
        seeds=seeds,
        metrics=tuple(raw.metrics),
        description=raw.description,
    )


def _check_paths(raw: _SweepFile, limits: InputLimits) -> list[ConfigIssue]:
    """Override paths that cannot be read, that belong to a field of their own, that are
    swept twice, and zip lists of unequal lengths."""
    issues = []
    for field, entries in (("set", raw.set), ("grid", raw.grid), ("zip", raw.zip)):
        for key in entries:
            where = f"{field}.{key}"
            try:
                tokens = parse_set_path(key, limits.max_depth)
            except TwinUserError as error:
                issues.append(ConfigIssue(where, str(error).removeprefix("--set ")))
                continue
            if len(tokens) == 1 and tokens[0] in OWN_FIELDS:
                own = OWN_FIELDS[str(tokens[0])]
                issues.append(ConfigIssue(where, f"{key} has a field of its own: use {own}:"))
    for key, values in raw.grid.items():
        texts = [yaml_text(value) for value in values]
        issues += [
            ConfigIssue(f"grid.{key}[{i}]", f"repeats the value {text}")
            for i, text in enumerate(texts)
            if text in texts[:i]
        ]
    issues += [
        ConfigIssue(f"zip.{key}", "is also in grid; a path can be swept one way only")
        for key in raw.zip
        if key in raw.grid
    ]
    lengths = {key: len(values) for key, values in raw.zip.items()}
    if len(set(lengths.values())) > 1:
        first = next(iter(lengths))
        for key, length in lengths.items():
            if length != lengths[first]:
                issues.append(
                    ConfigIssue(
                        f"zip.{key}",
                        f"has {length} values but zip.{first} has {lengths[first]}; "
                        "the values of zip move together, so every list needs the same length",
                    )
                )
    return issues


def _scenario_source(text: str, folder: Path) -> str:
    """A built-in name as is; a file relative to the sweep file's folder, made absolute."""
    candidate = Path(text) if Path(text).is_absolute() else folder / text
    try:
        found = resolve_source(candidate if candidate.exists() else text)
    except TwinUserError as error:
        raise ConfigError([ConfigIssue("scenario", str(error))]) from None
    return text if not candidate.exists() else str(found.resolve())


def _whatif_source(text: str, folder: Path, index: int) -> str:
    candidate = Path(text) if Path(text).is_absolute() else folder / text
    try:
        found = resolve_whatif(candidate if candidate.exists() else text)
    except TwinUserError as error:
        raise ConfigError([ConfigIssue(f"whatifs[{index}]", str(error))]) from None
    return text if not candidate.exists() else str(found.resolve())


def _issues(error: ValidationError, data: dict[str, Any]) -> list[ConfigIssue]:
    """Pydantic's errors as issues with sweep paths (``grid.policies.placement``, ``seeds``)."""
    issues = []
    for item in error.errors():
        loc = tuple(item["loc"])
        where = _sweep_path(loc)
        message = item["msg"].removeprefix("Value error, ")
        if (
            loc[:1] == ("seeds",) and len(loc) > 1 and item["type"] != "value_error"
        ):  # a branch of the union: say it once
            where, message = "seeds", "expected a count of seeds or a list of seeds (integers)"
            message += f", got {shorten(data.get('seeds'))}"
        elif item["type"] == "missing":
            message = "required field missing"
        elif item["type"] == "extra_forbidden":
            message = "unknown field; fields: " + ", ".join(_SweepFile.model_fields)
        elif "input" in item and item["type"] not in ("too_short", "value_error"):
            message += f", got {shorten(item['input'])}"
        issues.append(ConfigIssue(where, message))
    return list(dict.fromkeys(issues))


def _sweep_path(loc: tuple[Any, ...]) -> str:
    """``('grid', 'policies.placement', 1)`` → ``grid.policies.placement[1]`` (override
    paths keep their dots: they are one key of the sweep file)."""
    if len(loc) >= 2 and loc[0] in ("grid", "zip", "set") and isinstance(loc[1], str):
        return f"{loc[0]}.{loc[1]}" + format_path(loc[2:]) if len(loc) > 2 else f"{loc[0]}.{loc[1]}"
    return format_path(loc)
