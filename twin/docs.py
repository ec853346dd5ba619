"""Reference sections of the README, generated from the code so they cannot drift.

``python -m twin.docs`` rewrites the blocks between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` in README.md; a test checks that the README is up to date.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from twin.config import schema as config_schema
from twin.config import schema_faults, schema_grid, schema_traces
from twin.config.budget import WorkBounds
from twin.config.schema_base import Constant
from twin.config.units import format_duration
from twin.config.yaml_input import DEFAULT_LIMITS, LARGE_LIMITS
from twin.sweep.table import FIXED, METRIC, PARAM
from twin.trace.schema import TABLES, WORKLOADS


def trace_reference() -> str:
    """Markdown tables of every trace table and its columns, then of the normalised
    workloads ``twin import`` writes."""
    parts = []
    tables = [(f"{name}.arrow", schema) for name, schema in TABLES.items()]
    tables += [
        (f"{schema.metadata[b'twin.table'].decode()} (twin import, {kind})", schema)
        for kind, schema in WORKLOADS.items()
    ]
    for name, schema in tables:
        meta = schema.metadata or {}
        description = meta.get(b"description", b"").decode()
        parts.append(f"**`{name}`**: {description}\n")
        parts.append("| column | type | description |\n|---|---|---|")
        for field in schema:
            about = (field.metadata or {}).get(b"description", b"").decode()
            null = " (nullable)" if field.nullable else ""
            parts.append(f"| `{field.name}` | {field.type}{null} | {about} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def config_reference() -> str:
    """Markdown tables of the scenario schema, section by section, with each number's range."""
    sections = [
        ("scenario (top level)", config_schema.Scenario),
        ("`accelerators.<type>`", config_schema.Accelerator),
        ("`sites[]`", config_schema.Site),
        ("`sites[].pools[]`", config_schema.Pool),
        ("`sites[].power_mw[]` (a schedule)", schema_grid.PowerStep),
        (
            "grid series (`sites[].carbon_gco2_per_kwh`, `price_eur_per_mwh`, `power_mw`: "
            "`{series: …}`)",
            schema_grid.GridSeries,
        ),
        ("`pops[]`", config_schema.Pop),
        ("`links[]`", config_schema.Link),
        ("`links[].capacity_schedule[]`", config_schema.CapacityStep),
        ("`tenants.<class>`", config_schema.TenantClass),
        ("`workloads.training`", config_schema.Training),
        ("`workloads.transfers`", config_schema.BulkTransfers),
        ("`workloads.inference`", config_schema.Inference),
        ("`workloads.inference.regions[]`", config_schema.Region),
        ("`workloads.inference.services[]`", config_schema.Service),
        ("`services[].model`", config_schema.LLMModel),
        ("`services[].iteration` (`model: roofline`)", config_schema.Roofline),
        ("`services[].iteration` (`model: calibrated`)", config_schema.Calibrated),
        ("`services[].iteration` (`model: profile`)", config_schema.Profile),
        ("`services[].slo`", config_schema.SLO),
        ("`services[].autoscale`", config_schema.Autoscale),
        ("`network`", config_schema.Network),
        ("`policies`", config_schema.Policies),
        ("`telemetry`", config_schema.Telemetry),
        ("`faults`", schema_faults.Faults),
        ("`faults.accelerators`", schema_faults.AcceleratorFailures),
        ("`faults.sites`", schema_faults.SiteOutages),
        ("`faults.sites.scheduled[]`", schema_faults.ScheduledOutage),
        ("`faults.sites.random[]`", schema_faults.RandomOutages),
        ("`faults.links`", schema_faults.LinkCuts),
        ("`faults.links.scheduled[]`", schema_faults.ScheduledCut),
        ("`faults.links.random`", schema_faults.RandomCuts),
        ("`workloads.training.trace`", schema_traces.TrainingTrace),
        ("`services[].trace`", schema_traces.RequestTrace),
        ("`workloads.transfers.trace`", schema_traces.TransferTrace),
        ("`*.trace.window`", schema_traces.TraceWindow),
    ]
    parts = []
    for title, model in sections:
        parts.append(
            f"**{title}**\n\n| key | type | default | range | meaning |\n|---|---|---|---|---|"
        )
        for name, field in model.model_fields.items():
            default = "required" if field.is_required() else _default(field)
            about = field.description or ""
            kind = _field_type(field)
            parts.append(f"| `{name}` | {kind} | {default} | {_range(field, kind)} | {about} |")
        parts.append("")
    parts.append(
        "A distribution is a mapping with `dist:` one of `constant` (value), `exponential` "
        "(mean), `lognormal` (median, sigma), `uniform` (low, high), `choice` (values, weights), "
        "`empirical` (file, column, scale), each with optional `min`/`max` clipping."
    )
    return "\n".join(parts).rstrip() + "\n"


def input_limits() -> str:
    """The limits on what twin reads and on the size of the run a scenario asks for."""
    limits, large, bounds = DEFAULT_LIMITS, LARGE_LIMITS, WorkBounds()
    rows = [
        (
            "YAML file size",
            f"{limits.max_file_bytes // 2**20} MB",
            f"{large.max_file_bytes // 2**20} MB",
        ),
        ("nesting depth", limits.max_depth, large.max_depth),
        ("items in one list or mapping", f"{limits.max_items:,}", f"{large.max_items:,}"),
        ("characters in one value", f"{limits.max_string_chars:,}", f"{large.max_string_chars:,}"),
        ("values after alias expansion", f"{limits.max_values:,}", f"{large.max_values:,}"),
    ]
    for field in dataclasses.fields(bounds):
        value = getattr(bounds, field.name)
        doc = _attribute_doc(WorkBounds, field.name)
        rows.append((doc, f"{value:,.0f}", f"{value * large.work_scale:,.0f}"))
    lines = ["| limit | default | with `--large-input` |", "|---|---|---|"]
    lines += [f"| {name} | {default} | {raised} |" for name, default, raised in rows]
    return "\n".join(lines) + "\n"


def _attribute_doc(cls: type, name: str) -> str:
    """The docstring under a dataclass attribute (its first sentence), else its name."""
    source = inspect.getsource(cls)
    match = re.search(rf"\n\s+{name}:[^\n]*\n\s+\"\"\"(.*?)\"\"\"", source, re.DOTALL)
    return match.group(1).split(" (")[0].rstrip(".") if match else name


def _range(field: typing.Any, kind: str) -> str:
    """A field's numeric bounds as text, e.g. ``> 0, ≤ 1e+07`` (empty if unbounded)."""
    bounds = _bounds(field.metadata, field.annotation)
    # (value, strict) pairs; the tightest lower bound is the largest, strict before loose
    lows = [(b.gt, True) for b in bounds if getattr(b, "gt", None) is not None]
    lows += [(b.ge, False) for b in bounds if getattr(b, "ge", None) is not None]
    highs = [(b.lt, True) for b in bounds if getattr(b, "lt", None) is not None]
    highs += [(b.le, False) for b in bounds if getattr(b, "le", None) is not None]
    shown = format_duration if kind == "duration" else _number
    parts = []
    if lows:
        value, strict = max(lows)
        parts.append(f"{'>' if strict else '≥'} {shown(value)}")
    if highs:
        value, strict = min(highs, key=lambda bound: (bound[0], not bound[1]))
        parts.append(f"{'<' if strict else '≤'} {shown(value)}")
    return ", ".join(parts)


def _bounds(metadata: list[typing.Any], annotation: typing.Any) -> list[typing.Any]:
    found = [m for m in metadata if any(hasattr(m, n) for n in ("gt", "ge", "lt", "le"))]
    for m in metadata:
        if hasattr(m, "metadata"):
            found += _bounds(m.metadata, None)
    if typing.get_origin(annotation) is typing.Annotated:
        found += _bounds(list(typing.get_args(annotation)[1:]), typing.get_args(annotation)[0])
    elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            found += _bounds([], members[0])
    return found


def _number(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**9:
        return f"2^{value.bit_length()} − 1" if (value + 1) & value == 0 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _default(field: typing.Any) -> str:
    if field.default_factory is not None:
        return "(empty)"
    value = field.default
    return "–" if value is None else f"`{value}`"


def _field_type(field: typing.Any) -> str:
    if any(getattr(m, "func", None) is config_schema.parse_duration_s for m in field.metadata):
        return "duration"
    if any(getattr(m, "func", None) is schema_faults.offset_or_moment for m in field.metadata):
        return "duration after the start, or date-time"
    return _type_name(field.annotation)


GRID_FORMS = (
    (schema_grid.CarbonIntensity, "number, 24 hourly values or series"),
    (schema_grid.Price, "number, 24 hourly values or series"),
    (schema_grid.PowerCap, "number, schedule or series"),
)


def _type_name(annotation: typing.Any) -> str:
    for form, name in GRID_FORMS:
        if annotation is form or annotation == typing.get_args(form)[0]:
            return name
    if _is_distribution(annotation):
        return "distribution"
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base = typing.get_args(annotation)[0]
        metadata = typing.get_args(annotation)[1:]
        if any(getattr(m, "func", None) is config_schema.parse_duration_s for m in metadata):
            return "duration"
        if base is list or typing.get_origin(base) is list:
            return "24 hourly values" if annotation == config_schema.HourlyProfile else "list"
        if any(getattr(m, "func", None) is schema_faults.offset_or_moment for m in metadata):
            return "duration after the start, or date-time"
        if any(getattr(m, "func", None) is config_schema.interval_or_rule for m in metadata):
            return "duration or young_daly"
        return _type_name(base)
    if origin is typing.Literal:
        return " or ".join(str(value) for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(dict.fromkeys(names))
    if origin is dict:
        return "mapping"
    if origin is list:
        return "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if annotation is datetime.datetime:
        return "date-time"
    if annotation is typing.Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _is_distribution(annotation: typing.Any) -> bool:
    args = typing.get_args(annotation)
    inner = [typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a for a in args]
    return Constant in inner or any(_is_distribution(a) for a in inner if a is not annotation)


def sweep_reference() -> str:
    """The columns of a sweep's ``sweep.arrow``."""
    rows = ["| column | type | description |", "|---|---|---|"]
    for field in FIXED:
        about = (field.metadata or {}).get(b"description", b"").decode()
        null = " (nullable)" if field.nullable else ""
        rows.append(f"| `{field.name}` | {field.type}{null} | {about} |")
    rows.append(f"| `{PARAM}<path>` | string | value of a swept override path (YAML text) |")
    rows.append(f"| `{METRIC}<name>` | double | a collected metric (NaN where undefined) |")
    return "\n".join(rows) + "\n"


GENERATORS = {
    "config-reference": config_reference,
    "input-limits": input_limits,
    "trace-reference": trace_reference,
    "sweep-reference": sweep_reference,
}


def render(readme: str) -> str:
    """The README with every generated block replaced by its current text."""
    for name, generate in GENERATORS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n).*?(<!-- END {name} -->)", re.DOTALL)
        readme = pattern.sub(lambda m, g=generate: m.group(1) + g() + m.group(2), readme)
    return readme


def main(path: str = "README.md") -> None:
    readme = Path(path)
    readme.write_text(render(readme.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
