"""Stopping a run cleanly on SIGINT, SIGTERM or SIGHUP (Ctrl-C, a batch system's time limit,
a closed terminal).

While :func:`stop_signals` is active (in the main thread; a run in another thread is left to
its caller), the first of these signals is turned into :class:`RunInterrupted`, raised either
at once (``immediate``: start-up, building the model) or at the next point the run checks
(:meth:`Stop.check`, between simulation events, so the model stops in a consistent state).
Later signals are only remembered: they cannot cut the close of the run short.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal. A KeyboardInterrupt, so code that handles Ctrl-C handles it."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by this signal: 128 + its number."""
        return 128 + self.signum


class Stop:
    """The signals a run has received, and when they may interrupt it."""

    def __init__(self) -> None:
        self.signum: int | None = None
        """The first signal received (later ones are ignored)."""
        self.immediate = True
        """Raise from the signal handler itself (else only record, for :meth:`check`)."""
        self.raised = False
        """Whether RunInterrupted was raised (it may yet have been swallowed on its way)."""
        self.acknowledged = False
        """Whether the run saw the RunInterrupted and is closing because of it."""

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if self.immediate:
            self._raise()

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        """Raise RunInterrupted if a signal came and the run has not acknowledged it yet.

        Raised again if raised before: an exception raised by the handler at an arbitrary
        point may be swallowed there (a ``__del__``, a weakref or gc callback report and drop
        it), and the signal must not be lost with it.
        """
        if self.signum is not None and not self.acknowledged:
            self._raise()

    def acknowledge(self) -> None:
        """The run is closing because of the signal: :meth:`check` raises no more."""
        self.acknowledged = True

    def _raise(self) -> None:
        self.raised = True
        self.immediate = False
        raise RunInterrupted(self.signum)  # type: ignore[arg-type]

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Within: signals are only recorded (for :meth:`check` or after the block)."""
        before, self.immediate = self.immediate, False
        try:
            yield
        finally:
            self.immediate = before and not self.raised


@contextmanager
def stop_signals(exiting: bool = False) -> Iterator[Stop]:
    """Handle SIGINT, SIGTERM and SIGHUP as :class:`Stop` requests within the block.

    Nested blocks share the outer one's :class:`Stop`. Outside the main thread signals
    cannot be handled: the block yields a Stop that no signal reaches. The handlers before
    the block are restored after it, unless ``exiting`` (the process ends after the block)
    and a signal came: then later ones are ignored, so they cannot change the exit code.
    """
    installed = signal.getsignal(signal.SIGINT)
    outer = getattr(installed, "__self__", None)
    if isinstance(outer, Stop):
        yield outer
        return
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.signal(signum, stop.handle) for signum in SIGNALS}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_IGN if exiting and stop.requested else handler)
