"""Load a scenario: find it (built-in name or file), read YAML, apply overlays, validate.

Overlays come in two kinds and are applied in this order, so the command line wins:

* what-if files: partial YAML deep-merged over the base. Lists whose items carry an ``id``
  (sites, pops) are merged item by item by id, links by their ``a``/``b`` ends; an item with
  ``remove: true`` removes the matching one; other lists are replaced.
* ``--set`` assignments: ``policies.placement=lowest_carbon``, ``sites[3].power_mw=20``,
  ``sites.jupiter.power_mw=20`` or ``sites[jupiter].power_mw=20``; the value is read as YAML.

The resolved data is what gets validated (and saved next to a run).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from twin.config.errors import ConfigError, ConfigIssue, TwinUserError
from twin.config.schema import Scenario
from twin.config.validate import Check, format_path, validate_scenario

BUILTIN_PREFIX = "builtin:"

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


def data_file(name: str) -> Path:
    """A packaged data file (``configs/data/NAME``), e.g. the Philly run-time trace."""
    path = Path(str(resources.files("twin.configs").joinpath("data", name)))
    if not path.exists():
        known = sorted(p.name for p in path.parent.iterdir()) if path.parent.exists() else []
        raise TwinUserError(f"no built-in data file {name!r}; known: {', '.join(known)}")
    return path


def resolve_source(source: str | Path, builtins: dict[str, Path] | None = None) -> Path:
    """A scenario argument is a file path or the name of a built-in scenario."""
    path = Path(source)
    if path.is_file():
        return path
    builtins = builtin_scenarios() if builtins is None else builtins
    if str(source) in builtins:
        return builtins[str(source)]
    raise TwinUserError(
        f"no scenario file or built-in scenario named {str(source)!r}. "
        f"Built-in scenarios: {', '.join(builtins)}. Pass a path to a YAML file otherwise."
    )


def resolve_whatif(source: str | Path) -> Path:
    """A what-if argument is a file path or the name of a built-in what-if overlay."""
    return resolve_source(source, builtin_whatifs())


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error becomes a user error with its line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TwinUserError(f"cannot read {path}: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TwinUserError(f"{path}: not valid YAML{where}: {problem}") from None


# ---------------------------------------------------------------- the public entry


def load_raw(
    source: str | Path,
    whatifs: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """The scenario's data with what-ifs and ``--set`` overrides applied (not yet validated)."""
    path = resolve_source(source)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue("", "expected a mapping at the top level")], str(path))
    _resolve_files(data, path.parent)
    for whatif in whatifs:
        whatif_path = resolve_whatif(whatif)
        overlay = read_yaml(whatif_path)
        if not isinstance(overlay, dict):
            raise TwinUserError(f"{whatif_path}: a what-if file must be a mapping")
        _resolve_files(overlay, whatif_path.parent)
        data = merge_overlay(data, overlay)
    for assignment in overrides:
        data = apply_assignment(data, assignment)
    return data


def load_config(
    source: str | Path,
    whatifs: Sequence[str | Path] = (),
    overrides: Sequence[str] = (),
    checks: Sequence[Check] = (),
) -> Scenario:
    """Load, overlay and validate a scenario (built-in name or YAML path).

    ``checks`` are extra checks of the raw data, reported together with the schema's own.
    """
    data = load_raw(source, whatifs, overrides)
    label = str(source) if not (whatifs or overrides) else f"{source} (with overlays)"
    scenario = validate_scenario(data, label, checks)
    _check_files_exist(scenario)
    return scenario


def scenario_to_yaml(scenario: Scenario) -> str:
    """The fully resolved scenario as YAML (what a run directory's ``config.yaml`` holds)."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# ---------------------------------------------------------------- what-if merging


def merge_overlay(base: Any, overlay: Any) -> Any:
    """Deep-merge ``overlay`` over ``base`` (see the module docstring for list rules)."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = merge_overlay(base[key], value) if key in base else _strip(value)
        return merged
    if isinstance(base, list) and isinstance(overlay, list) and _keyed(base + overlay):
        return _merge_keyed_lists(base, overlay)
    return _strip(overlay)


def _item_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    if "id" in item:
        return ("id", item["id"])
    if "a" in item and "b" in item:
        return ("ab", item["a"], item["b"])
    return None


def _keyed(items: list[Any]) -> bool:
    return bool(items) and all(_item_key(item) is not None for item in items)


def _merge_keyed_lists(base: list[Any], overlay: list[Any]) -> list[Any]:
    merged = {_item_key(item): item for item in base}
    for item in overlay:
        key = _item_key(item)
        if item.get("remove") is True:
            merged.pop(key, None)
        elif key in merged:
            merged[key] = merge_overlay(merged[key], item)
        else:
            merged[key] = _strip(item)
    return list(merged.values())


def _strip(value: Any) -> Any:
    """Drop ``remove: false`` markers from added items."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not (k == "remove" and v is False)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


# ---------------------------------------------------------------- --set assignments

_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def parse_set_path(path: str) -> list[str | int]:
    """``sites[3].pools[0].count`` → ``['sites', 3, 'pools', 0, 'count']``."""
    tokens: list[str | int] = []
    position = 0
    for match in _TOKEN.finditer(path):
        between = path[position : match.start()]
        if between not in ("", "."):
            raise TwinUserError(f"--set {path!r}: cannot read the path near {between!r}")
        name, bracket = match.groups()
        token = name if name is not None else bracket
        tokens.append(int(token) if token.lstrip("-").isdigit() else token)
        position = match.end()
    if not tokens or path[position:] not in ("",):
        raise TwinUserError(f"--set {path!r}: expected a dotted path such as policies.placement")
    return tokens


def apply_assignment(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``path=value`` override to a copy of ``data``."""
    if "=" not in assignment:
        raise TwinUserError(
            f"--set {assignment!r}: expected PATH=VALUE, e.g. policies.placement=lowest_carbon"
        )
    path_text, value_text = assignment.split("=", 1)
    tokens = parse_set_path(path_text.strip())
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else ""
    except yaml.YAMLError:
        value = value_text
    result = copy.deepcopy(data)
    node: Any = result
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        where = format_path(tuple(tokens[: depth + 1]))
        if isinstance(node, list):
            index = _list_index(node, token, where, assignment)
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
                f"--set {assignment!r}: {format_path(tuple(tokens[:depth]))} is a value, "
                f"not a mapping or list, so it has no {token!r}"
            )
    return result


def _list_index(items: list[Any], token: str | int, where: str, assignment: str) -> int:
    if isinstance(token, int):
        if -len(items) <= token < len(items):
            return token
        raise TwinUserError(
            f"--set {assignment!r}: {where} is out of range (the list has {len(items)} items)"
        )
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("id") == token:
            return index
    ids = [str(item.get("id")) for item in items if isinstance(item, dict) and "id" in item]
    raise TwinUserError(
        f"--set {assignment!r}: no item with id {token!r} at {where}; "
        f"known ids: {', '.join(ids) or 'none'}"
    )


# ---------------------------------------------------------------- data files


def _resolve_files(data: Any, base_dir: Path) -> None:
    """Make empirical distributions' relative ``file`` paths absolute, from the YAML's folder."""
    for node in _walk(data):
        if node.get("dist") == "empirical" and isinstance(node.get("file"), str):
            file = node["file"]
            if not file.startswith(BUILTIN_PREFIX) and not Path(file).is_absolute():
                node["file"] = str((base_dir / file).resolve())


def _walk(data: Any) -> Iterable[dict[str, Any]]:
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk(value)
    elif isinstance(data, list):
        for value in data:
            yield from _walk(value)


def _check_files_exist(scenario: Scenario) -> None:
    issues = []
    dumped = scenario.model_dump()
    for path, node in _walk_with_path(dumped, ()):
        if node.get("dist") == "empirical":
            file = node["file"]
            if file.startswith(BUILTIN_PREFIX):
                try:
                    data_file(file.removeprefix(BUILTIN_PREFIX))
                except TwinUserError as error:
                    issues.append(ConfigIssue(format_path((*path, "file")), str(error)))
            elif not Path(file).is_file():
                issues.append(ConfigIssue(format_path((*path, "file")), f"no such file {file}"))
    if issues:
        raise ConfigError(issues)


def _walk_with_path(data: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], Any]]:
    if isinstance(data, dict):
        yield path, data
        for key, value in data.items():
            yield from _walk_with_path(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _walk_with_path(value, (*path, index))
