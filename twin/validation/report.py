"""The validation report: run every ``cases_*`` module's ``cases()``, write the Markdown report
(atomically) and print a summary table.

A case module that raises becomes one failed case saying so: the report always gets written,
and a broken module can never pass for a clean one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import math
import os
import pkgutil
import platform
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.config.errors import TwinUserError
from twin.validation.case import Case, Status
from twin.version import __version__

PACKAGE = "twin.validation"
PREFIX = "cases_"
DEFAULT_OUT = Path("docs/validation.md")
COMMAND = "python -m twin.validation"
COLOURS: dict[Status, str] = {"pass": "green", "fail": "bold red", "not run": "yellow"}


@dataclass
class Results:
    """Every case run, in module order, and the peer versions the modules reported."""

    cases: list[Case] = field(default_factory=list)
    peers: dict[str, str] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        return sum(case.status == status for case in self.cases)

    def summary(self) -> str:
        return (
            f"{self.count('pass')} pass, {self.count('fail')} fail, {self.count('not run')} not run"
        )


def case_modules() -> list[str]:
    """The ``cases_*`` modules of this package, by name (whatever exists on this machine)."""
    package = importlib.import_module(PACKAGE)
    return sorted(
        f"{PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if info.name.startswith(PREFIX)
    )


def group_of(module: str) -> str:
    """The report section a case module fills: ``cases_network`` → ``network``."""
    return module.rsplit(".", 1)[-1].removeprefix(PREFIX)


def broken(module: str, error: BaseException) -> Case:
    """The failed case standing for a case module that raised."""
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return Case(
        group_of(module),
        f"{module}.cases() raised",
        "the case module itself",
        module,
        math.nan,
        0.0,
        0.0,
        notes=(f"{type(error).__name__}{at}: {error}",),
    )


def run_module(module: str, results: Results) -> None:
    """Add one module's cases (or the failed case for its exception) and its peers."""
    try:
        loaded = importlib.import_module(module)
        cases = list(loaded.cases())
        peers = loaded.peers() if hasattr(loaded, "peers") else {}
        strays = [case for case in cases if not isinstance(case, Case)]
        if strays:
            raise TypeError(f"cases() returned {type(strays[0]).__name__}, not Case")
    except Exception as error:  # any failure of a case module is reported, never a crash
        results.cases.append(broken(module, error))
        return
    results.cases.extend(cases)
    results.peers.update(peers)


def collect(modules: Sequence[str], only: str | None = None) -> Results:
    """Run the given case modules (those of group ``only``, if given)."""
    if only is not None:
        known = sorted(group_of(module) for module in modules)
        modules = [module for module in modules if group_of(module) == only]
        if not modules:
            raise TwinUserError(f"--only {only!r}: no such group; the groups are {known}")
    results = Results()
    for module in modules:
        run_module(module, results)
    return results


# ---------------------------------------------------------------- Markdown


def _figure(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.6g}" if math.isfinite(value) else "n/a"


def _error(case: Case) -> str:
    error = case.error
    if error is None:
        return "—"
    return f"{error:.1e}" if math.isfinite(error) else "n/a"


def _tolerance(case: Case) -> str:
    if case.tolerance == 0:
        return "0 (abs)" if case.absolute else "rounding (1e-9)"
    return f"{case.tolerance:.1e}" + (" (abs)" if case.absolute else "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _status(case: Case) -> str:
    return {"pass": "pass", "fail": "**FAIL**", "not run": "not run"}[case.status]


def markdown(results: Results, command: str, now: dt.datetime) -> str:
    """The report's text: header, summary, then per group a table and the cases' notes."""
    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        **results.peers,
    }
    lines = [
        "# Validation report",
        "",
        f"Written by `{command}` with twin {__version__} on {now:%Y-%m-%d %H:%M} UTC.",
        "",
        "Versions: " + "; ".join(f"{name} {version}" for name, version in versions.items()) + ".",
        "",
        f"**{results.summary()}.**",
        "",
        "Each case holds one of twin's figures against an independent reference. The error is "
        "relative, |twin − reference| / |reference|, unless the tolerance says *abs*; a "
        "tolerance of *rounding* asks for equality to 1e-9. A case whose reference cannot be "
        "computed on this machine (a peer simulator that is not installed) is *not run*, "
        "never passed. Statistical tolerances are about four standard deviations of the "
        "estimator, measured over independent seeds (see the notes); seeds are fixed.",
    ]
    groups = dict.fromkeys(case.group for case in results.cases)
    for group in groups:
        cases = [case for case in results.cases if case.group == group]
        lines += [
            "",
            f"## {group}",
            "",
            "| case | reference | source | twin | reference value | error | tolerance | status |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for case in cases:
            cells = (
                case.name,
                case.reference,
                case.source,
                _figure(case.twin),
                _figure(case.expected),
                _error(case),
                _tolerance(case),
                _status(case),
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        notes = [
            (case.name, note)
            for case in cases
            for note in ((f"not run: {case.reason}",) if case.reason else ()) + case.notes
        ]
        if notes:
            lines += ["", "Notes:", ""]
            lines += [f"- *{_cell(name)}*: {_cell(note)}" for name, note in notes]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


# ---------------------------------------------------------------- terminal


def print_table(results: Results, console: Console) -> None:
    """A short table (case, error, tolerance, status), the summary, and why any case did not
    run or failed; the figures themselves are in the report."""
    table = Table("case", "error", "tolerance", "status")
    for case in results.cases:
        colour = COLOURS[case.status]
        table.add_row(
            escape(f"{case.group}: {case.name}"),
            _error(case),
            _tolerance(case).replace("rounding (1e-9)", "1e-9"),
            f"[{colour}]{case.status}[/]",
        )
    console.print(table)
    console.print(f"[bold]{results.summary()}[/]")
    for case in results.cases:
        if case.status == "not run":
            console.print(f"[yellow]not run[/]: {escape(case.name)}: {escape(case.reason)}")
        elif case.status == "fail" and case.notes:
            console.print(f"[red]fail[/]: {escape(case.name)}: {escape(case.notes[0])}")


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Run every validation case and write the report (exit 1 if any fails).",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report path (Markdown)")
    parser.add_argument("--only", metavar="GROUP", help="run only this group's cases")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, modules: Sequence[str] | None = None) -> int:
    """Run the cases, write the report; 0 if no case fails, 1 if one does, 2 on a user error.
    ``modules`` replaces the discovered case modules (for tests)."""
    args = parse(argv)
    console = Console(stderr=False, highlight=False)
    try:
        results = collect(case_modules() if modules is None else modules, args.only)
    except TwinUserError as error:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
        return 2
    given = list(sys.argv[1:] if argv is None else argv)
    command = " ".join([COMMAND, *given])
    write_atomically(args.out, markdown(results, command, dt.datetime.now(dt.timezone.utc)))
    print_table(results, console)
    console.print(f"report: {args.out}")
    return 1 if results.count("fail") else 0
