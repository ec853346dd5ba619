"""``twin init NAME [--from SCENARIO]``: a starting scenario file to edit, a copy of a
built-in scenario (its comments and sources kept) under a new name."""

from __future__ import annotations

import re
from pathlib import Path

import click
from rich.markup import escape

from twin.cli_common import console, user_errors

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


@click.command("init")
@click.argument("name")
@click.option("--from", "source", default="europe", show_default=True, help="built-in scenario")
@click.option("--out", "-o", type=click.Path(path_type=Path), help="file to write (NAME.yaml)")
@click.option("--force", is_flag=True, help="replace the file if it exists")
@user_errors
def init(name: str, source: str, out: Path | None, force: bool) -> None:
    """Write NAME.yaml, a scenario to start from: a copy of a built-in scenario (default
    europe) with its comments, named NAME. Edit it, then `twin validate NAME.yaml`."""
    from twin.config import TwinUserError, builtin_scenarios

    if not NAME.match(name):
        raise TwinUserError(
            f"NAME: {name!r} is not a scenario name (letters, digits, '_', '-', '.')"
        )
    scenarios = builtin_scenarios()
    if source not in scenarios:
        raise TwinUserError(
            f"--from: no built-in scenario {source!r}; expected one of {', '.join(scenarios)}"
        )
    path = out if out is not None else Path(f"{name}.yaml")
    if path.exists() and not force:
        raise TwinUserError(f"{path} exists; choose another --out or pass --force")
    text = scenarios[source].read_text(encoding="utf-8")
    text, renamed = re.subn(r"(?m)^name:.*$", f"name: {name}", text, count=1)
    if not renamed:
        text = f"name: {name}\n" + text
    header = f"# Started from twin's built-in scenario {source!r} by `twin init`.\n"
    try:
        path.write_text(header + text, encoding="utf-8")
    except OSError as error:
        raise TwinUserError(f"cannot write {path}: {error.strerror or error}") from None
    console.print(
        f"wrote [bold]{escape(str(path))}[/] (from {escape(source)}); "
        f"check it with: twin validate {escape(str(path))}"
    )
