"""The Alibaba 2023 GPU cluster trace (clusterdata ``cluster-trace-gpu-v2023``, the openb pod
list): one pod per line with num_gpu, gpu_milli, qos, pod_phase and creation, scheduled and
deletion times (s from the trace's zero).

The mappings:

- submit = creation time; run time = deletion − scheduled time (the time it held its GPUs);
- accelerators = ceil(num_gpu / ``per_accelerator``); a fractional GPU (gpu_milli < 1000, GPU
  sharing) takes a whole accelerator: twin does not share one;
- owner = qos (LS, BE, Burstable, Guaranteed), for the tenant mapping;
- gpu_spec (the GPU models a pod may use, separated by |; empty: any) → the accelerator
  types it may run on (names of the scenario's accelerator catalogue);
- status: Succeeded → completed, Failed → failed, Running → unknown (still running when the
  trace ends: its run time is cut there);
- left out, and counted: pods that never got scheduled (Pending: no run time) and CPU-only
  pods (num_gpu 0: nothing for an AI factory's accelerators to do);
- no requested time in the trace: the run time × ``requested_factor``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from twin.importers.common import Imported, LineErrors, number
from twin.importers.csv_rows import CsvRecords
from twin.importers.jobs import JobOptions, JobRows

COLUMNS = ("name", "num_gpu", "qos", "pod_phase", "creation_time", "deletion_time")
OPTIONAL = ("scheduled_time", "gpu_milli", "gpu_spec")
STATUS = {"Succeeded": "completed", "Failed": "failed", "Running": "unknown"}
PENDING, CPU_ONLY = "never scheduled (Pending)", "CPU-only (num_gpu 0)"


def read(path: Path, options: JobOptions | None = None) -> Imported:
    options = options or JobOptions()
    errors = LineErrors(path)
    rows = JobRows()
    skipped = {PENDING: 0, CPU_ONLY: 0}
    records = CsvRecords(path, COLUMNS, OPTIONAL, errors)
    fractional = 0
    for line, record in records:
        try:
            pod = _pod(record, line, records.count)
        except ValueError as error:
            errors.add(line, str(error))
            continue
        job, submit, scheduled, deletion, gpus, milli, qos, phase = pod
        if scheduled is None:
            skipped[PENDING] += 1
            continue
        if gpus == 0:
            skipped[CPU_ONLY] += 1
            continue
        fractional += milli < 1000
        run = deletion - scheduled
        accelerators = max(1, math.ceil(gpus / options.per_accelerator - 1e-9))
        requested = options.requested(run, -1.0)
        types = record.get("gpu_spec") or None
        rows.add(job, submit, accelerators, run, requested, qos, STATUS[phase], line, None, types)
    errors.raise_any()
    notes = [
        f"accelerators = ceil(num_gpu / {options.per_accelerator:g}); {fractional} pods with a "
        "fractional GPU take a whole accelerator",
        f"requested time = run time × {options.requested_factor:g} (the trace has none)",
    ]
    return Imported(
        rows.table(), "jobs", records.count, {k: v for k, v in skipped.items() if v}, notes
    )


def _pod(
    record: dict[str, str], line: int, row: int
) -> tuple[int, float, float | None, float, int, float, str, str]:
    phase = record["pod_phase"]
    if phase not in (*STATUS, "Pending"):
        raise ValueError(
            f"pod_phase: expected Succeeded, Failed, Running or Pending, got {phase!r}"
        )
    submit = number(record["creation_time"], "creation_time")
    deletion = number(record["deletion_time"], "deletion_time")
    text = record.get("scheduled_time", "")
    scheduled = None if not text or phase == "Pending" else number(text, "scheduled_time")
    gpus = int(number(record["num_gpu"], "num_gpu", integer=True))
    milli_text = record.get("gpu_milli", "")
    milli = number(milli_text, "gpu_milli") if milli_text else 1000.0
    for name, value in (("creation_time", submit), ("deletion_time", deletion), ("num_gpu", gpus)):
        if value < 0:
            raise ValueError(f"{name}: negative ({value:g})")
    if scheduled is not None and not submit <= scheduled <= deletion:
        raise ValueError(
            f"times out of order: creation {submit:g}, scheduled {scheduled:g}, deletion "
            f"{deletion:g} (expected creation ≤ scheduled ≤ deletion)"
        )
    digits = re.search(r"(\d+)$", record["name"])
    job = int(digits.group(1)) if digits else row
    return job, submit, scheduled, deletion, gpus, milli, record["qos"] or None, phase
