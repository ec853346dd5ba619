"""Run ``twin validate`` on one input, in process, and judge its answer.

A good answer is exit 0 (accepted) or exit 2 with a message that says where the mistake is:
each listed issue starts with its field path, and a whole-file or whole-argument problem
names the file or the argument. Anything else is a failure: a traceback (any other exit), an
answer without a place, a message longer than a screenful or two, or a slow answer.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from click.testing import CliRunner

from twin.cli import main

MAX_MESSAGE_CHARS = 16_000
"""An error report longer than this is unreadable (the cap is 50 issues of one line each)."""
SLOW_S = 5.0
"""An answer slower than this counts as a hang."""

_ISSUE = re.compile(r"^  (?P<path>[^\s:][^:]*): \S")
_HEAD = re.compile(r"^error: \d+ problems?( in .*)?:$")


@dataclass
class Verdict:
    """What ``twin validate`` did with one input."""

    kind: str  # accepted, rejected, no_place, traceback, slow, too_long
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.kind in ("accepted", "rejected")


def judge(args: Sequence[str], places: Sequence[str], command: str = "validate") -> Verdict:
    """Run ``twin COMMAND ARGS`` and classify its answer; ``places`` are the names (file paths,
    option names) a whole-input error may cite instead of a field path."""
    runner = CliRunner()
    started = time.perf_counter()
    result = runner.invoke(main, [command, *args], catch_exceptions=True)
    seconds = time.perf_counter() - started
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(*result.exc_info))  # type: ignore[misc]
        return Verdict("traceback", seconds, output + trace)
    if seconds > SLOW_S:
        return Verdict("slow", seconds, output)
    if result.exit_code == 0:
        return Verdict("accepted", seconds, output)
    if result.exit_code != 2:
        return Verdict("traceback", seconds, f"exit {result.exit_code}: {output}")
    if len(output) > MAX_MESSAGE_CHARS:
        return Verdict("too_long", seconds, output[:2000])
    return Verdict("rejected" if names_a_place(output, places) else "no_place", seconds, output)


def names_a_place(output: str, places: Sequence[str]) -> bool:
    """Whether every problem in an error report says where it is."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return False
    head = lines[0]
    if _HEAD.match(head):
        issues = [line for line in lines[1:] if not line.startswith("  … and ")]
        return bool(issues) and all(_ISSUE.match(line) for line in issues)
    return any(place and place in output for place in places)


def issue_paths(output: str) -> list[tuple[str, ...]]:
    """The field paths an error report lists, each as a tuple of its parts."""
    found = []
    for line in output.splitlines():
        match = _ISSUE.match(line)
        if match and not line.startswith("  … and "):
            found.append(_parts(match.group("path")))
    return found


def points_near(output: str, target: tuple[object, ...]) -> bool:
    """Whether a report lists ``target`` (a mutated path), a field inside or above it, or a
    sibling of it (cross-field checks such as low/high point at the partner field)."""
    wanted = tuple(str(part) for part in target)
    parent = wanted[:-1]
    for path in issue_paths(output):
        shortest = min(len(path), len(wanted))
        if path[:shortest] == wanted[:shortest] or (parent and path[: len(parent)] == parent):
            return True
    return False


def _parts(path: str) -> tuple[str, ...]:
    return tuple(part for part in re.split(r"[.\[\]]+", path) if part)
