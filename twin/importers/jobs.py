"""What the job readers share: the size and walltime mappings a replay asks for, and the
builder of the normalised jobs table (:data:`twin.trace.schema.WORKLOAD_JOBS`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from twin.trace.schema import WORKLOAD_JOBS


@dataclass(frozen=True)
class JobOptions:
    """How a job trace's records become twin jobs (the replay config's mapping keys)."""

    per_accelerator: float = 1.0
    """Trace processors (or GPUs) per twin accelerator."""
    requested_time: Literal["trace", "run_time"] = "trace"
    requested_factor: float = 1.0
    user_field: Literal["user", "group", "queue"] = "user"

    def requested(self, run_s: float, trace_requested_s: float) -> float:
        """The walltime a job asks for: the trace's (where known and asked for), else the
        run time × the factor; never below the run time."""
        if self.requested_time == "trace" and trace_requested_s >= 0:
            return max(trace_requested_s, run_s)
        return run_s * self.requested_factor


@dataclass
class JobRows:
    """Columns of a normalised jobs table, filled one job at a time."""

    columns: dict[str, list] = field(
        default_factory=lambda: {name: [] for name in WORKLOAD_JOBS.names}
    )

    def add(
        self,
        job: int,
        submit_s: float,
        accelerators: int,
        duration_s: float,
        requested_s: float,
        user: str | None,
        status: str,
        line: int,
        tenant: str | None = None,
        accelerator_types: str | None = None,
    ) -> None:
        row = {
            "job": job,
            "submit_s": submit_s,
            "accelerators": accelerators,
            "duration_s": duration_s,
            "requested_s": requested_s,
            "tenant": tenant,
            "user": user,
            "status": status,
            "line": line,
            "accelerator_types": accelerator_types,
        }
        for name, value in row.items():
            self.columns[name].append(value)

    def table(self) -> pa.Table:
        """The table, in submission order (stable: equal submit times keep the file's order)."""
        table = pa.table(self.columns, schema=WORKLOAD_JOBS)
        if table.num_rows and not _sorted(self.columns["submit_s"]):
            table = table.take(pc.sort_indices(table, [("submit_s", "ascending")]))
        return table


def _sorted(values: list[float]) -> bool:
    return all(a <= b for a, b in pairwise(values))
