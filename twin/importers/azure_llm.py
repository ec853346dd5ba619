"""The Azure LLM inference trace (2023): one request per record, its arrival time with its
own prompt and output lengths (the pair kept together, never resampled).

Two layouts are read, told apart by the header:

* the processed trace (Vidur / Splitwise, packaged as ``builtin:azure_llm_conversation_tokens
  .csv.gz``): ``arrived_at`` (s from the trace's zero, ≥ 0), ``num_prefill_tokens``,
  ``num_decode_tokens``;
* the published trace (AzurePublicDataset ``AzureLLMInferenceTrace_*.csv``): ``TIMESTAMP``
  (a date-time, read as UTC, counted from the earliest record), ``ContextTokens``,
  ``GeneratedTokens``.

Token counts are whole numbers ≥ 0. Records out of order are sorted by arrival (noted); a
record with the wrong field count, a negative time or text in a number field is refused
with its line number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin.importers.common import Imported, LineErrors, TraceFormatError
from twin.importers.csv_rows import CsvRecords
from twin.importers.requests import (
    RequestRows,
    non_negative,
    order_note,
    tokens,
    utc_seconds,
)

PROCESSED = ("arrived_at", "num_prefill_tokens", "num_decode_tokens")
PUBLISHED = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def read(path: Path, options: Any = None) -> Imported:
    """The requests of an Azure LLM trace file (either layout; ``options`` unused)."""
    del options
    errors = LineErrors(path)
    rows = RequestRows()
    records = CsvRecords(path, (), (*PROCESSED, *PUBLISHED), errors)
    layout = _layout(path, records.header)
    for line, record in records:
        arrival, prompt, output = (record[name] for name in layout)
        try:
            if layout is PROCESSED:
                at_s = non_negative(arrival, "arrived_at")
            else:
                at_s = utc_seconds(arrival, "TIMESTAMP")
            rows.add(at_s, tokens(prompt, layout[1]), tokens(output, layout[2]), None, None, line)
        except ValueError as error:
            errors.add(line, str(error))
    errors.raise_any()
    if layout is PUBLISHED and records.count:
        rows.shift(min(rows.columns["arrival_s"]))
    return Imported(rows.table(), "requests", records.count, notes=order_note(rows))


def _layout(path: Path, names: list[str]) -> tuple[str, ...]:
    """Which layout the file's header line is."""
    for layout in (PROCESSED, PUBLISHED):
        if all(name in names for name in layout):
            return layout
    raise TraceFormatError(
        path,
        [
            (
                1,
                f"header lacks the columns of either Azure layout: {', '.join(PROCESSED)} or "
                f"{', '.join(PUBLISHED)}",
            )
        ],
    )
