"""AccaSim (Galleguillos et al. 2018; PyPI ``accasim``), an independent HPC workload simulator
twin's schedulers are checked against: it replays an SWF file on N single-core nodes with
FIFO (strict FCFS) or EASY backfilling (as published, or with its reservation honoured) and
a first-fit allocator, and this module returns when it started each job.

AccaSim is a test-time dependency (the ``test`` extra), imported lazily: without it
:func:`run` raises :class:`PeerUnavailable`, and its cases are reported as not run.

What AccaSim 1.1.3 does, read from its source (``accasim/base``), and how it differs from twin:

- time is whole seconds (SWF integers); twin's is float seconds (the same here: integer
  submit and run times give integer starts in both);
- at each time point it first releases the jobs that end then, then calls the dispatcher
  once on the queue (old queue, then this instant's submissions in file order); twin
  handles the same instant's ends and submissions in event order, retrying the queue at
  each, which under strict FCFS starts the same jobs at the same instants;
- a job of run time 0 takes its nodes for the rest of the dispatcher call that starts it
  and frees them after it; jobs that did not fit then wait for the next time point (a later
  submission or end). In twin it ends at the same instant and the queue is retried at once
  (NASA iPSC has 173 such jobs; the schedules agree all the same: it hardly queues);
- a job asking for more nodes than the machine has is rejected (never run), as twin's
  broker rejects it (state ``rejected``);
- ``EASYBackfilling`` reserves the blocked head's earliest start (planning with requested
  times, here the run times) but calls its allocator with no reserved nodes
  (``reserved_nodes=[]``), so a later job that fits now always starts, even if it delays
  the head: backfilling with no reservation, twin's ``greedy`` (policy ``easy`` here). Its
  ``FirstFit``, given reserved nodes, would skip every node for a job overlapping the
  reservation (the node test is commented out). Policy ``easy_reserving`` is that class
  with its reservation honoured (:func:`_reserving_first_fit`): a job running past the
  reservation may use only the nodes the head will not need then, counted afresh at each
  pass: classic EASY (Mu'alem & Feitelson 2001), against which twin's EASY agrees within
  0.03 % on the Lublin means; the schedules differ where twin decides per event and
  AccaSim once per instant;
- a trace whose first submission is at 0 s resets its clock once at t = 0 (``if not
  self.current_time``), which only adds a time point: a dispatch when nothing changed
  starts nothing;
- it seeds Python's global ``random`` and adds a handler to the ``accasim`` logger per
  simulator: :func:`run` restores both.
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import gzip
import importlib
import importlib.metadata
import json
import logging
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Policy = Literal["fcfs", "easy", "easy_reserving"]
DISPATCHERS = {
    "fcfs": "FirstInFirstOut",
    "easy": "EASYBackfilling",
    "easy_reserving": "EASYBackfilling",
}
"""AccaSim's scheduler class for each policy (all with its ``FirstFit`` allocator);
``easy_reserving`` is ``EASYBackfilling`` whose allocator is handed the nodes the class
reserved for the blocked head (:func:`_reserving_first_fit`): classic EASY."""
SWF_FIELDS = 18


class PeerUnavailable(RuntimeError):  # noqa: N818 (the name says what the case reports)
    """The peer simulator cannot be used on this machine (not installed, or fails to import)."""


@dataclass(frozen=True)
class PeerRun:
    """What AccaSim did with a trace: per SWF job number, when it was submitted and started."""

    submit_s: dict[int, float]
    start_s: dict[int, float]
    run_s: dict[int, float]
    rejected: tuple[int, ...]
    """Jobs AccaSim refused (larger than the machine)."""
    version: str
    call: str
    """The exact call made, for the report."""
    elapsed_s: float
    """Wall-clock time of the simulation alone."""

    def wait_s(self, job: int) -> float:
        return self.start_s[job] - self.submit_s[job]


def version() -> str:
    """The installed AccaSim's version, once it imports; :class:`PeerUnavailable` if it is
    not installed or does not import."""
    try:
        installed = importlib.metadata.version("accasim")
    except importlib.metadata.PackageNotFoundError as error:
        raise PeerUnavailable("accasim is not installed (pip install -e '.[test]')") from error
    _import_accasim()
    return installed


def run(swf: Path, nodes: int, policy: Policy) -> PeerRun:
    """Replay ``swf`` (plain or gzip) on ``nodes`` single-core nodes with ``policy``,
    requested time = run time (field 9 filled with field 4 in a temporary copy). AccaSim's
    files stay in a temporary directory."""
    peer_version = version()
    modules = _import_accasim()  # already imported: the modules at once
    with tempfile.TemporaryDirectory(prefix="twin-accasim-") as scratch:
        folder = Path(scratch)
        workload = folder / "workload.swf"
        jobs = _write_workload(swf, workload)
        system = folder / "system.json"
        system.write_text(
            json.dumps({"groups": {"node": {"core": 1}}, "resources": {"node": nodes}})
        )
        dispatcher_name = DISPATCHERS[policy]
        ended: dict[int, Any] = {}
        collector = _collector(modules["additional_data"].AdditionalData, ended)
        with _restored_globals():
            first_fit = modules["allocator"].FirstFit
            allocator = (
                _reserving_first_fit(first_fit)() if policy == "easy_reserving" else first_fit()
            )
            dispatcher_class = getattr(modules["scheduler"], dispatcher_name)
            if policy == "easy_reserving":
                dispatcher_class = _classic_reservation(dispatcher_class)
            dispatcher = dispatcher_class(allocator)
            allocator.dispatcher = dispatcher
            simulator = modules["simulator"].Simulator(
                str(workload),
                str(system),
                dispatcher,
                additional_data=[collector],
                RESULTS_FOLDER_PATH=str(folder / "results"),
                scheduling_output=False,
                statistics_output=False,
                show_statistics=False,
                LOG_LEVEL="WARNING",
            )
            began = time.perf_counter()
            simulator.start_simulation()
            elapsed = time.perf_counter() - began
    allocator_name = "FirstFit" if policy != "easy_reserving" else "FirstFit + reserved nodes"
    call = (
        f"accasim {peer_version}: Simulator(workload=<{swf.name}, field 9 = field 4>, "
        f'sys_config={{"groups": {{"node": {{"core": 1}}}}, "resources": {{"node": {nodes}}}}}, '
        f"dispatcher={dispatcher_name}({allocator_name}())).start_simulation()"
    )
    return PeerRun(
        submit_s={job: float(event.queued_time) for job, event in ended.items()},
        start_s={job: float(event.start_time) for job, event in ended.items()},
        run_s={job: float(event.duration) for job, event in ended.items()},
        rejected=tuple(sorted(set(jobs) - set(ended))),
        version=peer_version,
        call=call,
        elapsed_s=elapsed,
    )


def _import_accasim() -> dict[str, Any]:
    """AccaSim's modules, imported with ``collections.Mapping`` (gone since Python 3.10,
    which ``accasim.utils.misc`` imports) present only while they import."""
    names = {
        "simulator": "accasim.base.simulator_class",
        "scheduler": "accasim.base.scheduler_class",
        "allocator": "accasim.base.allocator_class",
        "additional_data": "accasim.base.additional_data",
    }
    added = not hasattr(collections, "Mapping")
    if added:
        collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
    try:
        return {key: importlib.import_module(name) for key, name in names.items()}
    except Exception as error:  # any failure to import means: no peer here
        raise PeerUnavailable(f"accasim does not import: {error!r}") from error
    finally:
        if added:
            del collections.Mapping  # type: ignore[attr-defined]


def _reserving_first_fit(first_fit: type) -> type:
    """AccaSim's ``FirstFit`` that lets a job running past ``EASYBackfilling``'s reservation
    use only the nodes the blocked head will not need then: classic EASY's "extra" nodes
    (Mu'alem & Feitelson 2001), counted afresh at every pass as the jobs started since
    change them.

    AccaSim 1.1.3 computes the reservation's time but passes its allocator
    ``reserved_nodes=[]`` (such a job may take the head's nodes: no reservation), and its
    allocator, given reserved nodes, would skip every node for such a job (its node test is
    commented out: no backfilling past the reservation at all). Here, for such a job alone,
    the free nodes the head will need at the reservation (those beyond what the running and
    just-started jobs free by then) are hidden from AccaSim's own first-fit pass."""

    class ReservingFirstFit(first_fit):  # type: ignore[misc, valid-type]
        dispatcher: Any = None
        jobs: Any = None
        """The dispatcher's job dictionary of the current pass."""
        started: list[tuple[float, list[str]]] = []  # noqa: RUF012 (reset per pass)
        """(end, nodes) of the jobs this pass allocated."""

        def allocating_method(
            self,
            es: Any,
            cur_time: Any,
            skip: bool = False,
            reserved_time: Any = None,
            reserved_nodes: Any = None,
        ) -> Any:
            single = not isinstance(es, list | tuple) and not hasattr(es, "bisect")
            jobs = [es] if single else list(es)
            if reserved_time is None or self.dispatcher is None:
                decisions = super().allocating_method(jobs, cur_time, skip)
                for e, decision in zip(jobs, decisions, strict=False):
                    self._note(e, cur_time, decision)
            else:
                decisions = []
                for e in jobs:  # each start noted before the next job is tried
                    decisions.append(self._fill(e, cur_time, reserved_time))
                    self._note(e, cur_time, decisions[-1])
            return decisions[0] if single else decisions

        def _note(self, e: Any, cur_time: Any, decision: Any) -> None:
            if decision[2]:
                self.started.append((cur_time + e.expected_duration, list(decision[2])))

        def _fill(self, e: Any, cur_time: Any, reserved_time: Any) -> Any:
            if cur_time + e.expected_duration <= reserved_time:
                return super().allocating_method(e, cur_time, skip=True)
            keys = self.sorted_keys
            hidden = set(self._held_for_head(reserved_time))
            self.sorted_keys = [node for node in keys if node not in hidden]
            try:
                return super().allocating_method(e, cur_time, skip=True)
            finally:
                self.sorted_keys = keys
                self._adjust_resources()  # drop the nodes that filled up, in AccaSim's order

        def _held_for_head(self, reserved_time: Any) -> list[str]:
            """The free nodes the blocked head needs at ``reserved_time`` beyond those the
            running and just-started jobs free by then (the last free ones, first-fit
            order)."""
            free_now = list(self.sorted_keys)
            free = set(free_now)
            freeing: set[str] = set()
            for job, used in self.dispatcher.resource_manager.current_allocations.items():
                event = self.jobs[job]
                if event.start_time + event.expected_duration <= reserved_time:
                    freeing.update(node for node in used if node not in free)
            for end, nodes in self.started:
                if end <= reserved_time:
                    freeing.update(node for node in nodes if node not in free)
            head = self.jobs[self.dispatcher._blocked_job_id]
            from_free = max(0, head.requested_nodes - len(freeing))
            return free_now[len(free_now) - from_free :] if from_free else []

    return ReservingFirstFit


def _classic_reservation(easy: type) -> type:
    """AccaSim's ``EASYBackfilling`` that hands its allocator each pass's job dictionary
    (for the ends of the running jobs) and forgets the previous pass's starts."""

    class ClassicReservation(easy):  # type: ignore[misc, valid-type]
        def scheduling_method(self, cur_time: Any, queued_jobs: Any, es_dict: Any) -> Any:
            self.nonauto_allocator.jobs = es_dict
            self.nonauto_allocator.started = []
            return super().scheduling_method(cur_time, queued_jobs, es_dict)

    return ClassicReservation


def _write_workload(swf: Path, target: Path) -> list[int]:
    """Copy the SWF records (comments dropped) with field 9 = field 4; their job numbers."""
    opener = gzip.open if swf.read_bytes()[:2] == b"\x1f\x8b" else open
    jobs: list[int] = []
    with opener(swf, "rt") as source, target.open("w") as out:
        for line in source:
            fields = line.split()
            if not fields or fields[0].startswith(";"):
                continue
            if len(fields) != SWF_FIELDS:
                raise ValueError(f"{swf}: a record with {len(fields)} fields, not {SWF_FIELDS}")
            fields[8] = fields[3]
            jobs.append(int(fields[0]))
            out.write(" ".join(fields) + "\n")
    return jobs


def _collector(base: type, ended: dict[int, Any]) -> type:
    """An AccaSim ``AdditionalData`` hook class that keeps every completed job by its number
    (a class: AccaSim instantiates it once its event manager exists)."""

    class Collector(base):  # type: ignore[misc, valid-type]
        def exec_after_completion(self, removed_jobs: list[Any]) -> None:
            for event in removed_jobs:
                ended[int(event.id)] = event

        def exec_before_dispatching(self, job_dict: Any, queued_jobs: Any) -> None:
            pass

        def exec_after_dispatching(self, job_dict: Any, to_dispatch: Any, rejected: Any) -> None:
            pass

        def exec_before_submission(self, *args: Any, **kwargs: Any) -> None:
            pass

        def exec_after_submission(self, *args: Any, **kwargs: Any) -> None:
            pass

        def exec_before_completion(self, *args: Any, **kwargs: Any) -> None:
            pass

        def stop(self) -> None:
            pass

    return Collector


@contextlib.contextmanager
def _restored_globals() -> Iterator[None]:
    """Undo AccaSim's process-wide side effects: ``random.seed`` and its logger handlers."""
    state = random.getstate()
    logger = logging.getLogger("accasim")
    handlers = list(logger.handlers)
    level = logger.level
    try:
        yield
    finally:
        random.setstate(state)
        for handler in logger.handlers[len(handlers) :]:
            logger.removeHandler(handler)
        logger.setLevel(level)
