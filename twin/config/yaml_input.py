"""Bounded YAML reading: a scenario file cannot make twin hang, crash or exhaust memory.

YAML is read in two passes. The first walks the parser's *events* (a flat stream, no
recursion, no object built) and checks the :class:`InputLimits`: nesting depth, items per
list or mapping, characters per string, and the number of values the document expands to
once every alias is followed (a "billion laughs" alias bomb is refused here, before anything
is built). It also refuses duplicate keys, which YAML would silently resolve to the last one.
Only then is the document constructed, by a safe loader that leaves dates as text (twin
parses dates itself, so ``2024-02-30`` is reported with its field path, and a bare number is
never taken for a date).
"""

from __future__ import annotations

import dataclasses
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from twin.config.errors import TwinUserError

_SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
RAISE_HINT = "pass --large-input to raise twin's input limits 100-fold"


@dataclass(frozen=True)
class InputLimits:
    """What one YAML input may hold (documented in the README; ``--large-input`` raises all
    but the depth 100-fold)."""

    max_file_bytes: int = 16 * 2**20
    max_depth: int = 32
    max_items: int = 100_000
    """Items of one list or mapping."""
    max_string_chars: int = 65_536
    max_values: int = 1_000_000
    """Values of the whole document once every alias is expanded."""
    work_scale: float = 1.0
    """Multiplier of the run-size bounds checked on a scenario (see ``twin.config.budget``)."""

    def scaled(self, factor: int) -> InputLimits:
        """Every limit but the nesting depth ``factor`` times larger (for the rare huge
        scenario; no real scenario nests deeper than a few levels, and twin's own tree walks
        must stay far from Python's recursion limit)."""
        return InputLimits(
            **{
                field.name: getattr(self, field.name) * (1 if field.name == "max_depth" else factor)
                for field in dataclasses.fields(self)
            }
        )


DEFAULT_LIMITS = InputLimits()
LARGE_LIMITS = DEFAULT_LIMITS.scaled(100)


class _Loader(_SAFE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader without YAML's implicit (and explicit) timestamps."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor(_TIMESTAMP, lambda loader, node: loader.construct_scalar(node))


def read_yaml_file(path: Path, limits: InputLimits = DEFAULT_LIMITS) -> Any:
    """The data of a YAML file, within ``limits``; every failure a :class:`TwinUserError`."""
    text = read_text_file(path, limits)
    return parse_yaml(text, str(path), limits)


def read_text_file(path: Path, limits: InputLimits = DEFAULT_LIMITS) -> str:
    """A regular file's UTF-8 text, at most ``limits.max_file_bytes`` long."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise TwinUserError(f"{path} is a directory, not a YAML file")
        if not stat.S_ISREG(info.st_mode):
            raise TwinUserError(f"{path} is not a regular file")
        if info.st_size > limits.max_file_bytes:
            raise TwinUserError(_too_big(path, info.st_size, limits))
        with path.open("rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise TwinUserError(f"cannot read {_short(str(path))}: {reason}") from None
    if len(data) > limits.max_file_bytes:
        raise TwinUserError(_too_big(path, len(data), limits))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TwinUserError(
            f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "save the file as UTF-8"
        ) from None


def parse_yaml(text: str, source: str, limits: InputLimits = DEFAULT_LIMITS) -> Any:
    """Parse YAML ``text`` (named ``source`` in messages) within ``limits``."""
    if "\x00" in text:
        raise TwinUserError(
            f"{source}: holds a NUL byte at offset {text.index(chr(0))}: binary data, not YAML"
        )
    try:
        _check_events(text, source, limits)
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        raise TwinUserError(f"{source}: not valid YAML{_where(error)}: {_problem(error)}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise TwinUserError(f"{source}: cannot read a value: {_short(str(error))}") from None


# ---------------------------------------------------------------- the event pass


@dataclass
class _Collection:
    """A list or mapping being read: its expanded size and what its keys were."""

    mapping: bool
    anchor: str | None
    line: int
    values: int = 1
    items: int = 0
    keys: dict[str, int] = dataclasses.field(default_factory=dict)


def _check_events(text: str, source: str, limits: InputLimits) -> None:
    anchors: dict[str, int] = {}
    stack: list[_Collection] = []
    documents = 0

    def fail(event: yaml.Event, message: str) -> TwinUserError:
        mark = event.start_mark
        return TwinUserError(f"{source}: line {mark.line + 1}, column {mark.column + 1}: {message}")

    def add(event: yaml.Event, values: int, key: str | None) -> None:
        if stack:
            parent = stack[-1]
            if parent.mapping and parent.items % 2 == 0:
                if key is None:
                    raise fail(event, "a key must be a plain name, not a list, mapping or alias")
                if key in parent.keys and key != "<<":
                    raise fail(
                        event,
                        f"duplicate key {_short(key)!r} (first at line {parent.keys[key]}); "
                        "YAML would silently keep only the last one",
                    )
                parent.keys[key] = event.start_mark.line + 1
            parent.items += 1
            parent.values += values
            if parent.items > limits.max_items * (2 if parent.mapping else 1):
                raise fail(event, f"more than {limits.max_items:,} items in one list or mapping")
        expanded = sum(frame.values for frame in stack) if stack else values
        if expanded > limits.max_values:
            raise fail(
                event,
                f"the document expands to more than {limits.max_values:,} values "
                f"(aliases followed); {RAISE_HINT}",
            )

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise fail(event, "a second YAML document ('---'); expected one")
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) >= limits.max_depth:
                raise fail(event, f"nested deeper than {limits.max_depth} levels")
            stack.append(
                _Collection(
                    isinstance(event, yaml.MappingStartEvent),
                    event.anchor,
                    event.start_mark.line + 1,
                )
            )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            if done.anchor is not None:
                anchors[done.anchor] = done.values
            add(event, done.values, None)
        elif isinstance(event, yaml.ScalarEvent):
            if len(event.value) > limits.max_string_chars:
                raise fail(
                    event,
                    f"a value of {len(event.value):,} characters; at most "
                    f"{limits.max_string_chars:,} are read ({RAISE_HINT})",
                )
            if event.anchor is not None:
                anchors[event.anchor] = 1
            add(event, 1, event.value)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in (frame.anchor for frame in stack):
                raise fail(event, f"alias *{_short(event.anchor)} refers to itself")
            if event.anchor not in anchors:
                raise fail(event, f"alias *{_short(event.anchor)} has no anchor before it")
            add(event, anchors[event.anchor], None)


# ---------------------------------------------------------------- messages


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _problem(error: yaml.YAMLError) -> str:
    return _short(str(getattr(error, "problem", None) or error).splitlines()[0])


def _too_big(path: Path, size: int, limits: InputLimits) -> str:
    return (
        f"{path} is {size / 2**20:,.1f} MB; YAML inputs are limited to "
        f"{limits.max_file_bytes / 2**20:,.0f} MB ({RAISE_HINT})"
    )


def _short(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
