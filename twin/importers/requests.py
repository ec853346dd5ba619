"""What the request readers share: the builder of the normalised requests table
(:data:`twin.trace.schema.WORKLOAD_REQUESTS`) and the parsing of a trace's fields."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from twin.errors import shorten
from twin.importers.common import number
from twin.trace.schema import WORKLOAD_REQUESTS


@dataclass
class RequestRows:
    """Columns of a normalised requests table, filled one request at a time."""

    columns: dict[str, list] = field(
        default_factory=lambda: {name: [] for name in WORKLOAD_REQUESTS.names}
    )

    def add(
        self,
        arrival_s: float,
        prompt_tokens: int,
        output_tokens: int,
        service_s: float | None,
        kind: str | None,
        line: int,
    ) -> None:
        columns = self.columns
        columns["arrival_s"].append(arrival_s)
        columns["prompt_tokens"].append(prompt_tokens)
        columns["output_tokens"].append(output_tokens)
        columns["service_s"].append(service_s)
        columns["kind"].append(kind)
        columns["line"].append(line)

    def shift(self, origin_s: float) -> None:
        """Count arrival times from ``origin_s`` (a trace with absolute timestamps)."""
        self.columns["arrival_s"] = [t - origin_s for t in self.columns["arrival_s"]]

    def out_of_order(self) -> int:
        """Records that arrive before the record above them in the file."""
        times = self.columns["arrival_s"]
        return sum(1 for a, b in itertools.pairwise(times) if b < a)

    def table(self) -> pa.Table:
        """The table in order of arrival (stable: equal times keep the file's order)."""
        table = pa.table(self.columns, schema=WORKLOAD_REQUESTS)
        if self.out_of_order():
            table = table.take(pc.sort_indices(table, [("arrival_s", "ascending")]))
        return table


def non_negative(text: str, what: str, *, integer: bool = False) -> float:
    """A finite number ≥ 0 from a trace field, or ValueError naming the field."""
    value = number(text, what, integer=integer)
    if value < 0:
        raise ValueError(f"{what}: negative ({value:g})")
    return value


def tokens(text: str, what: str) -> int:
    """A token count (a whole number ≥ 0, '12.0' accepted); an empty field is 0."""
    return int(non_negative(text, what, integer=True)) if text else 0


def utc_seconds(text: str, what: str) -> float:
    """Seconds since the Unix epoch of a ``YYYY-MM-DD HH:MM:SS[.fff]`` timestamp read as UTC
    (the traces give no zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{what}: expected a date-time such as 2024-11-15 16:57:50, got {shorten(text, 40)!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def order_note(rows: RequestRows) -> list[str]:
    """The note that records out of order were sorted, if any were."""
    late = rows.out_of_order()
    if not late:
        return []
    return [f"{late} record{'s' if late != 1 else ''} out of order sorted by arrival time"]
