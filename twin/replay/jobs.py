"""A training trace as a scenario uses it: its file read once per version and mapping
(``workloads.training.trace``), and the scenario's checks of it (tenant classes and the
pinned site exist), reported with config paths before a run starts."""

from __future__ import annotations

import pyarrow as pa

from twin.config.data_files import trace_file
from twin.config.errors import ConfigIssue, TwinUserError
from twin.config.schema import Scenario
from twin.config.schema_traces import TrainingTrace
from twin.importers import guess_format, read_workload_table
from twin.importers.jobs import JobOptions

TRACE_PATH = "workloads.training.trace"


def read_trace(spec: TrainingTrace) -> pa.Table:
    """The normalised jobs table of a training trace (read once per file version, options)."""
    path = trace_file(spec.file)
    format_name = spec.format or guess_format(path, "jobs")
    options = JobOptions(
        spec.per_accelerator, spec.requested_time, spec.requested_factor, spec.user_field
    )
    return read_workload_table("jobs", format_name, path, options)


def mapping_issues(scenario: Scenario, trace: TrainingTrace, table: pa.Table) -> list[ConfigIssue]:
    """What in the replay's mapping names things the scenario does not have."""
    issues = []
    known = scenario.tenants
    for user, tenant in trace.tenants.items():
        if tenant not in known:
            issues.append(
                ConfigIssue(
                    f"{TRACE_PATH}.tenants.{user}",
                    f"unknown tenant class {tenant!r}; known: {', '.join(known)}",
                )
            )
    if trace.tenant_default != "shares" and trace.tenant_default not in known:
        issues.append(
            ConfigIssue(
                f"{TRACE_PATH}.tenant_default",
                f"unknown tenant class {trace.tenant_default!r}; expected shares or one of "
                f"{', '.join(known)}",
            )
        )
    sites = [site.id for site in scenario.sites]
    for index, name in enumerate(trace.sites or ()):
        if name not in sites:
            where = f"{TRACE_PATH}.site" + ("" if isinstance(trace.site, str) else f"[{index}]")
            issues.append(ConfigIssue(where, f"unknown site {name!r}; known: {', '.join(sites)}"))
    named = table.column("tenant").drop_null().unique().to_pylist()
    lines = table.column("line").to_pylist()
    tenants = table.column("tenant").to_pylist()
    for name in named:
        if name not in known:
            line = lines[tenants.index(name)]
            issues.append(
                ConfigIssue(
                    f"{TRACE_PATH}.file",
                    f"line {line}: unknown tenant class {name!r}; known: {', '.join(known)}",
                )
            )
    catalogue = scenario.accelerators
    types = table.column("accelerator_types").to_pylist()
    for given in table.column("accelerator_types").drop_null().unique().to_pylist():
        unknown = [name for name in given.split("|") if name not in catalogue]
        if unknown:
            issues.append(
                ConfigIssue(
                    f"{TRACE_PATH}.file",
                    f"line {lines[types.index(given)]}: unknown accelerator type "
                    f"{', '.join(map(repr, unknown))}; the scenario has {', '.join(catalogue)}",
                )
            )
    return issues


def training_trace_issues(scenario: Scenario) -> list[ConfigIssue]:
    """Why the scenario's training trace cannot be replayed (empty when it can)."""
    spec = scenario.workloads.training
    if spec is None or spec.trace is None or not spec.enabled:
        return []
    try:
        table = read_trace(spec.trace)
    except TwinUserError as error:
        return [ConfigIssue(f"{TRACE_PATH}.file", str(error))]
    return mapping_issues(scenario, spec.trace, table)
