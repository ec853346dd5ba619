"""Reference sections of the README, generated from the code so they cannot drift.

``python -m twin.docs`` rewrites the blocks between ``<!-- BEGIN name -->`` and
``<!-- END name -->`` in README.md; a test checks that the README is up to date.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from twin.config import schema as config_schema
from twin.trace.schema import TABLES


def trace_reference() -> str:
    """Markdown tables of every trace table and its columns."""
    parts = []
    for name, schema in TABLES.items():
        meta = schema.metadata or {}
        description = meta.get(b"description", b"").decode()
        parts.append(f"**`{name}.arrow`**: {description}\n")
        parts.append("| column | type | description |\n|---|---|---|")
        for field in schema:
            about = (field.metadata or {}).get(b"description", b"").decode()
            null = " (nullable)" if field.nullable else ""
            parts.append(f"| `{field.name}` | {field.type}{null} | {about} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def config_reference() -> str:
    """Markdown tables of the scenario schema, section by section."""
    sections = [
        ("scenario (top level)", config_schema.Scenario),
        ("`accelerators.<type>`", config_schema.Accelerator),
        ("`sites[]`", config_schema.Site),
        ("`sites[].pools[]`", config_schema.Pool),
        ("`pops[]`", config_schema.Pop),
        ("`links[]`", config_schema.Link),
        ("`tenants.<class>`", config_schema.TenantClass),
        ("`workloads.training`", config_schema.Training),
        ("`policies`", config_schema.Policies),
        ("`telemetry`", config_schema.Telemetry),
    ]
    parts = []
    for title, model in sections:
        parts.append(f"**{title}**\n\n| key | type | default | meaning |\n|---|---|---|---|")
        for name, field in model.model_fields.items():
            default = "required" if field.is_required() else _default(field)
            about = field.description or ""
            parts.append(f"| `{name}` | {_field_type(field)} | {default} | {about} |")
        parts.append("")
    parts.append(
        "A distribution is a mapping with `dist:` one of `constant` (value), `exponential` "
        "(mean), `lognormal` (median, sigma), `uniform` (low, high), `choice` (values, weights), "
        "`empirical` (file, column, scale), each with optional `min`/`max` clipping."
    )
    return "\n".join(parts).rstrip() + "\n"


def _default(field: typing.Any) -> str:
    if field.default_factory is not None:
        return "(empty)"
    value = field.default
    return "–" if value is None else f"`{value}`"


def _field_type(field: typing.Any) -> str:
    if any(getattr(m, "func", None) is config_schema.parse_duration_s for m in field.metadata):
        return "duration"
    return _type_name(field.annotation)


def _type_name(annotation: typing.Any) -> str:
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
        if typing.get_origin(base) in (typing.Union, types.UnionType):
            return "distribution"
        return _type_name(base)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(dict.fromkeys(names))
    if origin is dict:
        return "mapping"
    if origin is list:
        return "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    if annotation is config_schema.dt.datetime:
        return "date-time"
    if annotation is typing.Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _is_distribution(annotation: typing.Any) -> bool:
    args = typing.get_args(annotation)
    inner = [typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a for a in args]
    return config_schema.Constant in inner or any(
        _is_distribution(a) for a in inner if a is not annotation
    )


GENERATORS = {"config-reference": config_reference, "trace-reference": trace_reference}


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
