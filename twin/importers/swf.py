"""Standard Workload Format (Parallel Workloads Archive; Feitelson et al.): one job per line,
18 whitespace-separated fields, -1 = unknown, ``;`` lines are header comments.

Fields used (1-based): 1 job number, 2 submit time (s), 4 run time (s), 5 allocated
processors, 8 requested processors, 9 requested time (s), 11 status, 12 user, 13 group,
15 queue. The mappings, as :class:`JobOptions` sets them:

- processors: allocated (field 5), or requested (field 8) where allocated is unknown;
  accelerators = ceil(processors / ``per_accelerator``);
- requested time: field 9 with ``requested_time: trace``; where it is -1, or always with
  ``requested_time: run_time``, the run time × ``requested_factor`` (1.0: perfect estimates);
  a requested time shorter than the run time is raised to the run time (twin's jobs never
  run past their walltime);
- status: 1 completed, 0 failed, 5 cancelled, anything else (or -1) unknown;
- owner: field 12 (user), 13 (group) or 15 (queue) with ``user_field``; -1 → no owner;
- a job whose run time is unknown (-1) or whose processors are both unknown has no demand
  to replay: refused, with its line (a cleaned archive log has none).
"""

from __future__ import annotations

import math
from pathlib import Path

from twin.importers.common import Imported, LineErrors, number, numbered_lines, read_text
from twin.importers.jobs import JobOptions, JobRows

FIELDS = 18
STATUS = {1: "completed", 0: "failed", 5: "cancelled"}
OWNER_FIELD = {"user": 11, "group": 12, "queue": 14}
"""0-based field of each owner choice."""


def read(path: Path, options: JobOptions | None = None) -> Imported:
    """The jobs of an SWF file, in its order (which is submission order in the archive)."""
    options = options or JobOptions()
    errors = LineErrors(path)
    rows = JobRows()
    records = 0
    unknown_requested = 0
    owner_at = OWNER_FIELD[options.user_field]
    for line_number, line in numbered_lines(read_text(path)):
        text = line.strip()
        if not text or text.startswith(";"):
            continue
        records += 1
        fields = text.split()
        if len(fields) != FIELDS:
            errors.add(line_number, f"expected {FIELDS} fields, found {len(fields)}")
            continue
        try:
            values = [number(field, f"field {i + 1}") for i, field in enumerate(fields)]
            job = _job(values, line_number, options, owner_at)
        except ValueError as error:
            errors.add(line_number, str(error))
            continue
        unknown_requested += values[8] < 0
        rows.add(*job)
    errors.raise_any()
    notes = [f"accelerators = ceil(processors / {options.per_accelerator:g})"]
    if options.requested_time == "run_time":
        notes.append(f"requested time = run time × {options.requested_factor:g} (every job)")
    elif unknown_requested:
        notes.append(
            f"requested time -1 → run time × {options.requested_factor:g} "
            f"({unknown_requested} jobs)"
        )
    return Imported(rows.table(), "jobs", records, notes=notes)


def _job(
    values: list[float], line: int, options: JobOptions, owner_at: int
) -> tuple[int, float, int, float, float, str | None, str, int]:
    """One SWF record as (job, submit, accelerators, run, requested, owner, status, line)."""
    job, submit, run = int(values[0]), values[1], values[3]
    if submit < 0:
        raise ValueError(f"field 2 (submit time): negative ({submit:g})")
    if run < 0:
        raise ValueError("field 4 (run time): unknown (-1); a job needs a run time to replay")
    processors = values[4] if values[4] > 0 else values[7]
    if processors <= 0:
        raise ValueError("fields 5 and 8 (processors): both unknown or zero")
    accelerators = max(1, math.ceil(processors / options.per_accelerator - 1e-9))
    requested = options.requested(run, values[8])
    owner_value = values[owner_at]
    owner = None if owner_value < 0 else str(int(owner_value))
    status = STATUS.get(int(values[10]), "unknown")
    return job, submit, accelerators, run, requested, owner, status, line
