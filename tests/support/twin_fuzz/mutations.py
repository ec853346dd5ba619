"""Seeded mutations of scenario data and text, the way a careless or hostile user makes them.

Every mutation draws from a ``random.Random`` it is given (a seeded one in the campaign, one
whose choices hypothesis controls in the tests), so a failing case is reproducible from its
seed. Mutations know nothing of twin's schema: they act on whatever tree the YAML holds
(delete a key, change a type, push a number to an extreme, break a date, dangle a reference,
nest deeply, duplicate ids), and on the text (truncate, duplicate a line, inject bytes).
"""

from __future__ import annotations

import ast
import copy
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[Any, ...]

NUMBERS: tuple[Any, ...] = (
    -1,
    0,
    -0.0,
    1e-300,
    -1e-9,
    1e-9,
    0.5,
    1,
    2,
    7,
    255,
    256,
    1e6,
    1e12,
    1e308,
    -1e308,
    2**31,
    2**63,
    2**64,
    10**30,
    math.nan,
    math.inf,
    -math.inf,
)
WRONG_TYPES: tuple[Any, ...] = (
    None,
    True,
    False,
    "abc",
    "",
    "1e3",
    [],
    [1],
    [[1, 2]],
    {},
    {"x": 1},
    {"dist": "constant"},
    {"series": "builtin:nope.csv"},
    [{"at": 0}],
)
DATES: tuple[Any, ...] = (
    "2024-13-01",
    "2024-02-30",
    "2023-02-29",
    "2024-00-10",
    "0000-01-01",
    "9999-12-31",
    "1899-12-31",
    "2026-03-02T25:00:00",
    "2026-03-02T08:00:00+25:00",
    "2026-03-02T08:00:00Z",
    "yesterday",
    20261229,
    1.7e9,
    "2026-W10",
)
DURATIONS: tuple[Any, ...] = (
    "1e400s",
    "1e308w",
    "-5h",
    "7x",
    "inf",
    "nan",
    ".inf",
    "0s",
    "1e-9s",
    "3651d",
    "10000w",
    "1.5.2h",
    "",
    " 12 h ",
)
TEXTS: tuple[str, ...] = (
    "Zürich–東京",
    "🚀🔥",
    "a\u202eb",
    "\x1b[31mred",
    "../../etc/passwd",
    "x" * 300,
    "id with spaces",
    "a.b",
    "[0]",
    "sites[0]",
    "-",
    "NaN",
)
POLICY_NAMES: tuple[Any, ...] = ("sjf", "FCFS", "", "least_loaded ", "lowest-carbon", [1], {"a": 1})
SCALES: tuple[float, ...] = (0.0, 1e-6, 1e-3, 0.1, 10.0, 1e3)


@dataclass
class Mutant:
    """Mutated scenario data (or text), with what was done to it."""

    data: Any
    text: str | None
    notes: list[str]

    def yaml_text(self) -> str:
        """The mutant as a YAML file's text."""
        if self.text is not None:
            return self.text
        return dump(self.data)


def dump(data: Any) -> str:
    """YAML text of ``data`` (NaN and infinities as YAML's .nan/.inf; any Python value).

    Deeply nested mutants need more stack than Python's default to be written out."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000)
    finally:
        sys.setrecursionlimit(limit)


def paths(tree: Any, prefix: Path = ()) -> list[Path]:
    """Every node's path in ``tree`` (keys of mappings, indices of lists), root first."""
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += paths(value, (*prefix, index))
    return found


def get(tree: Any, path: Path) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def put(tree: Any, path: Path, value: Any) -> None:
    get(tree, path[:-1])[path[-1]] = value


# ---------------------------------------------------------------- tree mutations


def _numeric_paths(tree: Any) -> list[Path]:
    return [
        p
        for p in paths(tree)
        if p and isinstance(get(tree, p), (int, float)) and not isinstance(get(tree, p), bool)
    ]


def delete(rng: random.Random, tree: Any) -> str:
    candidates = [p for p in paths(tree) if p]
    path = rng.choice(candidates)
    parent = get(tree, path[:-1])
    del parent[path[-1]]
    return f"delete {path}"


def wrong_type(rng: random.Random, tree: Any) -> str:
    path = rng.choice([p for p in paths(tree) if p])
    value = copy.deepcopy(rng.choice(WRONG_TYPES))
    put(tree, path, value)
    return f"{path} = {value!r}"


def extreme_number(rng: random.Random, tree: Any) -> str:
    candidates = _numeric_paths(tree)
    if not candidates:
        return wrong_type(rng, tree)
    path = rng.choice(candidates)
    value = rng.choice(NUMBERS)
    put(tree, path, value)
    return f"{path} = {value!r}"


def scaled_number(rng: random.Random, tree: Any) -> str:
    """A number pushed far but often still valid (what reaches the model at run time)."""
    candidates = _numeric_paths(tree)
    if not candidates:
        return delete(rng, tree)
    path = rng.choice(candidates)
    old = get(tree, path)
    factor = rng.choice(SCALES)
    value = type(old)(old * factor) if isinstance(old, int) else old * factor
    put(tree, path, value)
    return f"{path} = {old!r} × {factor:g}"


def bad_date(rng: random.Random, tree: Any) -> str:
    keys = [p for p in paths(tree) if p and p[-1] in ("start", "online_from")]
    path = rng.choice(keys) if keys else ("start",)
    value = rng.choice(DATES)
    put(tree, path, value)
    return f"{path} = {value!r}"


def bad_duration(rng: random.Random, tree: Any) -> str:
    names = ("horizon", "window", "interval", "stop_after", "checkpoint_interval")
    names += ("start", "duration", "mtbf", "restart_overhead")  # faults
    names += ("offset", "end")  # trace replay
    keys = [p for p in paths(tree) if p and p[-1] in names]
    path = rng.choice(keys) if keys else ("horizon",)
    value = rng.choice(DURATIONS)
    put(tree, path, value)
    return f"{path} = {value!r}"


def odd_text(rng: random.Random, tree: Any) -> str:
    strings = [p for p in paths(tree) if p and isinstance(get(tree, p), str)]
    path = rng.choice(strings) if strings else ("name",)
    value = rng.choice(TEXTS)
    put(tree, path, value)
    return f"{path} = {value!r}"


def duplicate_id(rng: random.Random, tree: Any) -> str:
    ids = [p for p in paths(tree) if p and p[-1] == "id"]
    if len(ids) < 2:
        return odd_text(rng, tree)
    source, target = rng.sample(ids, 2)
    put(tree, target, get(tree, source))
    return f"{target} = {get(tree, source)!r} (duplicate)"


def dangling_reference(rng: random.Random, tree: Any) -> str:
    names = ("accelerator", "a", "b", "replicas", "dataset_origins", "tenant_mix", "sources")
    names += ("site", "country", "link", "by_type")  # faults
    names += ("file", "tenants", "tenant_default")  # trace replay
    keys = [p for p in paths(tree) if p and p[-1] in names]
    keys += [p for p in paths(tree) if len(p) >= 2 and p[-2] in names]
    if not keys:
        return odd_text(rng, tree)
    path = rng.choice(keys)
    value = get(tree, path)
    if isinstance(value, dict) and value:
        key = rng.choice(list(value))
        value["nowhere_" + str(key)] = value.pop(key)
        return f"{path}: key {key!r} renamed to an unknown name"
    put(tree, path, "nowhere")
    return f"{path} = 'nowhere'"


def unknown_policy(rng: random.Random, tree: Any) -> str:
    path = rng.choice(
        [
            ("policies", "scheduler"),
            ("policies", "placement"),
            ("workloads", "inference", "routing"),
        ]
    )
    value = copy.deepcopy(rng.choice(POLICY_NAMES))
    node = tree
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    return f"{path} = {value!r}"


def deep_nesting(rng: random.Random, tree: Any) -> str:
    path = rng.choice([p for p in paths(tree) if p])
    depth = rng.choice((10, 40, 200))
    value: Any = get(tree, path)
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value}
    put(tree, path, value)
    return f"{path} nested {depth} deep"


def unknown_key(rng: random.Random, tree: Any) -> str:
    mappings = [p for p in paths(tree) if isinstance(get(tree, p), dict)]
    path = rng.choice(mappings)
    key = rng.choice(("colour", "powr_mw", "horizn", "id2", "🚀", "x" * 100))
    get(tree, path)[key] = 1
    return f"{path}.{key} = 1 (unknown key)"


def long_list(rng: random.Random, tree: Any) -> str:
    lists = [p for p in paths(tree) if p and isinstance(get(tree, p), list) and get(tree, p)]
    if not lists:
        return wrong_type(rng, tree)
    path = rng.choice(lists)
    items = get(tree, path)
    copies = rng.choice((50, 2000))
    put(tree, path, [copy.deepcopy(items[0]) for _ in range(copies)])
    return f"{path}: {copies} copies of its first item"


TREE_MUTATIONS: tuple[Callable[[random.Random, Any], str], ...] = (
    delete,
    wrong_type,
    extreme_number,
    scaled_number,
    bad_date,
    bad_duration,
    odd_text,
    duplicate_id,
    dangling_reference,
    unknown_policy,
    deep_nesting,
    unknown_key,
    long_list,
)
"""Mutations of the data tree."""

RUNNABLE_MUTATIONS: tuple[Callable[[random.Random, Any], str], ...] = (
    scaled_number,
    scaled_number,
    extreme_number,
    delete,
)
"""Mutations that often leave a valid scenario (for the run-time fuzz)."""


# ---------------------------------------------------------------- text mutations


def text_mutation(rng: random.Random, text: str) -> tuple[str, str]:
    """A mutation of a YAML file's text: truncation, a duplicated line, injected bytes."""
    lines = text.splitlines(keepends=True)
    kind = rng.randrange(5)
    if kind == 0:
        cut = rng.randrange(len(text) + 1)
        return text[:cut], f"truncated at {cut}"
    if kind == 1:
        index = rng.randrange(len(lines))
        return "".join([*lines[: index + 1], lines[index], *lines[index + 1 :]]), (
            f"line {index + 1} duplicated"
        )
    if kind == 2:
        position = rng.randrange(len(text) + 1)
        junk = rng.choice(("\t", "\x00", "\x07", ": :", "- - -", "&a *a", "{", "]", "\ufeff", "%"))
        return text[:position] + junk + text[position:], f"{junk!r} inserted at {position}"
    if kind == 3:
        index = rng.randrange(len(lines))
        indent = rng.choice(("  ", " ", "\t"))
        return "".join([*lines[:index], indent + lines[index], *lines[index + 1 :]]), (
            f"line {index + 1} re-indented"
        )
    position = rng.randrange(len(text) + 1)
    return text[:position] + "\n!!python/object:os.system x\n" + text[position:], (
        "a python tag inserted"
    )


def mutate(rng: random.Random, base: dict[str, Any], *, runnable: bool = False) -> Mutant:
    """One to three mutations of ``base`` (untouched); sometimes of its text instead."""
    data = copy.deepcopy(base)
    notes = []
    pool = RUNNABLE_MUTATIONS if runnable else TREE_MUTATIONS
    for _ in range(rng.choice((1, 1, 2, 3))):
        if not isinstance(data, dict) or not data:
            break
        notes.append(rng.choice(pool)(rng, data))
    if not runnable and rng.random() < 0.2:
        text, note = text_mutation(rng, dump(data))
        return Mutant(None, text, [*notes, note])
    return Mutant(data, None, notes)


def single_target(notes: list[str]) -> tuple[object, ...] | None:
    """The path a lone value mutation changed (None for other mutations)."""
    if len(notes) != 1 or not notes[0].startswith("(") or " = " not in notes[0]:
        return None
    head = notes[0].split(" = ", 1)[0]
    try:
        target = ast.literal_eval(head)
    except (ValueError, SyntaxError):
        return None
    if not target or target[-1] in ("id", "dist", "kind", "model", "a", "b"):
        return None
    return target
