"""The ``twin`` command's entry point: the CLI, with a Ctrl-C at any moment (while the CLI
and its libraries are still being imported, while click parses the arguments, or inside a
command) an exit with status 130, not a traceback or click's "Aborted!" with status 1.

At the exit, the objects the libraries made are frozen (``gc.freeze``, after the other
``atexit`` handlers): the interpreter's last garbage collections over them took 0.1-0.2 s of
a ``twin run tiny`` (now ~0.03 s); every file the command wrote is closed by then.
"""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
from typing import Any


def main() -> None:
    atexit.register(gc.freeze)  # registered first, so run last
    try:
        _main()
    except SystemExit as done:
        if done.code == 130 and _after_ctrl_c(done):
            _exit_at_once(130)
        raise


def _main() -> None:
    # While the CLI's libraries are imported, a Ctrl-C only sets a flag: raised there, the
    # KeyboardInterrupt may land in an import lock's weakref callback, where Python prints it
    # as an "Exception ignored" traceback and carries on.
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        import click

        from twin.cli import main as cli
    except KeyboardInterrupt:
        _interrupted()
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        _interrupted()
    signal.signal(signal.SIGINT, _interrupt_outside_imports)
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:  # how click reports a Ctrl-C outside a command
        _interrupted()
    except click.ClickException as error:  # a usage error: click's message and status
        error.show()
        raise SystemExit(error.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)


RETRY_S = 0.02
"""How soon a Ctrl-C that came during an import is tried again."""


def _interrupt_outside_imports(signum: int, frame: Any) -> None:
    """Ctrl-C as a KeyboardInterrupt, but never inside the import machinery (where Python
    may only print it, from an import lock's weakref callback, and carry on): there it is
    tried again a moment later, once the import is done."""
    if _importing(frame):
        signal.signal(signal.SIGALRM, _interrupt_outside_imports)
        signal.setitimer(signal.ITIMER_REAL, RETRY_S)
        return
    raise KeyboardInterrupt


def _importing(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _interrupted() -> None:
    sys.stderr.write("interrupted\n")
    raise SystemExit(130)


def _after_ctrl_c(error: BaseException) -> bool:
    """Whether ``error`` was raised while a KeyboardInterrupt was being handled."""
    seen = error.__context__
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__context__
    return False


def _exit_at_once(code: int) -> None:
    """Exit with ``code`` now, after the ``atexit`` handlers and a flush. A plain exit may not
    give 130: when a Ctrl-C lands while a C extension runs Python code through ``PyRun_*``
    (as some do while being imported), CPython marks the KeyboardInterrupt unhandled there and
    kills the process with SIGINT at exit (status -2), although twin handled it. The command's
    files are closed by now (its ``finally`` blocks ran before the exit reached here)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)
