"""An inference trace as a scenario uses it (``workloads.inference.services[].trace``): its
file read once per version, and the checks that it can drive its service (token lengths
for ``llm``, service times for ``single``), reported with config paths before a run."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from twin.config.errors import ConfigIssue, TwinUserError, shorten
from twin.config.loader import BUILTIN_PREFIX, data_file
from twin.config.schema import Scenario, Service
from twin.config.schema_traces import RequestTrace
from twin.importers import guess_format, read_workload

MAX_LINES_SHOWN = 5
"""Lines named when a trace's records lack what the service needs."""


def trace_path(spec: RequestTrace) -> Path:
    """Where a trace's file is: a packaged one (``builtin:NAME``) or a path (made absolute
    from the config's folder by the loader)."""
    if spec.file.startswith(BUILTIN_PREFIX):
        return data_file(spec.file.removeprefix(BUILTIN_PREFIX))
    if "\x00" in spec.file:
        raise TwinUserError("a file name cannot hold a NUL byte")
    return Path(spec.file)


def read_request_trace(spec: RequestTrace) -> pa.Table:
    """The normalised requests table of a trace (read once per file version and format)."""
    path = trace_path(spec)
    format_name = spec.format or guess_format(path, "requests")
    try:
        info = path.stat()
    except OSError:
        return read_workload("requests", format_name, path).table  # says why it cannot
    return _cached(str(path), info.st_size, info.st_mtime_ns, format_name)


@lru_cache(maxsize=8)
def _cached(path: str, size: int, mtime_ns: int, format_name: str) -> pa.Table:
    del size, mtime_ns  # part of the cache key only
    return read_workload("requests", format_name, Path(path)).table


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
    return issues
