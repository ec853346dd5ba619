"""The Alibaba LoRA serving trace (clusterdata ``cluster-trace-v2026-GenAI/
lora_request_trace.csv``, packaged as ``builtin:alibaba_lora_requests.csv.gz``): image
generation requests of a LoRA-adapter serving cluster over 23 days.

Mapping onto :data:`twin.trace.schema.WORKLOAD_REQUESTS`:

* ``gmt_create`` (``2024-11-15 16:57:50``, read as UTC) → ``arrival_s``, counted from the
  earliest record of the file;
* ``exec_time_seconds`` → ``service_s``: the time a replica worked on it, for a ``single``
  service its service time on a speed-1.0 replica;
* ``prompt_length`` → ``prompt_tokens`` (empty → 0); ``output_tokens`` is 0 (images, not
  tokens), so the trace drives ``single`` services, not ``llm`` ones;
* ``predict_type`` → ``kind`` (TXT_2_IMG, IMG_2_IMG, INPAINTING).

``predict_status``: SUCCEED and FAILED records are kept (a failed request still held a
replica for its execution time); PENDING and PROCESSING records are skipped and counted
(``Imported.skipped``): they never ran, or were still running when the trace was cut, so
they carry no execution time. Any other status is refused with its line number, as are a
wrong field count, a timestamp that is not one and text in a number field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin.importers.common import Imported, LineErrors
from twin.importers.csv_rows import CsvRecords
from twin.importers.requests import RequestRows, non_negative, order_note, tokens, utc_seconds

REQUIRED = ("gmt_create", "predict_status", "exec_time_seconds", "prompt_length")
OPTIONAL = ("predict_type",)
KEPT = ("SUCCEED", "FAILED")
SKIPPED = {
    "PENDING": "still pending when the trace ends (no execution)",
    "PROCESSING": "still running when the trace ends (execution time cut short)",
}


def read(path: Path, options: Any = None) -> Imported:
    """The requests of a LoRA trace file (``options`` unused)."""
    del options
    errors = LineErrors(path)
    rows = RequestRows()
    skipped: dict[str, int] = {}
    records = CsvRecords(path, REQUIRED, OPTIONAL, errors)
    origin_s = float("inf")
    empty = 0
    for line, record in records:
        try:
            at_s = utc_seconds(record["gmt_create"], "gmt_create")
            origin_s = min(origin_s, at_s)
            status = record["predict_status"]
            if status in SKIPPED:
                skipped[SKIPPED[status]] = skipped.get(SKIPPED[status], 0) + 1
                continue
            if status not in KEPT:
                known = ", ".join([*KEPT, *SKIPPED])
                raise ValueError(f"predict_status: expected one of {known}, got {status!r}")
            service_s = non_negative(record["exec_time_seconds"], "exec_time_seconds")
            prompt = tokens(record["prompt_length"], "prompt_length")
            empty += not record["prompt_length"]
            rows.add(at_s, prompt, 0, service_s, record.get("predict_type") or None, line)
        except ValueError as error:
            errors.add(line, str(error))
    errors.raise_any()
    if rows.columns["arrival_s"]:
        rows.shift(origin_s)
    notes = order_note(rows)
    if empty:
        notes.append(f"{empty} request{'s' if empty != 1 else ''} without a prompt length: 0")
    return Imported(rows.table(), "requests", records.count, skipped=skipped, notes=notes)
