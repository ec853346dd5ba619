"""Run a scenario into a run directory: the library entry point behind ``twin run``.

However the run ends (it completes; an exception while the model is built, while it runs or
while it closes; Ctrl-C, SIGTERM or SIGHUP), the run directory is left readable and its
manifest says how: ``complete``, or ``incomplete`` with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.config import Scenario, TwinUserError, scenario_to_yaml
from twin.interrupts import RunInterrupted, Stop, stop_signals
from twin.model.recorder import TraceRecorder
from twin.model.world import World
from twin.trace.errors import RunDirectoryError, RunError
from twin.trace.reader import Run, open_run
from twin.trace.writer import RunWriter
from twin.version import __version__


@dataclass
class RunResult:
    """A finished simulation: where its trace is and the World it ran in."""

    path: Path
    world: World

    def open(self) -> Run:
        return open_run(self.path)


def config_hash(scenario: Scenario) -> str:
    """SHA-256 of the resolved config, canonical JSON: equal configs, equal hashes."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def default_run_dir(scenario: Scenario, root: Path = Path("runs")) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return root / f"{scenario.name}-{stamp}"


def simulate(
    scenario: Scenario,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[float], None] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> RunResult:
    """Simulate ``scenario`` and write its run directory (default ``runs/<name>-<time>``).

    ``provenance`` says how the scenario was made, for telling runs apart: ``source`` (the
    scenario named or its file), ``whatifs``, ``overrides`` and ``command`` (the command line)
    go into the manifest as given.

    ``overwrite`` replaces an existing run of twin (its files only). RunDirectoryError if the
    directory cannot be claimed or written. On an exception, Ctrl-C, SIGTERM or SIGHUP (a
    :class:`~twin.interrupts.RunInterrupted`, handled when called from the main thread) the
    tables written so far are kept, the manifest says ``incomplete`` with the reason, and
    the exception is re-raised.
    """
    path = Path(out) if out is not None else default_run_dir(scenario)
    with stop_signals() as stop:
        with stop.deferred():
            writer = RunWriter(
                path,
                {**_manifest(scenario), **_provenance(provenance)},
                scenario_to_yaml(scenario),
                _tables(scenario),
                overwrite=overwrite,
            )
        world: World | None = None
        running = False
        try:
            stop.check()  # a signal while the directory was claimed
            world = World(scenario, TraceRecorder(writer), keep_jobs=False)
            running = True
            with stop.deferred():
                world.run(progress=_flushing(writer, progress), check=stop.check)
                running = False
                world.finish()
        except BaseException as error:
            _close_stopped(writer, world, error, stop, running=running)
            raise
        with stop.deferred():
            writer.close("complete", end_s=world.env.now, **_totals(world))
        stop.check()  # a signal that came while the run was closing
    return RunResult(path, world)


def _manifest(scenario: Scenario) -> dict[str, Any]:
    return {
        "twin_version": __version__,
        "scenario": scenario.name,
        "config_hash": config_hash(scenario),
        "seed": scenario.seed,
        "start": scenario.start.isoformat(),
        "start_s": 0.0,
        "horizon_s": scenario.horizon,
    }


PROVENANCE = ("source", "whatifs", "overrides", "command")
"""What a manifest may record of how its scenario was made."""


def _provenance(provenance: Mapping[str, Any] | None) -> dict[str, Any]:
    given = provenance or {}
    unknown = sorted(set(given) - set(PROVENANCE))
    if unknown:
        raise ValueError(f"provenance keys {unknown}; expected some of {list(PROVENANCE)}")
    return {key: given[key] for key in PROVENANCE if key in given}


def _tables(scenario: Scenario) -> tuple[str, ...]:
    tables = ("events", "jobs", "sites") + (("transfers", "links") if scenario.links else ())
    inference = scenario.workloads.inference
    if inference is not None and inference.enabled:
        tables += ("inference", "inference_regions")
    if scenario.faults.any:
        tables += ("faults",)
    return tables


def _flushing(
    writer: RunWriter, progress: Callable[[float], None] | None
) -> Callable[[float], None]:
    """The progress callback of a run: flush what has waited long enough, then report."""

    def advance(now: float) -> None:
        writer.flush_due()
        if progress is not None:
            progress(now)

    return advance


def _totals(world: World) -> dict[str, Any]:
    totals: dict[str, Any] = {"jobs_submitted": world.submitted}
    meters = [factory.meter for factory in world.factories]
    totals["energy_mwh"] = sum(meter.energy_j for meter in meters) / 3.6e9
    totals["co2_t"] = sum(meter.co2_g for meter in meters) / 1e6
    totals["cost_eur"] = sum(meter.cost_eur for meter in meters)
    totals["tenants"] = {
        name: {"share": tenant.share, "weight": tenant.weight}
        for name, tenant in world.scenario.tenants.items()
    }
    if world.network is not None:
        totals["bytes_requested"] = world.network.bytes_requested
        totals["bytes_delivered"] = world.network.bytes_delivered
        totals["rate_solves"] = world.network.solves
    if world.inference is not None:
        totals["inference"] = {m.service.id: dict(m.totals) for m in world.inference.services}
        totals["slo"] = {
            m.service.id: m.service.slo.model_dump(exclude_none=True)
            for m in world.inference.services
        }
    if world.access is not None:
        totals["access"] = world.access.totals(world.online_s())
    return totals


def _close_stopped(
    writer: RunWriter, world: World | None, error: BaseException, stop: Stop, running: bool
) -> None:
    """Close the run as ``incomplete`` after ``error``; signals wait until it is closed.

    ``running``: the model was running (not being built, not finishing). An interruption
    stops it between events, so its books are closed then (jobs still queued or running get
    their rows). A failure of the close itself is raised instead of ``error``
    unless ``error`` already says the directory cannot be written.
    """
    with stop.deferred():
        if isinstance(error, RunInterrupted):
            stop.acknowledge()
        reason = _reason(error)
        extra: dict[str, Any] = {}
        if world is not None and running and isinstance(error, KeyboardInterrupt):
            try:
                world.finish()
                extra = _totals(world)
            except Exception as failure:  # the rows written so far still matter more
                reason += f" (closing the books failed: {_reason(failure)})"
        end_s = world.env.now if world is not None else 0.0
        try:
            writer.close("incomplete", end_s=end_s, reason=reason, **extra)
        except RunDirectoryError as failure:
            if not isinstance(error, RunDirectoryError):
                raise failure from error
            # error already says the directory cannot be written; raised by the caller


def _reason(error: BaseException) -> str:
    if isinstance(error, (RunInterrupted, TwinUserError, RunError)):
        return str(error)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
