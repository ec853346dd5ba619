"""The ``twin`` command line: thin over the library (parse, call, print).

User mistakes (bad config, missing file, bad ``--set``) exit with code 2 and a short message,
never a traceback. Libraries are imported by the commands that use them, so ``twin --help``
and ``twin --version`` load no pydantic, SimPy, numba or pyarrow.
"""

from __future__ import annotations

import gc
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from twin.cli_common import LARGE_INPUT, _limits, console, errors, user_errors


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="twin")
def main() -> None:
    """twin: a digital twin of the European AI compute network.

    Run a scenario (the built-in default is `europe`), ask what-if questions with --set and
    --whatif, and read the run directory it writes.
    """


def _overrides(horizon: str | None, seed: int | None, sets: tuple[str, ...]) -> list[str]:
    from twin.config import TwinUserError
    from twin.config.units import parse_duration_s

    overrides = list(sets)
    if horizon is not None:
        try:
            parse_duration_s(horizon)
        except ValueError as error:
            raise TwinUserError(f"--horizon: {error}") from None
        overrides.append(f"horizon={horizon}")
    if seed is not None:
        overrides.append(f"seed={seed}")
    return overrides


@main.command()
@click.argument("scenario", default="europe")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="run directory to write")
@click.option("--horizon", help="simulated time span, e.g. 7d, 12h (overrides the config)")
@click.option("--seed", type=int, help="random seed (overrides the config)")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="override a config value")
@click.option("--whatif", "whatifs", multiple=True, metavar="FILE", help="overlay a what-if file")
@click.option("--overwrite", is_flag=True, help="replace an existing run directory")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar and no summary")
@LARGE_INPUT
@user_errors
def run(
    scenario: str,
    out: Path | None,
    horizon: str | None,
    seed: int | None,
    sets: tuple[str, ...],
    whatifs: tuple[str, ...],
    overwrite: bool,
    quiet: bool,
    large_input: bool,
) -> None:
    """Simulate SCENARIO (a built-in name or a YAML file; default: europe).

    Ctrl-C, SIGTERM and SIGHUP stop the run within about a second, leaving a readable run
    marked incomplete; the exit code is 128 + the signal's number (130 for Ctrl-C).
    """
    from twin.config import TwinUserError
    from twin.interrupts import RunInterrupted, stop_signals
    from twin.trace.errors import RunWriteError

    with stop_signals(exiting=True):
        path: Path | None = None
        try:
            from twin.config import load_config
            from twin.model.world import check_policies
            from twin.simulation import default_run_dir
            from twin.summary_tables import print_summary
            from twin.trace.reader import open_run
            from twin.trace.summary import summarize

            overrides = _overrides(horizon, seed, sets)
            config = load_config(
                scenario, whatifs, overrides, [check_policies], _limits(large_input)
            )
            path = out if out is not None else default_run_dir(config)
            provenance = {
                "source": scenario,
                "whatifs": list(whatifs),
                "overrides": overrides,
                "command": shlex.join(["twin", *sys.argv[1:]]),
            }
            written = _simulate(config, path, overwrite, quiet, provenance).path
            if not quiet:
                gc.collect()  # the model, let go, before the summary reads the trace
                print_summary(console, summarize(open_run(written)))
            console.print(f"run written to [bold]{escape(str(written))}[/]")
        except KeyboardInterrupt as stop:
            name = stop.signal_name if isinstance(stop, RunInterrupted) else "SIGINT"
            errors.print(
                f"interrupted by {name}: {escape(_run_state(path))}",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(stop.exit_code if isinstance(stop, RunInterrupted) else 130)
        except (TwinUserError, RunWriteError) as error:
            if path is None:
                raise  # a mistake in the config: nothing was written
            errors.print(
                f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
            )
            errors.print(escape(_run_state(path)), highlight=False, soft_wrap=True)
            sys.exit(2)


def _simulate(
    config: Any, path: Path, overwrite: bool, quiet: bool, provenance: dict[str, Any]
) -> Any:
    """``twin.simulate`` showing its progress on stderr (none if ``quiet``)."""
    from twin.simulation import simulate

    if quiet:
        return simulate(config, path, overwrite, provenance=provenance)
    from twin.cli_progress import run_progress

    with run_progress(config.name, config.horizon, errors) as advance:
        return simulate(config, path, overwrite, progress=advance, provenance=provenance)


def _run_state(path: Path | None) -> str:
    """What a stopped ``twin run`` left behind, in words."""
    from twin.trace.reader import RunError, open_run

    if path is None:
        return "the run had not started; nothing was written"
    try:
        run = open_run(path)
    except RunError:
        return f"nothing usable was written to {path}"
    if run.complete:
        return f"the run had finished: {path} is complete"
    if str(run.manifest.get("reason", "")).startswith("running"):
        return f"{path} was left unfinished; `twin repair {path}` finishes it"
    streams = [n for n, e in run.manifest.get("tables", {}).items() if str(e).find(".part") >= 0]
    if streams:
        return (
            f"{path} is marked incomplete; its tables are kept as streams: "
            f"`twin repair {path}` finishes them once the disk has room"
        )
    if not run.manifest.get("end_s"):
        return f"{path} is marked incomplete: the run stopped before it began"
    return f"{path} is marked incomplete; its tables hold every row up to the stop"


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@user_errors
def repair(run_dir: Path) -> None:
    """Finish RUN_DIR, a run killed outright (SIGKILL, a crash, a full disk).

    Its tables keep every row flushed before the kill (at most a couple of seconds are
    lost); the run is marked incomplete. A run still being written is refused.
    """
    from twin.trace.repair import repair_run

    result = repair_run(run_dir)
    if not result.repaired:
        console.print(
            f"nothing to repair: {escape(str(run_dir))} was closed by twin ({result.status}"
            + (f": {escape(result.reason)}" if result.reason else "")
            + ")"
        )
        return
    rows = ", ".join(f"{name} {count:,}" for name, count in result.rows.items())
    console.print(f"repaired {escape(str(run_dir))}: marked incomplete; rows: {rows}")


@main.command()
@click.argument("scenario")
@click.option("--set", "sets", multiple=True, metavar="PATH=VALUE", help="override a config value")
@click.option("--whatif", "whatifs", multiple=True, metavar="FILE", help="overlay a what-if file")
@LARGE_INPUT
@user_errors
def validate(
    scenario: str, sets: tuple[str, ...], whatifs: tuple[str, ...], large_input: bool
) -> None:
    """Check SCENARIO (a built-in name or a YAML file) and list every problem found.

    Besides the file itself, this builds the scenario's model without running it, so what
    only the model can tell (a service no pool can host, say) is caught here too.
    """
    from twin.config import load_config
    from twin.config.units import format_duration
    from twin.model.world import World, check_policies

    config = load_config(scenario, whatifs, sets, [check_policies], _limits(large_input))
    World(config)
    accelerators = sum(pool.count for site in config.sites for pool in site.pools)
    console.print(
        f"[green]ok[/]: {config.name}: {len(config.sites)} sites, {accelerators:,} accelerators, "
        f"{len(config.links)} links, horizon {format_duration(config.horizon)}"
    )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@user_errors
def summary(run_dir: Path, as_json: bool) -> None:
    """Summarise a run directory written by `twin run`."""
    from dataclasses import asdict

    from twin.analysis import json_safe, measure_summary
    from twin.summary_tables import print_summary
    from twin.trace.reader import open_run
    from twin.trace.summary import summarize

    result = summarize(open_run(run_dir))
    if as_json:
        data = {**asdict(result), "metrics": measure_summary(result)}
        click.echo(json.dumps(json_safe(data), indent=2, default=str))
    else:
        print_summary(console, result)


@main.command()
@click.argument("run_dir", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print name → value as JSON")
@user_errors
def metrics(run_dir: Path | None, as_json: bool) -> None:
    """List the run metrics (name, unit, better), or with RUN_DIR their values in that run.

    Sweeps, `twin compare`, `twin summary --json` and the dashboard use these names; narrow
    one with a selector, e.g. jobs.wait_p95_s[tenant=startup] or co2_t[site=lumi].
    """
    from twin.analysis import METRICS, json_safe, measure
    from twin.summary_tables import print_metrics

    values = measure(run_dir) if run_dir is not None else None
    if not as_json:
        print_metrics(console, values)
    elif values is not None:
        click.echo(json.dumps(json_safe(values), indent=2))
    else:
        rows = {f: {k: v for k, v in vars(m).items() if k != "compute"} for f, m in METRICS.items()}
        click.echo(json.dumps(rows, indent=2))


@main.command()
def scenarios() -> None:
    """List the built-in scenarios and what-if overlays."""
    from rich.table import Table

    from twin.config import builtin_scenarios, builtin_whatifs
    from twin.config.loader import read_yaml, whatif_description

    table = Table("scenario", "description", title="built-in scenarios")
    for name, path in builtin_scenarios().items():
        table.add_row(name, str(read_yaml(path).get("description", "")))
    console.print(table)
    whatifs = Table("what-if", "description", title="built-in what-ifs (use with --whatif NAME)")
    for name, path in builtin_whatifs().items():
        whatifs.add_row(name, escape(whatif_description(path)))
    console.print(whatifs)


@main.command()
@click.option("--out", "-o", type=click.Path(path_type=Path), help="write to a file")
@click.option("--whatif", is_flag=True, help="the schema of what-if files (partial scenarios)")
def schema(out: Path | None, whatif: bool) -> None:
    """Print the JSON Schema of scenario files (for editors that validate YAML)."""
    from twin.config import json_schema

    text = json.dumps(json_schema(whatif=whatif), indent=2)
    if out is None:
        click.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"schema written to {out}")


@main.command("compile")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="processes at a time (default: one per part, at most one per core)",
)
@user_errors
def compile_command(jobs: int | None) -> None:
    """Compile the numba kernels now, so that no run waits for them.

    A run compiles each kernel the first time one needs it (about half a minute in all) and
    caches it; this does it ahead, in parallel: once after installing or upgrading twin.
    """
    from twin.kernel_cache import compile_kernels

    errors.print(
        "compiling the kernels (about half a minute if none is cached yet)", highlight=False
    )
    report = compile_kernels(jobs)
    console.print(
        f"kernels: {report.compiled} compiled, {report.loaded} loaded from the cache, in "
        f"{report.wall_s:.1f} s ({report.processes} processes); cached in "
        + escape(", ".join(sorted(report.caches)) or "no folder (NUMBA_DISABLE_JIT?)"),
        highlight=False,
        soft_wrap=True,
    )


@main.command("dash")
@click.argument("runs_dir", default="runs", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="address to serve on")
@click.option("--port", default=8050, show_default=True, type=int, help="port to serve on")
@click.option("--debug", is_flag=True, help="Dash debug mode: error pop-ups, reload on edits")
@user_errors
def dash_command(runs_dir: Path, host: str, port: int, debug: bool) -> None:
    """Replay, explore and compare the runs under RUNS_DIR in a web dashboard (default: runs)."""
    from twin.dashboards import create_app

    app = create_app(runs_dir)
    console.print(f"dashboard of [bold]{runs_dir}[/] on http://{host}:{port}/ (Ctrl-C stops it)")
    app.run(host=host, port=port, debug=debug, dev_tools_disable_version_check=True)


# Commands kept in modules of their own (they import twin.cli_common, not this module).
from twin.cli_compare import compare as _compare  # noqa: E402
from twin.cli_fit import fit_iteration as _fit_iteration  # noqa: E402
from twin.cli_import import import_trace as _import_trace  # noqa: E402
from twin.cli_init import init as _init  # noqa: E402
from twin.cli_size import size as _size  # noqa: E402
from twin.cli_sweep import sweep as _sweep  # noqa: E402

for _command in (_sweep, _compare, _size, _import_trace, _fit_iteration, _init):
    main.add_command(_command)
