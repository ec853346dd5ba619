"""A transfer list to replay (``workloads.transfers.trace``): read in any transfers format,
and checked against a scenario's nodes and links, each problem with its file line."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from pathlib import Path

import pyarrow as pa

from twin.errors import shorten
from twin.importers import guess_format, read_workload_table


def read_transfer_list(path: Path, format_name: str | None = None) -> pa.Table:
    """The normalised transfers table of ``path`` (format from its name if not given; read
    once per file version: the load-time check and the model share it)."""
    return read_workload_table("transfers", format_name or guess_format(path, "transfers"), path)


def transfer_list_problems(
    table: pa.Table, nodes: Collection[str], reachable: Callable[[str, str], bool]
) -> list[tuple[int, str]]:
    """(file line, problem) for every transfer whose ends are not nodes of the scenario (a
    site or PoP), are the same node, or are joined by no route, or whose start or size is
    not a finite number ≥ 0 (an Arrow list is checked only for its schema when read), in
    line order."""
    problems = []
    known = ", ".join(sorted(nodes)[:12]) + (", …" if len(nodes) > 12 else "")
    for start, size, source, destination, line in zip(
        table["start_s"].to_pylist(),
        table["bytes"].to_pylist(),
        table["source"].to_pylist(),
        table["destination"].to_pylist(),
        table["line"].to_pylist(),
        strict=True,
    ):
        for name, value in (("start_s", start), ("bytes", size)):
            if not (value is not None and math.isfinite(value) and value >= 0):
                problems.append((line, f"{name}: expected a finite number ≥ 0, got {value}"))
        ends = (("source", source), ("destination", destination))
        unknown = [(end, node) for end, node in ends if node not in nodes]
        for end, node in unknown:
            text = f"{end} {shorten(node)} is not a site or PoP of the scenario; known: {known}"
            problems.append((line, text))
        if not unknown and source == destination:
            problems.append((line, f"source and destination are both {source!r}"))
        elif not unknown and not reachable(source, destination):
            problems.append((line, f"no route from {source!r} to {destination!r} over the links"))
    return sorted(problems, key=lambda problem: problem[0])
