"""The standard scheduling metrics: mean wait, mean bounded slowdown (τ = 10 s), makespan and
utilisation, over all tenants and per tenant, in ``twin summary`` (tables and ``--json``)
and the metric registry.

A run directory whose jobs and sites tables are written by hand gives values computed here
by hand; a real tiny run is checked against its own jobs table (per-tenant counts and means
recombine into the overall ones; utilisation equals the jobs' busy accelerator-seconds).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from twin.analysis import measure_summary, parse_metric
from twin.cli import main
from twin.config import load_config
from twin.simulation import simulate
from twin.trace.reader import open_run
from twin.trace.schema import JOBS
from twin.trace.summary import summarize
from twin.trace.writer import RunWriter

HALF = ("sites.north.pools[0].count=32", "sites.south.pools[0].count=64")

END_S = 1000.0
JOB_DEFAULTS: dict[str, Any] = {
    "accelerators": 1,
    "work_s": 1.0,
    "dataset_gb": 0.0,
    "energy_mwh": 0.0,
    "co2_t": 0.0,
    "cost_eur": 0.0,
    "restarts": 0,
    "busy_s": 0.0,
    "useful_s": 0.0,
    "lost_work_s": 0.0,
    "checkpoint_s": 0.0,
    "restart_s": 0.0,
}

# (job, tenant, state, submit, start, end): wait = start − submit, run = end − start.
HAND_JOBS = [
    (0, "alpha", "completed", 0.0, 0.0, 100.0),  # slowdown 100/100 = 1
    (1, "alpha", "completed", 10.0, 20.0, 25.0),  # (10 + 5) / max(5, 10) = 1.5
    (2, "alpha", "completed", 50.0, 250.0, 650.0),  # (200 + 400) / 400 = 1.5
    (3, "beta", "running", 5.0, 105.0, None),  # run so far 895: (100 + 895) / 895
    (4, "beta", "queued", 300.0, None, None),  # never started: in no wait or slowdown
    (5, "beta", "rejected", 400.0, None, 400.0),  # ended (rejected) at 400: in the makespan
    (6, "beta", "completed", 30.0, 30.0, 32.0),  # 2 / max(2, 10) = 0.2, bounded to 1
]


def job_row(job: int, tenant: str, state: str, submit: float, start, end) -> tuple:
    started = start is not None
    row = {
        **JOB_DEFAULTS,
        "job": job,
        "tenant": tenant,
        "state": state,
        "submit_s": submit,
        "start_s": start,
        "end_s": end,
        "wait_s": start - submit if started else None,
        "run_s": end - start if started and end is not None else None,
        # one accelerator, held from its start to its end (or the end of the run)
        "busy_s": ((end if end is not None else END_S) - start) if started else 0.0,
    }
    return tuple(row.get(field.name) for field in JOBS)


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory) -> Path:
    """Seven jobs of two tenants; one site of 10 accelerators, half busy for 500 s, then
    fully busy for 500 s."""
    path = tmp_path_factory.mktemp("hand") / "run"
    manifest = {"scenario": "hand", "start_s": 0.0, "horizon_s": END_S}
    writer = RunWriter(path, manifest, "name: hand\n", ("events", "jobs", "sites"))
    for job in HAND_JOBS:
        writer.append("jobs", job_row(*job))
    for time_s, utilisation in ((500.0, 0.5), (1000.0, 1.0)):
        row = (time_s, "s", True, 10, 0, 0, 0, 0, utilisation, *[0.0] * 7, 1.0, 0.0)
        writer.append("sites", row)
    writer.close("complete", end_s=END_S)
    return path


def test_hand_written_jobs_give_the_hand_computed_figures(hand_run):
    summary = summarize(open_run(hand_run))
    beta_slowdown = (995.0 / 895.0 + 1.0) / 2
    alpha, beta = summary.tenants
    nothing = {"rejected": 0, "cancelled": 0, "programme": None}
    assert math.isnan(alpha.pop("spend_eur")) and math.isnan(beta.pop("spend_eur"))
    assert alpha == {
        "tenant": "alpha",
        "submitted": 3,
        "started": 3,
        "wait_mean_s": pytest.approx(70.0),
        "wait_p50_s": 10.0,
        "wait_p95_s": pytest.approx(181.0),  # 10 + 0.9 × (200 − 10), linear interpolation
        "wait_p99_s": pytest.approx(196.2),  # 10 + 0.98 × 190
        "wait_max_s": 200.0,
        "bounded_slowdown_mean": pytest.approx(4.0 / 3.0),
        "makespan_s": 650.0,
        "accelerator_hours": pytest.approx(505.0 / 3600),  # runs of 100, 5 and 400 s
        "asked_accelerator_hours": pytest.approx(3.0 / 3600),  # three jobs of work 1 s
        **nothing,
    }
    assert beta == {
        "tenant": "beta",
        "submitted": 4,
        "started": 2,
        "wait_mean_s": pytest.approx(50.0),
        "wait_p50_s": pytest.approx(50.0),
        "wait_p95_s": pytest.approx(95.0),
        "wait_p99_s": pytest.approx(99.0),
        "wait_max_s": 100.0,
        "bounded_slowdown_mean": pytest.approx(beta_slowdown),
        "makespan_s": 395.0,  # first submission 5 s, last end 400 s (the rejection)
        "accelerator_hours": pytest.approx(897.0 / 3600),  # 895 s so far + 2 s
        "asked_accelerator_hours": pytest.approx(4.0 / 3600),
        **nothing,
        "rejected": 1,
    }
    assert summary.waits == {
        "submitted": 7,
        "started": 5,
        "wait_mean_s": pytest.approx(62.0),
        "wait_p50_s": 10.0,
        "wait_p95_s": pytest.approx(180.0),  # waits 0, 0, 10, 100, 200: 100 + 0.8 × 100
        "wait_p99_s": pytest.approx(196.0),  # 100 + 0.96 × 100
        "wait_max_s": 200.0,
        "bounded_slowdown_mean": pytest.approx((4.0 + 2 * beta_slowdown) / 5),
        "makespan_s": 650.0,
    }
    assert summary.totals["utilisation"] == pytest.approx(0.75)
    # no weights in this manifest: each counts 1; Jain over 505 and 897 accelerator-seconds
    by_weight = 1402.0**2 / (2 * (505.0**2 + 897.0**2))
    assert summary.jain_index_by_weight == pytest.approx(by_weight)
    # per unit of demand: 505 of 3 asked, 897 of 4 asked
    served = (505.0 / 3, 897.0 / 4)
    assert summary.jain_index == pytest.approx(sum(served) ** 2 / (2 * sum(x * x for x in served)))


def test_the_registry_gives_them_overall_and_per_tenant(hand_run):
    summary = summarize(open_run(hand_run))

    def value(name: str) -> float:
        return parse_metric(name).value(summary)

    assert value("jobs.bounded_slowdown_mean[tenant=alpha]") == pytest.approx(4.0 / 3.0)
    assert value("jobs.makespan_s[tenant=beta]") == 395.0
    assert value("jobs.makespan_s") == 650.0
    assert value("jobs.wait_mean_s[tenant=beta]") == pytest.approx(50.0)
    assert value("sites.utilisation") == pytest.approx(0.75)
    assert math.isnan(value("jobs.bounded_slowdown_mean[tenant=nobody]"))
    assert parse_metric("jobs.bounded_slowdown_mean").better == "lower"
    assert parse_metric("jobs.makespan_s").unit == "s"
    measured = measure_summary(summary)
    assert measured["jobs.bounded_slowdown_mean"] == pytest.approx((4.0 + 995.0 / 895.0 + 1) / 5)


def test_twin_summary_prints_them_per_tenant_and_in_json(hand_run):
    runner = CliRunner()
    shown = runner.invoke(main, ["summary", str(hand_run)])
    assert shown.exit_code == 0, shown.output
    alpha = next(line for line in shown.output.splitlines() if "alpha" in line)
    cells = [cell.strip() for cell in alpha.split("│")[1:-1]]
    # waits in hours: mean 70 s, p95 181 s, p99 196.2 s, max 200 s
    assert cells == ["alpha", "3", "3", "0.02", "0.05", "0.05", "0.06", "1.33"]
    granted = [line for line in shown.output.splitlines() if "alpha" in line][1]
    assert [cell.strip() for cell in granted.split("│")[1:-1]] == [
        "alpha",
        "0.14",
        "36.02%",
        "0",
        "0",
    ]
    data = json.loads(runner.invoke(main, ["summary", "--json", str(hand_run)]).output)
    assert data["tenants"][1]["makespan_s"] == 395.0
    assert data["waits"]["started"] == 5
    assert data["metrics"]["jobs.makespan_s"] == 650.0


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """Tiny on half its accelerators: some jobs never start."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    return simulate(load_config("tiny", overrides=["horizon=12h", "seed=5", *HALF]), out).path


def test_on_a_real_run_tenants_recombine_into_the_totals(tiny_run):
    summary = summarize(open_run(tiny_run))
    tenants, overall = summary.tenants, summary.waits
    assert len(tenants) == 3
    assert sum(t["submitted"] for t in tenants) == overall["submitted"]
    assert sum(t["started"] for t in tenants) == overall["started"]
    for figure in ("wait_mean_s", "bounded_slowdown_mean"):
        weighted = sum(t[figure] * t["started"] for t in tenants) / overall["started"]
        assert weighted == pytest.approx(overall[figure], rel=1e-12)
    assert overall["makespan_s"] >= max(t["makespan_s"] for t in tenants)


def test_on_a_real_run_the_figures_follow_from_its_jobs_table(tiny_run):
    run = open_run(tiny_run)
    summary = summarize(run)
    jobs = run.table("jobs").to_pandas()
    started = jobs[jobs["start_s"].notna()]
    assert len(started) == summary.waits["started"] and len(started) < len(jobs)  # some wait
    ran = started["run_s"].fillna(run.manifest["end_s"] - started["start_s"])
    slowdown = ((started["wait_s"] + ran) / ran.clip(lower=10.0)).clip(lower=1.0)
    assert slowdown.mean() == pytest.approx(summary.waits["bounded_slowdown_mean"], rel=1e-12)
    assert started["run_s"].isna().any()  # jobs still running at the end are in it
    ended = jobs[jobs["end_s"].notna()]
    makespan = ended["end_s"].max() - jobs["submit_s"].min()
    assert summary.waits["makespan_s"] == pytest.approx(makespan, rel=1e-12)
    # Utilisation: accelerator-seconds the jobs held over those installed (all online).
    installed = summary.totals["accelerators"] * run.manifest["end_s"]
    busy = (jobs["accelerators"] * jobs["busy_s"]).sum()
    assert summary.totals["utilisation"] == pytest.approx(busy / installed, rel=1e-9)
