"""SimGrid as an independent max-min peer: runs :mod:`twin.validation.simgrid_maxmin` in a
child interpreter and reads its rates back.

The child is this interpreter, or the one named by ``TWIN_SIMGRID_PYTHON`` (SimGrid's Python
bindings build from their PyPI sdist in a scratch venv; twin need not be installed there).
A child process also keeps SimGrid's one-engine-per-process rule and any crash of it away
from the report. Where no interpreter has ``simgrid``, the case is reported as not run.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

SCRIPT = Path(__file__).with_name("simgrid_maxmin.py")
PYTHON_VARIABLE = "TWIN_SIMGRID_PYTHON"


class PeerError(RuntimeError):
    """SimGrid ran but did not give rates (a crash, or output that is not the contract)."""


def python() -> str:
    """The interpreter that runs SimGrid."""
    return os.environ.get(PYTHON_VARIABLE) or sys.executable


@functools.cache
def _probe(interpreter: str) -> tuple[str, str]:
    """(version, "") when ``interpreter`` can import simgrid, else ("", why not)."""
    code = (
        f"import runpy; peer = runpy.run_path({str(SCRIPT)!r}); "
        "print(peer['load_simgrid']().simgrid_version)"
    )
    try:
        done = subprocess.run(
            [interpreter, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return "", f"cannot run {interpreter}: {error}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        hint = f" (set {PYTHON_VARIABLE} to an interpreter that has it)"
        return "", f"simgrid is not importable by {interpreter}: {last}{hint}"
    return done.stdout.strip().splitlines()[-1], ""


def version() -> str:
    """SimGrid's version, or "not installed"."""
    found, _ = _probe(python())
    return found or "not installed"


def unavailable() -> str:
    """Why SimGrid cannot run here ("" when it can)."""
    return _probe(python())[1]


def maxmin_gbps(
    routes: Sequence[Sequence[int]],
    capacity_gbps: Sequence[float],
    caps_gbps: Sequence[float] | None = None,
) -> list[float]:
    """SimGrid's CM02 max-min rate (Gbps) of each flow over the links of its route, each
    bounded by its cap if given."""
    problem = {
        "routes": [[int(link) for link in route] for route in routes],
        "capacity_gbps": [float(c) for c in capacity_gbps],
    }
    if caps_gbps is not None:
        problem["caps_gbps"] = [float(c) for c in caps_gbps]
    done = subprocess.run(
        [python(), str(SCRIPT)],
        input=json.dumps(problem),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise PeerError(f"SimGrid exited with {done.returncode}: {done.stderr.strip()[-400:]}")
    rates = json.loads(done.stdout)["gbps"]
    if len(rates) != len(routes):
        raise PeerError(f"SimGrid gave {len(rates)} rates for {len(routes)} flows")
    return [float(rate) for rate in rates]
