"""The kernels' decorator: numba's ``njit``, applied when a kernel is first called.

Importing numba costs about 0.3 s and a run that calls no kernel (``twin validate``, a
scenario without links or inference) does not need it. So ``@njit(...)`` here only records
the function: the first call of any kernel imports numba (once :mod:`twin.kernels._cache` has
chosen where the compiled code is cached), makes every recorded kernel a numba dispatcher
with its options, and puts the dispatchers in place of the placeholders in every kernel
module, so that compiled code calling another kernel sees a dispatcher, and later calls go
straight to numba. A kernel module imported after that gets dispatchers at once.
``prange`` stands for ``numba.prange`` the same way.
"""

from __future__ import annotations

import functools
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

_lock = threading.RLock()
_pending: list[LazyKernel] = []
_dispatchers: list[Any] = []
_loaded = False


class LazyKernel:
    """A kernel not handed to numba yet: calls (and numba's attributes, e.g. ``stats``)
    load numba and go to the dispatcher; ``py_func`` is the plain Python function."""

    def __init__(self, py_func: Callable[..., Any], options: dict[str, Any]) -> None:
        functools.update_wrapper(self, py_func)
        self.py_func = py_func
        self.options = options
        self.compiled: Any = None

    @property
    def dispatcher(self) -> Any:
        """The numba dispatcher of this kernel (loads numba and every kernel's dispatcher)."""
        if self.compiled is None:
            load_numba()
        return self.compiled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.dispatcher(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dispatcher, name)

    def __repr__(self) -> str:
        return f"<kernel {self.__qualname__} (numba not loaded yet)>"


class _Prange:
    """``numba.prange`` until numba is loaded (then the real one takes its place): ``range``
    when called from Python, e.g. by a kernel's ``py_func``."""

    def __call__(self, *args: int) -> range:
        return range(*args)

    def __repr__(self) -> str:
        return "<prange (numba not loaded yet)>"


prange: Any = _Prange()
"""``numba.prange`` for kernels with ``parallel=True``."""


def njit(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """``numba.njit`` (same options), deferred to the first call of any kernel."""

    def decorate(py_func: Callable[..., Any]) -> Any:
        with _lock:
            if _loaded:
                dispatcher = _dispatcher(py_func, options)
                _dispatchers.append(dispatcher)
                return dispatcher
            kernel = LazyKernel(py_func, options)
            _pending.append(kernel)
            return kernel

    return decorate if function is None else decorate(function)


def load_numba() -> None:
    """Import numba and make every kernel recorded so far a dispatcher (once)."""
    global _loaded
    with _lock:
        if _loaded:
            return
        from twin.kernels import _cache

        chosen = _cache.configure()
        already = "numba" in sys.modules
        import numba.core.config

        if chosen is not None and already:  # numba read its environment before
            numba.core.config.reload_config()
        dispatchers = {
            id(kernel): _dispatcher(kernel.py_func, kernel.options) for kernel in _pending
        }
        real = {**dispatchers, id(prange): numba.prange}
        for name, module in list(sys.modules.items()):
            if name == "twin.kernels" or name.startswith("twin.kernels."):
                for attribute, value in list(vars(module).items()):
                    if isinstance(value, (LazyKernel, _Prange)):
                        setattr(module, attribute, real[id(value)])
        for kernel in _pending:
            kernel.compiled = dispatchers[id(kernel)]
        _dispatchers.extend(dispatchers.values())
        _pending.clear()
        _loaded = True


def loaded_kernels() -> list[Any]:
    """The dispatcher of every kernel made so far (none before numba is loaded); their
    ``stats`` say which signatures were compiled and which loaded from the cache."""
    with _lock:
        return list(_dispatchers)


def _dispatcher(py_func: Callable[..., Any], options: dict[str, Any]) -> Any:
    """``numba.njit(**options)(py_func)``; without the cache if no folder can hold it."""
    import numba

    try:
        return numba.njit(**options)(py_func)
    except RuntimeError as error:  # numba: "cannot cache function ...: no locator available"
        if not options.get("cache") or "no locator available" not in str(error):
            raise
    warnings.warn(
        "twin: no folder can hold the compiled kernels (not the package's, not "
        "NUMBA_CACHE_DIR, not the user's cache folder), so they are compiled in every run; "
        "set NUMBA_CACHE_DIR to a folder you can write",
        RuntimeWarning,
        stacklevel=1,
    )
    return numba.njit(**{**options, "cache": False})(py_func)
