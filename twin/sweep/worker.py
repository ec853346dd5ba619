"""Set-up of each local Dask worker process (a Dask preload module).

Ctrl-C in a terminal sends SIGINT to every process of the foreground group: the sweep's
driver and its worker processes alike. The driver stops the sweep and closes the cluster;
the workers ignore the signal, so they are shut down by the driver rather than dying each
with its own traceback in the middle of a point.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    """Called by Dask in each new worker process (also one the nanny restarts)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
