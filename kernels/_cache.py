"""Where numba keeps the compiled kernels (``cache=True``), chosen once before numba loads.

Numba's default is the ``__pycache__`` folder beside each kernel's source, which a user's
``pip install .`` into a venv (or an editable checkout) can write. A system-wide install
usually cannot: then the kernels go to the user's cache folder, ``$XDG_CACHE_HOME/twin/numba``
(``~/.cache/twin/numba``), given to numba as ``NUMBA_CACHE_DIR``. A ``NUMBA_CACHE_DIR`` the
user set is left as it is. If no folder can be written, the kernels are compiled in every
process instead (:mod:`twin.kernels._jit` falls back to no cache): slower, never an error.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, MutableMapping
from pathlib import Path

CACHE_ENV = "NUMBA_CACHE_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent


def user_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/twin/numba``; ``~/.cache/twin/numba`` if that is unset or relative
    (the XDG base-directory rule)."""
    base = environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path(environ.get("HOME") or "~") / ".cache"
    return root.expanduser() / "twin" / "numba"


def writable(directory: Path) -> bool:
    """Whether ``directory`` exists or can be made, and takes a file (numba's own test)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=directory).close()
    except OSError:
        return False
    return True


def chosen_cache_dir(package_dir: Path, environ: Mapping[str, str]) -> Path | None:
    """The folder to give numba, or None to leave numba's choice: the user's
    ``NUMBA_CACHE_DIR``, or ``package_dir/__pycache__`` when it can be written."""
    if environ.get(CACHE_ENV) or writable(package_dir / "__pycache__"):
        return None
    return user_cache_dir(environ)


def configure(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """Set ``NUMBA_CACHE_DIR`` to the user's cache folder when the package cannot hold the
    cache (call before numba compiles or loads a kernel); the folder set, or None."""
    chosen = chosen_cache_dir(PACKAGE_DIR, environ)
    if chosen is not None:
        environ[CACHE_ENV] = str(chosen)
    return chosen
