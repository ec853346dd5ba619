"""An inference trace as a scenario uses it (``workloads.inference.services[].trace``): its
file read once per version, its pace on the scenario clock (which records, the loop period,
the rate scale), and the checks that it can drive its service (token lengths for ``llm``,
service times for ``single``, a loop that can repeat, a window rate within the work
bounds), reported with config paths before a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.config.budget import WorkBounds
from twin.config.data_files import trace_file
from twin.config.errors import ConfigIssue, TwinUserError, shorten
from twin.config.schema import Scenario, Service
from twin.config.schema_traces import RequestTrace
from twin.importers import guess_format, read_workload_table
from twin.replay.clock import replay_times

MAX_LINES_SHOWN = 5
"""Lines named when a trace's records lack what the service needs."""
HOUR_S = 3600.0


@dataclass(frozen=True)
class ReplayPace:
    """How a trace's records fall on the scenario clock (before the offset)."""

    kept: np.ndarray
    """Indices of the records replayed (the window's)."""
    rel_s: np.ndarray
    """Their trace time from the window's start, s."""
    period_s: float
    """Trace seconds between the starts of two passes of a loop (0: it cannot loop)."""
    scale: float
    """Trace seconds per scenario second (rate_scale, or what peak_rps asks for)."""

    def rate_rps(self) -> float:
        """Mean requests/s of one pass on the scenario clock."""
        span = self.period_s / self.scale
        return len(self.rel_s) / span if span > 0 else 0.0


def replay_pace(table: pa.Table, spec: RequestTrace) -> ReplayPace:
    """The records ``spec`` replays and how fast (see :mod:`twin.model.request_trace`)."""
    bare = spec.model_copy(update={"offset": 0.0, "rate_scale": 1.0})
    kept, rel = replay_times(table.column("arrival_s").to_numpy(), bare, np.inf)
    period = loop_period_s(rel, spec)
    scale = spec.rate_scale
    if spec.peak_rps is not None:
        busiest = busiest_rps(rel, period if period > 0 else HOUR_S)
        scale = spec.peak_rps / busiest if busiest > 0 else 1.0
    return ReplayPace(kept, rel, period, scale)


def busiest_rps(rel_s: np.ndarray, span_s: float) -> float:
    """Requests/s of the busiest hour of trace time: the most records in ``[t, t + H)``
    over the records' times ``t``, divided by ``H`` = one hour, or ``span_s`` if shorter."""
    if not len(rel_s):
        return 0.0
    hour = min(HOUR_S, span_s)
    ends = np.searchsorted(rel_s, rel_s + hour, side="left")
    return float((ends - np.arange(len(rel_s))).max()) / hour


def loop_period_s(rel_s: np.ndarray, spec: RequestTrace) -> float:
    """Trace seconds between the starts of two passes of a looped replay: the window's
    length if it has an end, else the span plus one mean gap (0 for fewer than two)."""
    if spec.window is not None and spec.window.end is not None:
        return spec.window.end - spec.window.start
    n = len(rel_s)
    if n < 2:
        return 0.0
    return float(rel_s[-1] + (rel_s[-1] - rel_s[0]) / (n - 1))


def pace_issues(
    path: str, spec: RequestTrace, pace: ReplayPace, window_s: float
) -> list[ConfigIssue]:
    """A loop that cannot repeat, or a looped replay asking for more requests per window
    than the work bounds allow (``path``: the service's ``trace``)."""
    if spec.loop and (pace.period_s <= 0 or not len(pace.rel_s)):
        return [
            ConfigIssue(
                f"{path}.loop",
                "a loop needs two requests in the replayed part, or a window with an end; "
                f"the trace gives {len(pace.rel_s)}",
            )
        ]
    per_window = pace.rate_rps() * window_s
    limit = WorkBounds().window_requests
    if spec.loop and per_window > limit:
        what = "peak_rps" if spec.peak_rps is not None else "rate_scale"
        return [
            ConfigIssue(
                f"{path}.{what}",
                f"asks for {per_window:,.3g} requests in one window, more than {limit:,.3g}; "
                "expected a lower rate or a shorter inference window",
            )
        ]
    return []


def read_request_trace(spec: RequestTrace) -> pa.Table:
    """The normalised requests table of a trace (read once per file version and format)."""
    path = trace_file(spec.file)
    format_name = spec.format or guess_format(path, "requests")
    return read_workload_table("requests", format_name, path)


def service_trace_issues(path: str, service: Service, table: pa.Table) -> list[ConfigIssue]:
    """What a trace lacks to drive ``service``: an ``llm`` service needs the requests' own
    token lengths (a trace whose prompt or output column is all 0 has none), a ``single``
    service every request's service time."""
    assert service.trace is not None
    name = shorten(Path(service.trace.file).name, 80)
    if service.kind == "llm":
        for column in ("prompt_tokens", "output_tokens"):
            if table.num_rows and pc.max(table.column(column)).as_py() == 0:
                return [
                    ConfigIssue(
                        f"{path}.trace",
                        f"{name} gives no {column.replace('_', ' ')} (all 0): an llm service "
                        "replays requests with their own prompt and output lengths (azure_llm, "
                        "or csv with prompt_tokens and output_tokens)",
                    )
                ]
        return []
    missing = pc.indices_nonzero(pc.is_null(table.column("service_s"))).to_pylist()
    if not missing:
        return []
    lines = table.column("line").take(pa.array(missing[:MAX_LINES_SHOWN])).to_pylist()
    more = f" and {len(missing) - len(lines)} more" if len(missing) > len(lines) else ""
    return [
        ConfigIssue(
            f"{path}.trace",
            f"{name}: no service time at line {', '.join(map(str, lines))}{more}: a single "
            "service replays requests with their own service times (alibaba_lora, or csv "
            "with service_s)",
        )
    ]


def request_trace_issues(scenario: Scenario) -> list[ConfigIssue]:
    """Every traced service's trace read and checked against its service (a file that
    cannot be read is an issue at its ``trace.file``)."""
    inference = scenario.workloads.inference
    if inference is None or not inference.enabled:
        return []
    issues = []
    for index, service in enumerate(inference.services):
        if service.trace is None:
            continue
        path = f"workloads.inference.services[{index}]"
        try:
            table = read_request_trace(service.trace)
        except TwinUserError as error:
            issues.append(ConfigIssue(f"{path}.trace.file", str(error)))
            continue
        issues += service_trace_issues(path, service, table)
        issues += pace_issues(
            f"{path}.trace", service.trace, replay_pace(table, service.trace), inference.window
        )
    return issues
