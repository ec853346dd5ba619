"""`twin summary` numbers agree with the tables they come from."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest
import yaml

from twin.config import builtin_scenarios, validate_scenario
from twin.simulation import simulate
from twin.trace.reader import open_run
from twin.trace.summary import summarize


@pytest.fixture(scope="module")
def run_with_everything(tmp_path_factory):
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["horizon"] = "3h"
    data["links"] = [{"a": "north", "b": "south", "capacity_gbps": 100}]
    data["workloads"]["training"]["datasets"] = 50
    data["workloads"]["inference"] = {
        "window": "10s",
        "regions": [
            {"id": "rome", "lat": 41.9, "lon": 12.5, "share": 2},
            {"id": "oulu", "lat": 65.0, "lon": 25.5, "share": 1},
        ],
        "services": [
            {
                "id": "embed",
                "kind": "single",
                "peak_rps": 300,
                "service_s": {"dist": "exponential", "mean": 0.02},
                "servers_per_replica": 2,
                "slo": {"latency_s": 0.05},
                "max_queue": 20,
                "replicas": {"north": 1, "south": 1},
            }
        ],
    }
    out = tmp_path_factory.mktemp("runs") / "all"
    simulate(validate_scenario(data), out)
    return open_run(out)


def test_summary_counts_match_the_tables(run_with_everything):
    run = run_with_everything
    summary = summarize(run)
    jobs = run.table("jobs")
    assert sum(summary.jobs_by_state.values()) == jobs.num_rows
    transfers = run.table("transfers")
    assert sum(row["count"] for row in summary.transfers) == transfers.num_rows
    inference = run.table("inference")
    (service,) = summary.services
    assert service["arrivals"] == pc.sum(inference["arrivals"]).as_py()
    assert service["dropped"] == pc.sum(inference["dropped"]).as_py() > 0
    resolved = service["served"] + service["dropped"]
    assert service["attainment"] == pytest.approx(1 - service["slo_misses"] / resolved)
    assert 0 < service["attainment"] < 1


def test_region_attainment_covers_every_region(run_with_everything):
    summary = summarize(run_with_everything)
    assert {row["region"] for row in summary.regions} == {"rome", "oulu"}
    regions = run_with_everything.table("inference_regions")
    assert sum(r["arrivals"] for r in summary.regions) == pc.sum(regions["arrivals"]).as_py()
    assert all(0 <= r["attainment"] <= 1 for r in summary.regions)


def test_kpis_are_flat_numbers(run_with_everything):
    kpis = summarize(run_with_everything).kpis()
    assert "embed SLO attainment (%)" in kpis and "data moved (TB)" in kpis
    assert all(isinstance(value, float) for value in kpis.values())


def test_summary_of_an_interrupted_run_says_how_far_it_got(tmp_path):
    from click.testing import CliRunner

    from twin.cli import main
    from twin.config import load_config
    from twin.simulation import simulate
    from twin.trace.reader import open_run
    from twin.trace.summary import summarize

    scenario = load_config("tiny")  # one day
    calls = []

    def progress(now):
        calls.append(now)
        if len(calls) == 100:  # half way
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(scenario, tmp_path / "run", progress=progress)
    summary = summarize(open_run(tmp_path / "run"))
    assert summary.simulated_s == pytest.approx(scenario.horizon / 2, rel=0.02)
    shown = CliRunner().invoke(main, ["summary", str(tmp_path / "run")]).output
    assert "12h simulated of 1d" in shown and "incomplete" in shown
