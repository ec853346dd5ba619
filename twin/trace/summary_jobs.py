"""The jobs part of a run's summary: the standard scheduling figures (jobs submitted and
started, mean, p50, p95, p99 and worst wait, mean bounded slowdown, makespan), over all
tenants and per tenant with what each was granted (accelerator-hours, spend, rejected and
cancelled jobs), from the ``jobs`` table, scanned a chunk at a time."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.trace.reader import Run
from twin.trace.scan import column_names, scan
from twin.trace.summary_stats import by_key, concat, count_values, manifest_end_s, quantile


def job_rows(run: Run) -> tuple[Counter[str], dict[str, float], list[dict[str, Any]]]:
    """Jobs per state; over all tenants and per tenant, the figures of :func:`_waits`."""
    states: Counter[str] = Counter()
    submitted: Counter[str] = Counter()
    waits: dict[str, list[np.ndarray]] = defaultdict(list)
    slowdowns: dict[str, list[np.ndarray]] = defaultdict(list)
    first_submit: dict[str, float] = {}
    last_end: dict[str, float] = {}
    end_of_run = manifest_end_s(run.manifest)
    end_of_run = float(run.manifest.get("horizon_s", 0.0)) if end_of_run is None else end_of_run
    columns = ["tenant", "state", "submit_s", "start_s", "end_s", "wait_s", "run_s"]
    columns += ["accelerators", "busy_s", "work_s"]
    # runs written before access programmes have no spend or programme
    priced = "spend_eur" in column_names(run.path, "jobs")
    columns += ["spend_eur", "programme"] if priced else []
    granted: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    spend: dict[str, float] = {}
    programme: dict[str, str] = {}
    ended: dict[str, Counter[str]] = defaultdict(Counter)
    for chunk in scan(run.path, "jobs", columns):
        count_values(chunk["state"], states)
        count_values(chunk["tenant"], submitted)
        for tenant, rows in by_key(chunk, "tenant"):
            held = pc.multiply(pc.cast(rows["accelerators"], pa.float64()), rows["busy_s"])
            granted[tenant] += pc.sum(held).as_py() or 0.0
            wanted = pc.multiply(pc.cast(rows["accelerators"], pa.float64()), rows["work_s"])
            asked[tenant] += pc.sum(wanted).as_py() or 0.0
            count_values(rows["state"], ended[tenant])
            if priced and rows["spend_eur"].null_count < len(rows):
                spend[tenant] = spend.get(tenant, 0.0) + pc.sum(rows["spend_eur"]).as_py()
            if priced and rows["programme"].null_count < len(rows):
                programme[tenant] = rows["programme"].drop_null()[0].as_py()
        for tenant, rows in by_key(chunk, "tenant"):
            first = pc.min(rows["submit_s"]).as_py()
            first_submit[tenant] = min(first_submit.get(tenant, first), first)
            last = pc.max(rows["end_s"]).as_py()
            if last is not None:
                last_end[tenant] = max(last_end.get(tenant, last), last)
        started = chunk.filter(pc.and_(pc.is_valid(chunk["start_s"]), pc.is_valid(chunk["wait_s"])))
        for tenant, rows in by_key(started, "tenant"):
            wait = rows["wait_s"].to_numpy()
            waits[tenant].append(wait)
            slowdowns[tenant].append(_bounded_slowdown(rows, wait, end_of_run))
    tenants = [
        {
            "tenant": tenant,
            **_waits(
                submitted[tenant],
                concat(waits[tenant]),
                concat(slowdowns[tenant]),
                _span(first_submit.get(tenant), last_end.get(tenant)),
            ),
            "accelerator_hours": granted[tenant] / 3600.0,
            "asked_accelerator_hours": asked[tenant] / 3600.0,
            "rejected": ended[tenant]["rejected"],
            "cancelled": ended[tenant]["cancelled"],
            "spend_eur": spend.get(tenant, float("nan")),
            "programme": programme.get(tenant),
        }
        for tenant in sorted(submitted)
    ]
    every = concat([piece for tenant in sorted(waits) for piece in waits[tenant]])
    slowdown = concat([piece for tenant in sorted(slowdowns) for piece in slowdowns[tenant]])
    makespan = _span(min(first_submit.values(), default=None), max(last_end.values(), default=None))
    return states, _waits(sum(submitted.values()), every, slowdown, makespan), tenants


SLOWDOWN_BOUND_S = 10.0
"""τ of the bounded slowdown: runs shorter than this count as this long (Feitelson et al.),
so a job of a second that waited a minute does not dominate the mean."""


def _bounded_slowdown(rows: pa.Table, wait: np.ndarray, end_of_run: float) -> np.ndarray:
    """max(1, (wait + run) / max(run, τ)) of started jobs; a job still running (or requeued)
    when the run ends counts with its run so far, its slowdown as of the end."""
    run_s = rows["run_s"].to_numpy(zero_copy_only=False).astype(np.float64)
    so_far = end_of_run - rows["start_s"].to_numpy()
    ran = np.where(np.isnan(run_s), so_far, run_s)
    return np.maximum(1.0, (wait + ran) / np.maximum(ran, SLOWDOWN_BOUND_S))


def _span(first: float | None, last: float | None) -> float:
    return last - first if first is not None and last is not None else float("nan")


def _waits(
    submitted: int, wait: np.ndarray, slowdown: np.ndarray, makespan_s: float
) -> dict[str, Any]:
    """The standard scheduling figures of a set of jobs: submitted, started (jobs that got
    accelerators), mean, p50, p95, p99 and worst wait and mean bounded slowdown of the
    started (jobs that never started are in neither: their wait is not over), and the
    makespan, from the first submission to the last end of the jobs that ended (any final
    state; NaN if none did). Quantiles are Arrow's linear interpolation, a pure function of
    the waits."""
    return {
        "submitted": submitted,
        "started": len(wait),
        "wait_mean_s": float(wait.mean()) if len(wait) else float("nan"),
        "wait_p50_s": quantile(wait, 0.5),
        "wait_p95_s": quantile(wait, 0.95),
        "wait_p99_s": quantile(wait, 0.99),
        "wait_max_s": float(wait.max()) if len(wait) else float("nan"),
        "bounded_slowdown_mean": float(slowdown.mean()) if len(slowdown) else float("nan"),
        "makespan_s": makespan_s,
    }
