"""What every ``twin`` command shares: the consoles, the handling of user mistakes (exit 2,
no traceback) and of Ctrl-C (exit 130), and the input-limit option. A module of its own, so
that the commands kept in other modules (``twin sweep``, ``twin size``, ``twin compare``)
import it and not the CLI group that registers them."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

F = TypeVar("F", bound=Callable[..., Any])
LOG_WIDTH = 120
"""Columns of tables written to a file or a pipe (a terminal uses its own width; COLUMNS
overrides both): wide enough for site names and the compare table in a log."""


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=LOG_WIDTH)
    return console


console = _console()
errors = _console(stderr=True)


def user_errors(command: F) -> F:
    """Turn user mistakes into exit code 2 with the message alone, and Ctrl-C into 130."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            errors.print("interrupted", highlight=False)
            sys.exit(130)
        except Exception as error:
            if not _is_user_error(error):
                raise
            errors.print(
                f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
            )
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _is_user_error(error: Exception) -> bool:
    """A user mistake (bad input, an unreadable run), as opposed to a bug in twin."""
    from twin.config import TwinUserError

    if isinstance(error, TwinUserError):
        return True
    from twin.analysis.metrics import MetricError
    from twin.trace.reader import RunError  # loads pyarrow: only once something failed

    return isinstance(error, (RunError, MetricError))


LARGE_INPUT = click.option(
    "--large-input",
    is_flag=True,
    help="raise the input limits (file size, nesting, list lengths, run size) 100-fold",
)


def _limits(large_input: bool) -> Any:
    from twin.config.yaml_input import DEFAULT_LIMITS, LARGE_LIMITS

    return LARGE_LIMITS if large_input else DEFAULT_LIMITS
