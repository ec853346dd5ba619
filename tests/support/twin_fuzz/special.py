"""A fixed list of hostile inputs: files and arguments no mutation of a scenario produces.

Each builder writes its input under a folder and returns the command-line arguments of
``twin validate`` that use it (a path, sometimes with ``--whatif`` or ``--set``).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

from twin.config import builtin_scenarios

from .mutations import dump

Builder = Callable[[Path], list[str]]


def _file(name: str, content: bytes | str) -> Builder:
    def build(folder: Path) -> list[str]:
        path = folder / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return [str(path)]

    return build


def _europe() -> str:
    return builtin_scenarios()["europe"].read_text(encoding="utf-8")


def _tiny() -> str:
    return builtin_scenarios()["tiny"].read_text(encoding="utf-8")


def _alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def _deep(depth: int) -> str:
    return "name: " + "[" * depth + "]" * depth + "\n"


def _garbage(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _directory(folder: Path) -> list[str]:
    path = folder / "a_directory.yaml"
    path.mkdir()
    return [str(path)]


def _fifo(folder: Path) -> list[str]:
    path = folder / "a_fifo.yaml"
    os.mkfifo(path)
    return [str(path)]


def _symlink_loop(folder: Path) -> list[str]:
    path = folder / "loop.yaml"
    path.symlink_to(path)
    return [str(path)]


def _with_whatif(name: str, content: str) -> Builder:
    def build(folder: Path) -> list[str]:
        path = folder / name
        path.write_text(content, encoding="utf-8")
        return ["europe", "--whatif", str(path)]

    return build


def _many_links() -> str:
    links = [
        {"a": f"p{i}", "b": f"q{i}", "capacity_gbps": 100 if i % 3 else -1} for i in range(7200)
    ]
    return dump({"links": links})


def _huge_list() -> str:
    return "name: x\nsites:\n" + "- {}\n" * 200_000


SPECIAL_FILES: dict[str, Builder] = {
    "empty": _file("empty.yaml", b""),
    "whitespace": _file("blank.yaml", "  \n\n\t\n"),
    "comment only": _file("comment.yaml", "# nothing here\n"),
    "binary garbage": _file("garbage.yaml", _garbage(4096, 1)),
    "binary garbage 2": _file("garbage2.yaml", _garbage(64, 2)),
    "utf-16": _file("utf16.yaml", _tiny().encode("utf-16")),
    "latin-1": _file("latin1.yaml", "name: Zürich\n".encode("latin-1")),
    "nul byte": _file("nul.yaml", "name: a\x00b\n"),
    "bom": _file("bom.yaml", "\ufeff" + _tiny()),
    "crlf": _file("crlf.yaml", _tiny().replace("\n", "\r\n")),
    "alias bomb": _file("bomb.yaml", _alias_bomb()),
    "recursive alias": _file("recursive.yaml", "name: &a [*a]\n"),
    "50 MB name": _file("huge_name.yaml", "name: " + "x" * (50 * 2**20) + "\n"),
    "1 MB name": _file("long_name.yaml", _tiny().replace("name: tiny", "name: " + "x" * 2**20)),
    "deep nesting 40": _file("deep40.yaml", _deep(40)),
    "deep nesting 100k": _file("deep100k.yaml", _deep(100_000)),
    "impossible start": _file("feb30.yaml", _tiny().replace("2026-03-02", "2024-02-30")),
    "month 13": _file("month13.yaml", _tiny().replace("2026-03-02", "2024-13-01")),
    "numeric start": _file("unix.yaml", _tiny().replace("2026-03-02", "20261229")),
    "duplicate key": _file("dup.yaml", _tiny().replace("horizon: 1d", "horizon: 1d\nhorizon: 30d")),
    "two documents": _file("two.yaml", _tiny() + "\n---\nname: other\n"),
    "top-level list": _file("list.yaml", "- name: tiny\n"),
    "top-level scalar": _file("scalar.yaml", "tiny\n"),
    "python tag": _file("tag.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n"),
    "bad float tag": _file("float.yaml", "name: tiny\nhorizon: !!float abc\n"),
    "huge list": _file("huge_list.yaml", _huge_list()),
    "europe": _file("europe.yaml", _europe()),
    "directory": _directory,
    "fifo": _fifo,
    "symlink loop": _symlink_loop,
    "7200 bad links": _with_whatif("links.yaml", _many_links()),
    "whatif list": _with_whatif("list_whatif.yaml", "- remove: true\n"),
    "whatif remove unknown": _with_whatif(
        "remove.yaml", "sites:\n  - {id: atlantis, remove: true}\n"
    ),
    "whatif unhashable id": _with_whatif("unhashable.yaml", "sites:\n  - {id: [1], pue: 1.1}\n"),
    "whatif scalar item": _with_whatif("scalar_item.yaml", "sites:\n  - 5\n"),
    "whatif remove yes": _with_whatif(
        "remove_yes.yaml", "sites:\n  - {id: jupiter, remove: yes}\n"
    ),
}
"""Name → builder of each special input."""


SPECIAL_ARGUMENTS: dict[str, list[str]] = {
    "nul in path": ["tiny\x00.yaml"],
    "long file name": ["x" * 5000 + ".yaml"],
    "long path": ["/".join(["d" * 200] * 30) + ".yaml"],
    "no such scenario": ["no_such_scenario"],
    "empty name": [""],
    "whatif missing": ["tiny", "--whatif", "missing.yaml"],
    "whatif nul": ["tiny", "--whatif", "a\x00b"],
    "whatif directory": ["tiny", "--whatif", "/"],
}
"""Name → ``twin validate`` arguments that need no file."""
