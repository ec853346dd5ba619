"""Run a scenario into a run directory: the library entry point behind ``twin run``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from twin.config import Scenario, TwinUserError, scenario_to_yaml
from twin.model.recorder import TraceRecorder
from twin.model.world import World
from twin.trace.reader import Run, open_run
from twin.trace.writer import MANIFEST, RunWriter
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


def prepare_run_dir(path: Path, overwrite: bool) -> None:
    """Refuse to mix a new run into an existing directory unless asked to replace it."""
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise TwinUserError(
                f"{path} already exists and is not empty; choose another --out or pass --overwrite"
            )
        if not (path / MANIFEST).exists():
            raise TwinUserError(f"{path} is not a run directory; refusing to overwrite it")
        shutil.rmtree(path)


def simulate(
    scenario: Scenario,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: Callable[[float], None] | None = None,
) -> RunResult:
    """Simulate ``scenario`` and write its run directory (default ``runs/<name>-<time>``).

    On an exception or Ctrl-C the tables written so far are kept and the manifest says
    ``incomplete``, with the reason; the exception is then re-raised.
    """
    path = Path(out) if out is not None else default_run_dir(scenario)
    prepare_run_dir(path, overwrite)
    manifest = {
        "twin_version": __version__,
        "scenario": scenario.name,
        "config_hash": config_hash(scenario),
        "seed": scenario.seed,
        "start": scenario.start.isoformat(),
        "start_s": 0.0,
        "horizon_s": scenario.horizon,
    }
    tables = ("events", "jobs", "sites") + (("transfers", "links") if scenario.links else ())
    inference = scenario.workloads.inference
    if inference is not None and inference.enabled:
        tables += ("inference", "inference_regions")
    writer = RunWriter(path, manifest, scenario_to_yaml(scenario), tables)
    world = World(scenario, TraceRecorder(writer), keep_jobs=False)
    try:
        world.run(progress=progress)
        world.finish()
    except BaseException as error:
        writer.close(
            "incomplete",
            end_s=world.env.now,
            reason=f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
        )
        raise
    totals = {"jobs_submitted": world.submitted}
    if world.network is not None:
        totals["bytes_requested"] = world.network.bytes_requested
        totals["bytes_delivered"] = world.network.bytes_delivered
        totals["rate_solves"] = world.network.solves
    if world.inference is not None:
        totals["inference"] = {m.service.id: dict(m.totals) for m in world.inference.services}
    writer.close("complete", end_s=world.env.now, **totals)
    return RunResult(path, world)
