"""A plain CSV of inference requests with named columns, for a user's own log.

Required column: ``arrival_s`` (arrival time, s from the trace's zero, ≥ 0). Optional:
``prompt_tokens`` and ``output_tokens`` (whole numbers ≥ 0; an absent column or an empty
field is 0): the request's own lengths, for an ``llm`` service; ``service_s`` (s ≥ 0; absent
or empty: none): its service time on a speed-1.0 replica, for a ``single`` service; ``kind``
(a label kept as is). Other columns are ignored.

Records out of order are sorted by arrival (noted); a record with the wrong field count, a
negative value or text in a number field is refused with its line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin.importers.common import Imported, LineErrors
from twin.importers.csv_rows import CsvRecords
from twin.importers.requests import RequestRows, non_negative, order_note, tokens

REQUIRED = ("arrival_s",)
OPTIONAL = ("prompt_tokens", "output_tokens", "service_s", "kind")


def read(path: Path, options: Any = None) -> Imported:
    """The requests of a CSV file (``options`` unused)."""
    del options
    errors = LineErrors(path)
    rows = RequestRows()
    records = CsvRecords(path, REQUIRED, OPTIONAL, errors)
    for line, record in records:
        try:
            service = record.get("service_s", "")
            rows.add(
                non_negative(record["arrival_s"], "arrival_s"),
                tokens(record.get("prompt_tokens", ""), "prompt_tokens"),
                tokens(record.get("output_tokens", ""), "output_tokens"),
                non_negative(service, "service_s") if service else None,
                record.get("kind") or None,
                line,
            )
        except ValueError as error:
            errors.add(line, str(error))
    errors.raise_any()
    return Imported(rows.table(), "requests", records.count, notes=order_note(rows))
