"""``twin import FORMAT FILE --out workload.arrow``: a real trace into twin's normalised Arrow
workload (:data:`twin.trace.schema.WORKLOADS`), which scenarios replay with ``format: arrow``.
Thin: the readers are in :mod:`twin.importers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from twin.cli_common import console, user_errors

KINDS = ("jobs", "requests", "transfers")
FORMAT_KINDS = {
    "swf": "jobs",
    "alibaba_gpu_2023": "jobs",
    "azure_llm": "requests",
    "alibaba_lora": "requests",
}
"""Formats that name their workload kind; ``csv`` needs ``--kind`` (default jobs)."""


def _list_builtins(context: click.Context, _: Any, value: bool) -> None:
    if not value or context.resilient_parsing:
        return
    from importlib import resources

    folder = resources.files("twin.configs").joinpath("data")
    names = sorted(entry.name for entry in folder.iterdir() if not entry.name.endswith(".md"))
    for name in names:
        click.echo(f"builtin:{name}")
    context.exit(0)


@click.command("import")
@click.argument("format_name", metavar="FORMAT", type=click.Choice([*FORMAT_KINDS, "csv"]))
@click.argument("file", metavar="FILE")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="the Arrow workload file to write (written whole or not at all)",
)
@click.option("--kind", type=click.Choice(KINDS), help="what a csv holds (default jobs)")
@click.option(
    "--per-accelerator",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="jobs: trace processors (SWF) or GPUs per twin accelerator",
)
@click.option(
    "--requested-time",
    type=click.Choice(["trace", "run_time"]),
    default="trace",
    show_default=True,
    help="jobs: the trace's requested walltime, or always the run time × --requested-factor",
)
@click.option(
    "--requested-factor",
    type=click.FloatRange(min=1.0, max=100.0),
    default=1.0,
    show_default=True,
    help="jobs: walltime = run time × this where the trace has none",
)
@click.option(
    "--user-field",
    type=click.Choice(["user", "group", "queue"]),
    default="user",
    show_default=True,
    help="jobs (SWF): the field that names a job's owner",
)
@click.option(
    "--list",
    "list_builtins",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_list_builtins,
    help="list the packaged traces (builtin:NAME) and exit",
)
@user_errors
def import_trace(
    format_name: str,
    file: str,
    out: Path,
    kind: str | None,
    per_accelerator: float,
    requested_time: str,
    requested_factor: float,
    user_field: str,
) -> None:
    """Read FILE (a path, or builtin:NAME for a packaged trace) in FORMAT and write it to
    --out as a normalised Arrow workload, printing what it read. A malformed trace is
    refused with the number of each bad line (exit 2) and nothing is written.

    FORMAT: swf (Standard Workload Format), alibaba_gpu_2023 (the openb pod list),
    azure_llm (arrival, prompt and output tokens), alibaba_lora (the 2026 LoRA request
    trace), or csv (named columns; --kind says whether of jobs, requests or transfers).
    """
    from twin.config.data_files import trace_file
    from twin.config.errors import TwinUserError
    from twin.importers import read_workload, write_workload
    from twin.importers.jobs import JobOptions

    workload = FORMAT_KINDS.get(format_name, kind or "jobs")
    if kind is not None and kind != workload:
        raise TwinUserError(f"--kind {kind}: format {format_name} holds {workload}")
    path = trace_file(file)
    options = None
    if workload == "jobs":
        options = JobOptions(per_accelerator, requested_time, requested_factor, user_field)  # type: ignore[arg-type]
    imported = read_workload(workload, format_name, path, options)
    if imported.table.num_rows == 0:
        raise TwinUserError(f"{escape(file)}: no {workload} to import (nothing written)")
    write_workload(imported.table, out)
    _print_summary(imported, file, out)


def _print_summary(imported: Any, file: str, out: Path) -> None:
    """What was read: records, kept and skipped, span and load."""
    from twin.importers.describe import describe

    table = Table(title=f"{escape(file)} → {escape(str(out))}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in describe(imported):
        table.add_row(escape(name), escape(value))
    console.print(table)
    for note in imported.notes:
        console.print(f"  {escape(note)}")
