"""A plain CSV of jobs with named columns, for a user's own log.

Required columns: ``submit_s`` (s from the trace's zero), ``accelerators`` (whole, ≥ 1, after
any scaling: ``per_accelerator`` divides it too), ``duration_s`` (run time on a speed-1.0
accelerator, s). Optional: ``requested_s`` (walltime asked for; empty → run time ×
``requested_factor``), ``tenant`` (a tenant class of the scenario: taken as is), ``user`` (an
owner for the tenant mapping), ``job`` (an id; default the record number), ``status``
(completed, failed, cancelled or unknown; default unknown), ``accelerator_types`` (types it
may run on, separated by ``|``; empty: any). Other columns are ignored.
"""

from __future__ import annotations

import math
from pathlib import Path

from twin.importers.common import Imported, LineErrors, number
from twin.importers.csv_rows import CsvRecords
from twin.importers.jobs import JobOptions, JobRows

REQUIRED = ("submit_s", "accelerators", "duration_s")
OPTIONAL = ("requested_s", "tenant", "user", "job", "status", "accelerator_types")
STATUSES = ("completed", "failed", "cancelled", "unknown")


def read(path: Path, options: JobOptions | None = None) -> Imported:
    options = options or JobOptions()
    errors = LineErrors(path)
    rows = JobRows()
    records = CsvRecords(path, REQUIRED, OPTIONAL, errors)
    for line, record in records:
        try:
            rows.add(*_job(record, line, records.count, options))
        except ValueError as error:
            errors.add(line, str(error))
    errors.raise_any()
    return Imported(rows.table(), "jobs", records.count)


def _job(
    record: dict[str, str], line: int, row: int, options: JobOptions
) -> tuple[int, float, int, float, float, str | None, str, int, str | None, str | None]:
    submit = number(record["submit_s"], "submit_s")
    size = number(record["accelerators"], "accelerators", integer=True)
    run = number(record["duration_s"], "duration_s")
    for name, value in (("submit_s", submit), ("duration_s", run)):
        if value < 0:
            raise ValueError(f"{name}: negative ({value:g})")
    if size < 1:
        raise ValueError(f"accelerators: expected at least 1, got {size:g}")
    text = record.get("requested_s", "")
    requested = options.requested(run, number(text, "requested_s") if text else -1.0)
    status = record.get("status", "") or "unknown"
    if status not in STATUSES:
        raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    text = record.get("job", "")
    job = int(number(text, "job", integer=True)) if text else row
    accelerators = max(1, math.ceil(size / options.per_accelerator - 1e-9))
    user = record.get("user") or None
    tenant = record.get("tenant") or None
    types = record.get("accelerator_types") or None
    return job, submit, accelerators, run, requested, user, status, line, tenant, types
