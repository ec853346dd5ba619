"""The faults part of a run's summary: what broke, what it cost the jobs, how available each
site was and what the network had to reroute, from the trace alone (``faults``, ``jobs`` and
``events`` tables), scanned a chunk at a time like the rest of the summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from twin.trace.reader import Run
from twin.trace.scan import scan

HOUR_S = 3600.0
_JOB_SPLIT = ("busy_s", "useful_s", "lost_work_s", "checkpoint_s", "restart_s")


def _scan(run: Run, name: str, columns: list[str]) -> Iterator[pa.Table]:
    return scan(run.path, name, columns)


def fault_totals(run: Run) -> dict[str, Any]:
    """Faults by kind, jobs interrupted, accelerator-hours by where they went (busy =
    useful + lost + checkpoint + restart), goodput, and the bytes cuts rerouted or stalled."""
    kinds: Counter[str] = Counter()
    moved = {"bytes_rerouted": 0.0, "bytes_stalled": 0.0, "flows_rerouted": 0, "flows_stalled": 0}
    columns = ["kind", *moved]
    for chunk in _scan(run, "faults", columns):
        for row in pc.value_counts(chunk["kind"]).to_pylist():
            kinds[row["values"]] += row["counts"]
        for name in moved:
            moved[name] += pc.sum(chunk[name]).as_py() or 0
    hours = dict.fromkeys(_JOB_SPLIT, 0.0)
    restarts = interrupted = 0
    for chunk in _scan(run, "jobs", ["accelerators", "restarts", *_JOB_SPLIT]):
        size = pc.cast(chunk["accelerators"], pa.float64())
        for name in _JOB_SPLIT:
            hours[name] += (pc.sum(pc.multiply(chunk[name], size)).as_py() or 0.0) / HOUR_S
        restarts += pc.sum(chunk["restarts"]).as_py() or 0
        interrupted += pc.sum(pc.greater(chunk["restarts"], 0)).as_py() or 0
    busy = hours["busy_s"]
    return {
        "accelerator_failures": kinds.get("accelerator", 0),
        "site_outages": kinds.get("site_outage", 0),
        "link_cuts": kinds.get("link_cut", 0),
        "restarts": int(restarts),
        "jobs_interrupted": int(interrupted),
        "busy_gpu_h": busy,
        "useful_gpu_h": hours["useful_s"],
        "lost_gpu_h": hours["lost_work_s"],
        "checkpoint_gpu_h": hours["checkpoint_s"],
        "restart_gpu_h": hours["restart_s"],
        "goodput": hours["useful_s"] / busy if busy > 0 else float("nan"),
        **moved,
    }


def site_availability(run: Run, end_s: float) -> list[dict[str, Any]]:
    """Per site that went down: outages, hours down and availability (share of the run's
    simulated span it was up), from its ``site_down``/``site_up`` events."""
    down_since: dict[str, float] = {}
    down_s: defaultdict[str, float] = defaultdict(float)
    outages: Counter[str] = Counter()
    for chunk in _scan(run, "events", ["time_s", "kind", "site"]):
        mask = pc.is_in(chunk["kind"], pa.array(["site_down", "site_up"]))
        rows = chunk.filter(mask)
        for time_s, kind, site in zip(
            rows["time_s"].to_pylist(),
            rows["kind"].to_pylist(),
            rows["site"].to_pylist(),
            strict=True,
        ):
            if kind == "site_down":
                down_since[site] = time_s
                outages[site] += 1
            elif site in down_since:
                down_s[site] += time_s - down_since.pop(site)
    for site, since in down_since.items():
        down_s[site] += max(0.0, end_s - since)
    return [
        {
            "site": site,
            "outages": outages[site],
            "down_h": down_s[site] / HOUR_S,
            "availability": 1.0 - down_s[site] / end_s if end_s > 0 else float("nan"),
        }
        for site in sorted(outages, key=lambda s: (-down_s[s], s))
    ]
