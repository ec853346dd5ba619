"""Load a scenario: find it (built-in name or file), read YAML, apply overlays, validate.

Overlays come in two kinds and are applied in this order, so the command line wins:

* what-if files: partial YAML deep-merged over the base. Lists whose items carry an ``id``
  (sites, pops) are merged item by item by id, links by their ``a``/``b`` ends; an item with
  ``remove: true`` removes the matching one (and is an error if there is none); other lists
  are replaced.
* ``--set`` assignments: ``policies.placement=lowest_carbon``, ``sites[3].power_mw=20``,
  ``sites.jupiter.power_mw=20`` or ``sites[jupiter].power_mw=20``; the value is read as YAML.

Every input is read within :class:`~twin.config.yaml_input.InputLimits`; the resolved data is
what gets validated (and saved next to a run).
"""

from __future__ import annotations

import copy
import errno
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from twin.config.data_files import BUILTIN_PREFIX, data_file
from twin.config.errors import ConfigError, ConfigIssue, TwinUserError, shorten
from twin.config.grid_checks import check_grid_series
from twin.config.samples import SampleFileError, read_samples
from twin.config.schema import Scenario
from twin.config.schema_base import Empirical
from twin.config.trace_checks import check_traces
from twin.config.validate import Check, format_path, validate_scenario
from twin.config.validate_lengths import paired_file_issues
from twin.config.yaml_input import DEFAULT_LIMITS, InputLimits, parse_yaml, read_yaml_file

# ---------------------------------------------------------------- finding scenarios


def builtin_scenarios() -> dict[str, Path]:
    """Name → path of the scenarios shipped with twin (``configs/*.yaml``)."""
    root = resources.files("twin.configs")
    found = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            found[entry.name.removesuffix(".yaml")] = Path(str(entry))
    return found


def builtin_whatifs() -> dict[str, Path]:
    """Name → path of the what-if overlays shipped with twin (``configs/whatif/*.yaml``)."""
    root = resources.files("twin.configs").joinpath("whatif")
    return {
        entry.name.removesuffix(".yaml"): Path(str(entry))
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


def whatif_description(path: Path, longest: int = 120) -> str:
    """A what-if file's description: the first sentence of its leading comment (without a
    ``What-if:`` prefix; with the second when the first is only a title)."""
    lines = []
    with path.open(encoding="utf-8") as text:
        for line in text:
            if not line.lstrip().startswith("#"):
                break
            lines.append(line.strip().lstrip("#").strip())
    comment = " ".join(lines).removeprefix("What-if:").strip()
    sentences = re.split(r"(?<=[.?!])\s+", comment, maxsplit=2)
    description = sentences[0]
    if len(description) < 40 and len(sentences) > 1:
        description += " " + sentences[1]
    description = description[:1].upper() + description[1:]
    if len(description) <= longest:
        return description
    return description[: longest - 1].rsplit(" ", 1)[0].rstrip(" ,;:-") + "…"


def resolve_source(
    source: str | Path, builtins: dict[str, Path] | None = None, what: str = "scenario"
) -> Path:
    """A scenario argument is a file path or the name of a built-in scenario."""
    text = str(source)
    role = "--whatif" if what == "what-if" else what
    if not text.strip():
        raise TwinUserError(f"{role} {text!r}: expected a built-in name or a YAML file path")
    if "\x00" in text:
        raise TwinUserError(f"{role} {shorten(text, 300)}: a file name cannot hold a NUL byte")
    path = Path(source)
    try:
        if path.is_dir():
            raise TwinUserError(f"{role} {shorten(text, 300)} is a directory; expected a YAML file")
        if path.exists():
            return path
        if path.is_symlink():
            raise TwinUserError(f"{role} {shorten(text, 300)}: a broken or looping symbolic link")
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise TwinUserError(f"{role} {shorten(text, 300)}: file name too long") from None
        raise TwinUserError(
            f"{role} {shorten(text, 300)}: cannot read it: {error.strerror}"
        ) from None
    builtins = builtin_scenarios() if builtins is None else builtins
    if text in builtins:
        return builtins[text]
    raise TwinUserError(
        f"no {what} file or built-in {what} named {shorten(text, 300)}. "
        f"Built-in {what}s: {', '.join(builtins)}. Pass a path to a YAML file otherwise."
    )


def resolve_whatif(source: str | Path) -> Path:
    """A what-if argument is a file path or the name of a built-in what-if overlay."""
    return resolve_source(source, builtin_whatifs(), what="what-if")


def read_yaml(path: Path, limits: InputLimits = DEFAULT_LIMITS) -> Any:
    """Parse a YAML file within ``limits``; every problem a user error naming the file."""
    return read_yaml_file(path, limits)


def read_mapping(path: Path, what: str, limits: InputLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """A YAML file that must hold a mapping (a scenario or a what-if)."""
    data = read_yaml(path, limits)
    if data is None:
        raise TwinUserError(f"{path}: the file is empty; expected a {what} (a YAML mapping)")
    if not isinstance(data, dict):
        raise TwinUserError(
            f"{path}: expected a {what} (a YAML mapping of keys such as name, sites), "
            f"got a {type(data).__name__}: {shorten(data)}"
        )
    return data


# ---------------------------------------------------------------- the public entry


def load_raw(
    source: str | Path,
    whatifs: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    limits: InputLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """The scenario's data with what-ifs and ``--set`` overrides applied (not yet validated)."""
    path = resolve_source(source)
    data = read_mapping(path, "scenario", limits)
    _resolve_files(data, path.parent)
    for whatif in whatifs:
        whatif_path = resolve_whatif(whatif)
        overlay = read_mapping(whatif_path, "what-if", limits)
        _resolve_files(overlay, whatif_path.parent)
        data = merge_overlay(data, overlay, str(whatif_path))
    for assignment in overrides:
        data = apply_assignment(data, assignment, limits)
    return data


def load_config(
    source: str | Path,
    whatifs: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    checks: Sequence[Check] = (),
    limits: InputLimits = DEFAULT_LIMITS,
) -> Scenario:
    """Load, overlay and validate a scenario (built-in name or YAML path).

    ``checks`` are extra checks of the raw data, reported together with the schema's own;
    ``limits`` bound what is read (``LARGE_LIMITS`` for the rare huge scenario).
    """
    data = load_raw(source, whatifs, overrides, limits)
    label = str(source) if not (whatifs or overrides) else f"{source} (with overlays)"
    scenario = validate_scenario(data, label, checks, limits)
    _check_sample_files(scenario, label)
    check_traces(scenario, label)
    check_grid_series(scenario, label, limits.work_scale)
    return scenario


def scenario_to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (what a run directory's ``config.yaml`` holds)."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# ---------------------------------------------------------------- what-if merging


def merge_overlay(base: Any, overlay: Any, source: str = "the what-if") -> Any:
    """Deep-merge ``overlay`` over ``base`` (see the module docstring for list rules).

    Raises :class:`ConfigError` naming the what-if's paths that cannot be merged: an item of
    a keyed list that is not a mapping with an id (or a/b ends), an id that is not a plain
    value, a ``remove`` that is not true/false, a ``remove: true`` that matches nothing.
    """
    issues: list[ConfigIssue] = []
    merged = _merge(base, overlay, (), issues)
    if issues:
        raise ConfigError(issues, source)
    return merged


def _merge(base: Any, overlay: Any, path: tuple[Any, ...], issues: list[ConfigIssue]) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            where = (*path, key)
            merged[key] = _merge(base[key], value, where, issues) if key in base else value
            merged[key] = _strip(merged[key])
        return merged
    if isinstance(base, list) and isinstance(overlay, list) and base and _keyed(base):
        return _merge_keyed_lists(base, overlay, path, issues)
    return _strip(overlay)


def _item_key(item: Any) -> tuple[Any, ...] | None:
    """The identity of a list item: its id, or a link's ends; None if it has none."""
    if not isinstance(item, dict):
        return None
    if "id" in item:
        return ("id", item["id"])
    if "a" in item and "b" in item:
        return ("ab", item["a"], item["b"])
    return None


def _plain(key: tuple[Any, ...]) -> bool:
    return all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in key[1:])


def _keyed(items: list[Any]) -> bool:
    return all(_item_key(item) is not None for item in items)


def _merge_keyed_lists(
    base: list[Any], overlay: list[Any], path: tuple[Any, ...], issues: list[ConfigIssue]
) -> list[Any]:
    merged = {}
    for item in base:
        key = _item_key(item)
        merged[key if key is not None and _plain(key) else ("index", len(merged))] = item
    for index, item in enumerate(overlay):
        where = format_path((*path, index))
        key = _item_key(item)
        if key is None:
            issues.append(
                ConfigIssue(
                    where,
                    "expected a mapping with an id (or a and b for a link) to merge into the "
                    f"list, got {shorten(item)}",
                )
            )
            continue
        if not _plain(key):
            given = key[1] if key[0] == "id" else key[1:]
            issues.append(ConfigIssue(where, f"an id must be a name, got {shorten(given)}"))
            continue
        remove = item.get("remove", False)
        if not isinstance(remove, bool):
            issues.append(
                ConfigIssue(f"{where}.remove", f"expected true or false, got {shorten(remove)}")
            )
        elif remove:
            if key in merged:
                del merged[key]
            else:
                known = [str(k[1]) if k[0] == "id" else f"{k[1]}~{k[2]}" for k in merged]
                issues.append(
                    ConfigIssue(
                        where,
                        f"nothing to remove: no item {_describe(key)} in the scenario; "
                        f"known: {', '.join(known[:12])}{', …' if len(known) > 12 else ''}",
                    )
                )
        elif key in merged:
            merged[key] = _merge(merged[key], item, (*path, index), issues)
        else:
            merged[key] = _strip(item)
    return [_strip(item) for item in merged.values()]


def _describe(key: tuple[Any, ...]) -> str:
    return f"with id {key[1]!r}" if key[0] == "id" else f"linking {key[1]!r} and {key[2]!r}"


def _strip(value: Any) -> Any:
    """Drop ``remove: false`` markers from merged and added items."""
    if isinstance(value, dict) and value.get("remove") is False:
        return {k: v for k, v in value.items() if k != "remove"}
    return value


# ---------------------------------------------------------------- --set assignments

_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def parse_set_path(path: str, max_depth: int = DEFAULT_LIMITS.max_depth) -> list[str | int]:
    """``sites[3].pools[0].count`` → ``['sites', 3, 'pools', 0, 'count']``."""
    shown = shorten(path)
    tokens: list[str | int] = []
    position = 0
    for match in _TOKEN.finditer(path):
        between = path[position : match.start()]
        if between not in ("", "."):
            raise TwinUserError(f"--set {shown}: cannot read the path near {shorten(between)}")
        name, bracket = match.groups()
        token = (name if name is not None else bracket).strip()
        tokens.append(int(token) if re.fullmatch(r"-?[0-9]+", token) else token)
        position = match.end()
        if len(tokens) > max_depth:
            raise TwinUserError(f"--set {shown}: a path of more than {max_depth} parts")
    if not tokens or path[position:] not in ("",) or any(t == "" for t in tokens):
        raise TwinUserError(f"--set {shown}: expected a dotted path such as policies.placement")
    return tokens


def apply_assignment(
    data: dict[str, Any], assignment: str, limits: InputLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Apply one ``path=value`` override to a copy of ``data``."""
    shown = shorten(assignment)
    if "=" not in assignment:
        raise TwinUserError(
            f"--set {shown}: expected PATH=VALUE, e.g. policies.placement=lowest_carbon"
        )
    path_text, value_text = assignment.split("=", 1)
    tokens = parse_set_path(path_text.strip(), limits.max_depth)
    value = _set_value(value_text, shown, limits)
    result = copy.deepcopy(data)
    node: Any = result
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        where = format_path(tuple(tokens[: depth + 1]))
        if isinstance(node, list):
            index = _list_index(node, token, where, shown)
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            key = str(token)
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
        else:
            raise TwinUserError(
                f"--set {shown}: {format_path(tuple(tokens[:depth])) or 'the scenario'} is a "
                f"value, not a mapping or list, so it has no {shorten(token)}"
            )
    return result


def _set_value(text: str, shown: str, limits: InputLimits) -> Any:
    """The value of a ``--set``, read as YAML (plain text when it is not valid YAML)."""
    if not text.strip():
        return ""
    try:
        return parse_yaml(text, f"--set {shown}", limits)
    except TwinUserError as error:
        if "not valid YAML" in str(error):
            return text
        raise


def _list_index(items: list[Any], token: str | int, where: str, shown: str) -> int:
    if isinstance(token, int):
        if -len(items) <= token < len(items):
            return token
        raise TwinUserError(
            f"--set {shown}: {where} is out of range (the list has {len(items)} items)"
        )
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == token:
            return index
    ids = [str(item.get("id")) for item in items if isinstance(item, dict) and "id" in item]
    raise TwinUserError(
        f"--set {shown}: no item with id {shorten(token)} at {where}; "
        f"known ids: {', '.join(ids[:20]) or 'none'}"
    )


# ---------------------------------------------------------------- data files


def _resolve_files(data: Any, base_dir: Path) -> None:
    """Make the relative ``file`` paths of empirical distributions, workload traces
    (``*.trace``) and iteration profiles, and the ``series`` files of grid series, absolute,
    from the YAML's folder."""
    for node in _walk(data):
        series = node.get("series")
        if isinstance(series, str) and _relative(series):
            node["series"] = str((base_dir / series).resolve())
        trace = node.get("trace")
        for holder in (node, trace) if isinstance(trace, dict) else (node,):
            file = holder.get("file")
            if (
                (
                    holder is trace
                    or node.get("dist") == "empirical"
                    or node.get("model") == "profile"
                )
                and isinstance(file, str)
                and _relative(file)
            ):
                holder["file"] = str((base_dir / file).resolve())


def _relative(file: str) -> bool:
    """A data file named by a path relative to the YAML's folder."""
    return (
        "\x00" not in file and not file.startswith(BUILTIN_PREFIX) and not Path(file).is_absolute()
    )


def _walk(data: Any) -> Iterable[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk(value)
    elif isinstance(data, list):
        for value in data:
            yield from _walk(value)


def sample_file(spec: Empirical) -> Path:
    """Where an empirical distribution's samples are (a built-in trace or a file)."""
    if spec.file.startswith(BUILTIN_PREFIX):
        return data_file(spec.file.removeprefix(BUILTIN_PREFIX))
    if "\x00" in spec.file:
        raise SampleFileError(f"{shorten(spec.file)}: a file name cannot hold a NUL byte")
    return Path(spec.file)


def _check_sample_files(scenario: Scenario, source: str) -> None:
    """Every empirical distribution's file exists and holds numbers in its column, and a
    file whose lines pair two lengths has a line holding both."""
    issues = []
    for path, node in _walk_with_path(scenario, ()):
        try:
            read_samples(sample_file(node), node.column)
        except TwinUserError as error:
            issues.append(ConfigIssue(format_path((*path, "file")), str(error)))
    issues = issues or paired_file_issues(scenario)
    if issues:
        raise ConfigError(issues, source)


def _walk_with_path(node: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], Any]]:
    """The empirical distributions of a validated scenario, with their config paths."""
    if isinstance(node, Empirical):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _walk_with_path(getattr(node, name), (*path, name))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_with_path(value, (*path, key))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _walk_with_path(value, (*path, index))
