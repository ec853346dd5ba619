"""The ``twin`` command's entry point: the CLI, with a Ctrl-C during start-up (while the CLI
and its libraries are still being imported) an exit like any other, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from twin.cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("interrupted while starting\n")
        raise SystemExit(130) from None
    cli()
