"""Scheduling cases: twin's schedulers replaying SWF traces against AccaSim, an independent
scheduler simulator (:mod:`twin.validation.peers.accasim_peer`), on the same machine.

Each trace runs through a whole twin scenario: one site of N accelerators of speed 1 (one per
SWF node), a power cap that never binds, no network, the trace replayed there with requested
time = run time, and a horizon every job ends within. Per trace and pairing, the mean wait
and the mean bounded slowdown max(1, (wait + run) / max(run, 10 s)) of twin and AccaSim:

- FCFS against AccaSim's ``FirstInFirstOut``: strict FCFS is deterministic, so exact;
- EASY (1 %) against AccaSim's ``EASYBackfilling`` with its reservation honoured
  (:data:`EASY_NOTE`: 1.1.3's class holds none, so as published it is no classic-EASY
  peer); the schedules differ only where twin decides per event and AccaSim once per
  instant;
- twin's ``greedy`` against ``EASYBackfilling`` as published: what that class does, so
  exact.
"""

from __future__ import annotations

import gzip
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.config import validate_scenario
from twin.config.data_files import data_file
from twin.simulation import simulate
from twin.validation.case import Case, not_run
from twin.validation.peers import accasim_peer
from twin.validation.peers.accasim_peer import PeerRun, PeerUnavailable, Policy

GROUP = "scheduling"
BOUND_S = 10.0
"""Run time below which bounded slowdown counts a job as this long (Feitelson's 10 s)."""
SOURCE = "AccaSim (Galleguillos et al., 2018), PyPI accasim"
EASY_NOTE = (
    "AccaSim 1.1.3's EASYBackfilling as published is not classic EASY: it computes the head's "
    "reservation but allocates backfill candidates with no reserved nodes (reserved_nodes=[]),"
    " so a job that fits starts even if it delays the head (twin's greedy does that, below); "
    "and its FirstFit, given reserved nodes, skips every node for a job overlapping the "
    "reservation (its node test is commented out). The peer here is that class with its "
    "reservation honoured: a job running past the reservation may use only the nodes the head "
    "will not need then (classic EASY's extra nodes, counted afresh at each pass), AccaSim's "
    "own code otherwise (twin.validation.peers.accasim_peer). The schedules then differ only "
    "where twin decides per event and AccaSim once per instant."
)
GREEDY_NOTE = (
    "twin's greedy: every queued job that fits starts, in submission order, one pass per "
    "instant; the same schedule as AccaSim's EASYBackfilling as published, job for job."
)
FCFS_NOTE = "Strict FCFS is deterministic: the same start for every job, so equal means."


@dataclass(frozen=True)
class Trace:
    """A packaged SWF trace and the machine it ran on."""

    label: str
    file: str
    """Name in ``configs/data`` (``builtin:NAME``)."""
    nodes: int


@dataclass(frozen=True)
class Pairing:
    """A twin scheduler and the AccaSim policy it is held against."""

    label: str
    scheduler: str
    """twin's ``policies.scheduler``."""
    peer: Policy
    tolerance: float
    note: str
    unavailable: str = ""
    """Why the peer's figure is no reference for this pairing (the cases are then not run,
    their figures shown for information)."""


TRACES = (
    Trace("Lublin-1", "lublin_256.swf.gz", 256),
    Trace("Lublin-2", "lublin_256_new2.swf.gz", 256),
    Trace("NASA iPSC", "nasa_ipsc_1993.swf.gz", 128),
)
PAIRINGS = (
    Pairing("FCFS", "fcfs", "fcfs", 0.0, FCFS_NOTE),
    Pairing("EASY", "easy_backfill", "easy_reserving", 0.01, EASY_NOTE),
    Pairing("greedy", "greedy", "easy", 0.0, GREEDY_NOTE),
)


@dataclass(frozen=True)
class Schedule:
    """When each job (by SWF job number) waited and ran, and how long the simulation took."""

    wait_s: dict[int, float]
    run_s: dict[int, float]
    elapsed_s: float

    def mean_wait_s(self) -> float:
        return statistics.fmean(self.wait_s.values())

    def mean_bounded_slowdown(self) -> float:
        return statistics.fmean(
            bounded_slowdown(self.wait_s[job], run) for job, run in self.run_s.items()
        )


def bounded_slowdown(wait_s: float, run_s: float) -> float:
    """max(1, (wait + run) / max(run, 10 s))."""
    return max(1.0, (wait_s + run_s) / max(run_s, BOUND_S))


@dataclass(frozen=True)
class SwfHead:
    """The first jobs of an SWF trace, copied to a file of their own."""

    path: Path
    jobs: int
    span_s: float
    """Last submission − first submission."""
    run_s: float
    """Sum of the run times."""


def copy_head(source: Path, target: Path, max_jobs: int | None = None) -> SwfHead:
    """Copy the records of ``source`` (plain or gzip), its first ``max_jobs`` if given."""
    opener: Any = gzip.open if source.read_bytes()[:2] == b"\x1f\x8b" else open
    jobs, first, last, work = 0, math.nan, math.nan, 0.0
    with opener(source, "rt") as lines, target.open("w") as out:
        for line in lines:
            fields = line.split()
            if not fields or fields[0].startswith(";"):
                continue
            if jobs == max_jobs:
                break
            jobs += 1
            last = float(fields[1])
            first = last if jobs == 1 else first
            work += max(0.0, float(fields[3]))
            out.write(line)
    return SwfHead(target, jobs, last - first, work)


def scenario_data(head: SwfHead, nodes: int, scheduler: str) -> dict[str, Any]:
    """The twin scenario that replays ``head`` on one machine of ``nodes`` accelerators.

    The horizon is the span of submissions plus every run time end to end (and a second):
    the last job ends before it, whatever the policy, as some job runs whenever one waits
    after the last submission."""
    horizon = head.span_s + head.run_s + 1.0
    return {
        "name": "swf_machine",
        "start": "2026-01-01",
        "horizon": horizon,
        "seed": 0,
        "accelerators": {"node": {"tdp_w": 500, "bf16_tflops": 1, "memory_gb": 1, "speed": 1.0}},
        "sites": [
            {
                "id": "machine",
                "lat": 0.0,
                "lon": 0.0,
                "pools": [{"accelerator": "node", "count": nodes}],
                "power_mw": 10.0,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 50,
            }
        ],
        "tenants": {"trace": {"share": 1}},
        "workloads": {
            "training": {
                "trace": {
                    "file": str(head.path),
                    "format": "swf",
                    "site": "machine",
                    "requested_time": "run_time",
                }
            }
        },
        "policies": {"scheduler": scheduler, "placement": "least_loaded"},
        "telemetry": {"interval": horizon},
    }


def twin_schedule(head: SwfHead, nodes: int, scheduler: str, scratch: Path) -> Schedule:
    """Run the scenario into ``scratch`` and read every job's wait and run from jobs.arrow."""
    scenario = validate_scenario(scenario_data(head, nodes, scheduler))
    began = time.perf_counter()
    run = simulate(scenario, out=scratch / f"run-{scheduler}").open()
    elapsed = time.perf_counter() - began
    jobs = run.table("jobs").to_pydict()
    wait, ran = {}, {}
    for number, state, submit, start, end in zip(
        jobs["trace_job"],
        jobs["state"],
        jobs["submit_s"],
        jobs["start_s"],
        jobs["end_s"],
        strict=True,
    ):
        if state != "completed":
            raise RuntimeError(f"trace job {number} ended {state}, not completed: no mean")
        wait[number] = start - submit
        ran[number] = end - start
    return Schedule(wait, ran, elapsed)


def peer_schedule(run: PeerRun) -> Schedule:
    return Schedule({job: run.wait_s(job) for job in run.start_s}, dict(run.run_s), run.elapsed_s)


def peers() -> dict[str, str]:
    """The peer simulator this group uses and its version (or why it is absent)."""
    try:
        return {"accasim": accasim_peer.version()}
    except PeerUnavailable as missing:
        return {"accasim": f"not available ({missing})"}


def cases(max_jobs: int | None = None, traces: Sequence[Trace] = TRACES) -> list[Case]:
    """Every scheduling case (the first ``max_jobs`` jobs of each trace if given); AccaSim
    missing → the cases are not run, with the reason."""
    found: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="twin-scheduling-") as scratch:
        for trace in traces:
            folder = Path(scratch) / trace.file.split(".")[0]
            folder.mkdir()
            head = copy_head(data_file(trace.file), folder / "trace.swf", max_jobs)
            found += trace_cases(trace, head, folder)
    return found


def trace_cases(trace: Trace, head: SwfHead, scratch: Path) -> list[Case]:
    """The cases of one trace: each pairing's mean wait and mean bounded slowdown."""
    peers: dict[Policy, PeerRun] = {}
    found: list[Case] = []
    for pairing in PAIRINGS:
        title = f"{trace.label} ({head.jobs} jobs, {trace.nodes} nodes) {pairing.label}"
        try:
            if pairing.peer not in peers:
                peers[pairing.peer] = accasim_peer.run(head.path, trace.nodes, pairing.peer)
        except PeerUnavailable as missing:
            found += [
                not_run(GROUP, f"{title}: {figure}", "AccaSim", SOURCE, str(missing))
                for figure in ("mean wait (s)", "mean bounded slowdown")
            ]
            continue
        peer = peers[pairing.peer]
        theirs = peer_schedule(peer)
        ours = twin_schedule(head, trace.nodes, pairing.scheduler, scratch)
        reference = f"AccaSim {peer.version}, {accasim_peer.DISPATCHERS[pairing.peer]}"
        if pairing.peer == "easy_reserving":
            reference += " with its reservation honoured"
        notes = (pairing.note, peer.call)  # no wall times: the report is a function of the code
        for figure, twin_value, expected in (
            ("mean wait (s)", ours.mean_wait_s(), theirs.mean_wait_s()),
            ("mean bounded slowdown", ours.mean_bounded_slowdown(), theirs.mean_bounded_slowdown()),
        ):
            found.append(
                Case(
                    GROUP,
                    f"{title}: {figure}",
                    reference,
                    SOURCE,
                    twin_value,
                    expected,
                    pairing.tolerance,
                    reason=pairing.unavailable,
                    notes=notes,
                )
            )
    return found
