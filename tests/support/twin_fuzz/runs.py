"""Run accepted mutants for a short horizon, each in a forked process with a time limit.

A config that ``twin validate`` accepts must also run: to its horizon, or to a clean user
error (exit 2), never a traceback, and within the time limit (the work bounds of
``twin.config.budget`` are what make that possible).
"""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.config import ConfigError, TwinUserError, load_config
from twin.model.world import check_policies

from .mutations import dump, mutate


@dataclass
class RunVerdict:
    kind: str  # complete, user_error, traceback, hang
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.kind in ("complete", "user_error")


def accepted_mutant(
    rng: random.Random, base: dict[str, Any], folder: Path, overrides: list[str], tries: int = 30
) -> tuple[Path, list[str]] | None:
    """A mutant of ``base`` that validates (written to ``folder``), with its notes; or None."""
    for attempt in range(tries):
        mutant = mutate(rng, base, runnable=True)
        path = folder / f"runnable{attempt}.yaml"
        path.write_text(dump(mutant.data), encoding="utf-8")
        try:
            load_config(path, overrides=overrides, checks=[check_policies])
        except ConfigError:
            continue
        return path, mutant.notes
    return None


def _child(path: str, overrides: list[str], out: str, report: str) -> None:
    from twin.simulation import simulate

    try:
        simulate(load_config(path, overrides=overrides), out)
    except TwinUserError as error:
        Path(report).write_text(f"user error: {error}")
        raise SystemExit(2) from None
    except BaseException:
        Path(report).write_text(traceback.format_exc())
        raise SystemExit(1) from None
    raise SystemExit(0)


def run_with_limit(path: Path, overrides: list[str], out: Path, limit_s: float) -> RunVerdict:
    """Simulate the scenario at ``path`` in a forked process; judge how it ended."""
    report = out.with_suffix(".report")
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(str(path), overrides, str(out), str(report))
    )
    started = time.perf_counter()
    process.start()
    process.join(limit_s)
    seconds = time.perf_counter() - started
    if process.is_alive():
        process.kill()
        process.join()
        return RunVerdict("hang", seconds, f"still running after {limit_s:g} s")
    output = report.read_text() if report.exists() else ""
    kind = {0: "complete", 2: "user_error"}.get(process.exitcode, "traceback")
    return RunVerdict(kind, seconds, output or f"exit code {process.exitcode}")
