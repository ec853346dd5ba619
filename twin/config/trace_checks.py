"""Checks of a scenario's workload traces when it is loaded (so ``twin validate`` and
``twin run`` refuse a trace that cannot drive the scenario before any run directory
exists): a transfer list's nodes and routes, a training trace's mapping. They read the
traces through :mod:`twin.importers` and :mod:`twin.replay` (imported when a scenario has a
trace: pyarrow only then)."""

from __future__ import annotations

from collections.abc import Callable

from twin.config.data_files import trace_file
from twin.config.errors import ConfigError, ConfigIssue, TwinUserError
from twin.config.schema import Scenario


def check_traces(scenario: Scenario, source: str) -> None:
    """Every trace of the scenario can be replayed in it, and every iteration profile can
    be interpolated; else :class:`ConfigError`."""
    _check_transfer_trace(scenario, source)
    _check_training_trace(scenario, source)
    _check_iteration_profiles(scenario, source)


def _check_iteration_profiles(scenario: Scenario, source: str) -> None:
    """Each ``profile`` iteration model's file reads and has the shape the interpolation
    needs (single-prompt prefills, a full decode grid, mixed rows on one grid)."""
    issues = []
    inference = scenario.workloads.inference
    if inference is None or not inference.enabled:
        return
    for index, service in enumerate(inference.services):
        spec = service.iteration
        if service.kind != "llm" or spec.model != "profile":
            continue
        from twin.importers.iteration_profile import (
            profile_problems,
            read_iteration_profile_once,
        )

        where = f"inference.services[{index}].iteration.file"
        try:
            problems = profile_problems(read_iteration_profile_once(trace_file(spec.file)))
        except TwinUserError as error:
            problems = [str(error)]
        issues += [ConfigIssue(where, problem) for problem in problems]
    if issues:
        raise ConfigError(issues, source)


def _check_transfer_trace(scenario: Scenario, source: str) -> None:
    """A transfer trace can be read, and every transfer in it goes between two nodes of the
    scenario that a route joins (each problem with its file line)."""
    transfers = scenario.workloads.transfers
    if transfers is None or transfers.trace is None or not transfers.enabled:
        return
    from twin.importers.transfer_list import read_transfer_list, transfer_list_problems

    where = "workloads.transfers.trace.file"
    try:
        path = trace_file(transfers.trace.file)
        table = read_transfer_list(path, transfers.trace.format)
    except TwinUserError as error:
        raise ConfigError([ConfigIssue(where, str(error))], source) from None
    nodes = {site.id for site in scenario.sites} | {pop.id for pop in scenario.pops}
    problems = transfer_list_problems(table, nodes, _reachability(scenario))
    if problems:
        name = path.name[:80]
        issues = [ConfigIssue(where, f"{name} line {line}: {text}") for line, text in problems]
        raise ConfigError(issues, source)


def _check_training_trace(scenario: Scenario, source: str) -> None:
    """A training trace can be read and its mapping names tenant classes and a site the
    scenario has (read once: the model re-uses the table)."""
    from twin.replay.jobs import training_trace_issues

    issues = training_trace_issues(scenario)
    if issues:
        raise ConfigError(issues, source)


def _reachability(scenario: Scenario) -> Callable[[str, str], bool]:
    """Whether the links (all up; directed ones one way) join a source to a destination."""
    ahead: dict[str, set[str]] = {}
    for link in scenario.links:
        ahead.setdefault(link.a, set()).add(link.b)
        if not link.directed:
            ahead.setdefault(link.b, set()).add(link.a)
    reached: dict[str, set[str]] = {}

    def reachable(start: str, end: str) -> bool:
        if start not in reached:
            seen, frontier = {start}, [start]
            while frontier:
                for node in ahead.get(frontier.pop(), ()):
                    if node not in seen:
                        seen.add(node)
                        frontier.append(node)
            reached[start] = seen
        return end in reached[start]

    return reachable
