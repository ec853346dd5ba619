"""The table ``twin compare`` prints: each metric's baseline and each other group with its
difference, rendered with rich; warnings in bold red before and under it."""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.analysis.compare import (
    BETTER,
    DIFFERENT,
    NO_INTERVAL,
    NOISE,
    PAIRED,
    WORSE,
    Comparison,
    Delta,
)
from twin.analysis.config_diff import describe
from twin.analysis.stats import Interval

STYLE = {BETTER: "bold green", WORSE: "bold red", DIFFERENT: "bold yellow", NOISE: "dim"}


CHANGES_SHOWN = 12
"""Config changes listed per group (``--json`` has them all)."""


def _print_changes(console: Console, result: Comparison) -> None:
    """What each group's config changes against the baseline's."""
    for index, changes in enumerate(result.changes):
        if index == 0:
            continue
        name = escape(result.groups[index].name)
        if not changes:
            console.print(f"{name}: the same config as the baseline (seeds aside)")
            continue
        console.print(f"{name} changes {len(changes)} config value(s) against the baseline:")
        for change in changes[:CHANGES_SHOWN]:
            console.print(f"  {escape(describe(change))}", highlight=False)
        if len(changes) > CHANGES_SHOWN:
            console.print(f"  … and {len(changes) - CHANGES_SHOWN} more (--json lists them all)")


def print_comparison(console: Console, result: Comparison) -> None:
    """Print ``result`` on ``console``: groups, warnings, the table, its legend."""
    for index, group in enumerate(result.groups):
        role = "baseline" if index == 0 else f"group {index}"
        seeds = _seeds(group.seeds)
        console.print(f"[bold]{role}[/]: {escape(group.name)} ({seeds})", highlight=False)
    _print_changes(console, result)
    _print_warnings(console, result)
    table = Table("metric", "unit", "baseline", "group", "mean ± CI", "Δ ± CI", "Δ %", "pairs")
    table.add_column("mark")
    for column in table.columns[1:]:
        column.no_wrap = True  # numbers and marks whole; a long metric name folds
    table.columns[0].overflow = "fold"
    for row in result.rows:
        base = _interval(row.baseline)
        if not row.deltas:
            flags = _flags(row.warnings, result)
            table.add_row(escape(row.metric.name), row.metric.unit, base, *[""] * 5, flags)
        for position, delta in enumerate(row.deltas):
            table.add_row(
                escape(row.metric.name) if position == 0 else "",
                row.metric.unit if position == 0 else "",
                base if position == 0 else "",
                str(delta.group),
                _interval(delta.value),
                _interval(delta.delta, signed=True),
                _percent(delta.relative),
                _pairs(delta),
                _mark(delta, result),
            )
        table.add_section()
    console.print(table)
    percent = round(100 * result.confidence, 1)
    console.print(
        f"± is the {percent:g}% Student-t interval over seeds. Δ is group − baseline, paired "
        "by seed (same seed = common random numbers) over the pairs shown, else unpaired "
        "(Welch). better/worse (by the metric's direction): the Δ interval excludes 0; "
        "noise: it does not.",
        style="dim",
        highlight=False,
    )
    if result.issues:
        _print_warnings(console, result)


def _print_warnings(console: Console, result: Comparison) -> None:
    for number, issue in enumerate(result.issues, start=1):
        console.print(
            f"[bold red]WARNING ⚠{number}[/] [red](compared anyway: --force):[/] "
            + escape(issue.message),
            highlight=False,
            soft_wrap=True,
        )
    for note in result.notes:
        console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)


def _mark(delta: Delta, result: Comparison) -> str:
    text = f"[{STYLE[delta.mark]}]{delta.mark}[/]" if delta.mark in STYLE else delta.mark
    flags = _flags(delta.warnings, result)
    return f"{text} {flags}" if flags else text


def _flags(warnings: tuple[str, ...], result: Comparison) -> str:
    """``⚠1,3``: the numbers of the warnings that affect a row."""
    numbers = [str(n) for n, i in enumerate(result.issues, start=1) if i.message in warnings]
    return f"[bold red]⚠{','.join(numbers)}[/]" if numbers else ""


def _pairs(delta: Delta) -> str:
    if delta.method == PAIRED:
        return str(delta.delta.n)
    return "—" if delta.method == NO_INTERVAL else "unpaired"


def _interval(interval: Interval, signed: bool = False) -> str:
    """``mean ± half width``, the half width to two significant digits and the mean to the
    same decimal place (four significant digits without a half width)."""
    sign = "+" if signed else ""
    if math.isnan(interval.mean):
        return "n/a"
    width = interval.half_width
    if math.isnan(width):
        return _significant(interval.mean, sign)
    if width == 0:
        return f"{_significant(interval.mean, sign)} ± 0"
    decimals = max(0, 1 - math.floor(math.log10(width)))
    return f"{interval.mean:{sign},.{decimals}f} ± {width:,.{decimals}f}"


def _significant(value: float, sign: str) -> str:
    """Four significant digits, with thousands separators rather than an exponent for
    values up to 10^12 (``10,990``, ``55.57``, ``0.003142``)."""
    size = abs(value)
    if size == 0 or not 1e-4 <= size < 1e12:
        return f"{value:{sign}.4g}"
    decimals = max(0, 3 - math.floor(math.log10(size)))
    return f"{value:{sign},.{decimals}f}"


def _percent(fraction: float) -> str:
    return "" if math.isnan(fraction) else f"{100 * fraction:+.1f}%"


def _seeds(seeds: list[int]) -> str:
    shown = ", ".join(str(s) for s in sorted(seeds)[:10])
    more = f", … {len(seeds) - 10} more" if len(seeds) > 10 else ""
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}: {shown}{more}"
