"""The metric registry: names resolve (or fail with a clear message and path), and each value
agrees with the run's tables computed independently (pandas), not with the summary's code."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from twin.analysis import MetricError, measure, parse_metric
from twin.cli import main
from twin.config import ConfigError, builtin_scenarios, load_config, validate_scenario
from twin.simulation import simulate
from twin.sweep.metric_names import check_metric_names
from twin.trace.reader import open_run
from twin.trace.scan import grouped, scan


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    data = yaml.safe_load(builtin_scenarios()["tiny"].read_text())
    data["horizon"] = "4h"
    data["links"] = [{"a": "north", "b": "south", "capacity_gbps": 40}]
    data["workloads"]["training"]["datasets"] = 50
    data["workloads"]["training"]["arrivals_per_day"] = 4000  # jobs wait
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
    out = tmp_path_factory.mktemp("runs") / "run"
    simulate(validate_scenario(data), out)
    return out


def frame(run_dir, table):
    return open_run(run_dir).table(table).to_pandas()


def test_every_job_metric_agrees_with_the_jobs_table(run_dir):
    jobs = frame(run_dir, "jobs")
    started = jobs[jobs.start_s.notna()]
    names = ["jobs.submitted", "jobs.started", "jobs.completed", "jobs.failed"]
    names += ["jobs.wait_mean_s", "jobs.wait_p95_s", "jobs.wait_p95_s[tenant=startup]"]
    values = measure(run_dir, names)
    assert values["jobs.submitted"] == len(jobs) > 10
    assert values["jobs.started"] == len(started)
    assert values["jobs.completed"] == (jobs.state == "completed").sum() > 0
    assert values["jobs.failed"] == (jobs.state == "failed").sum()
    assert values["jobs.wait_mean_s"] == pytest.approx(started.wait_s.mean(), rel=1e-12)
    assert values["jobs.wait_p95_s"] == pytest.approx(started.wait_s.quantile(0.95), rel=1e-12)
    startup = started[started.tenant == "startup"].wait_s
    assert values["jobs.wait_p95_s[tenant=startup]"] == pytest.approx(startup.quantile(0.95))
    assert values["jobs.wait_p95_s[tenant=startup]"] != values["jobs.wait_p95_s"]


def test_energy_network_and_inference_metrics_agree_with_their_tables(run_dir):
    sites, transfers = frame(run_dir, "sites"), frame(run_dir, "transfers")
    inference, regions = frame(run_dir, "inference"), frame(run_dir, "inference_regions")
    values = measure(run_dir)
    assert values["co2_t"] == pytest.approx(sites.co2_t.sum(), rel=1e-12)
    assert measure(run_dir, ["co2_t[site=north]"])["co2_t[site=north]"] == pytest.approx(
        sites[sites.site == "north"].co2_t.sum(), rel=1e-12
    )
    assert values["cost_eur"] == pytest.approx(sites.cost_eur.sum(), rel=1e-12)
    delivered = transfers[transfers.state == "delivered"]
    assert values["network.tb_moved"] == pytest.approx(delivered.bytes.sum() / 1e12, rel=1e-12)
    assert values["transfers.p95_s"] == pytest.approx(delivered.duration_s.quantile(0.95))
    assert values["transfers.count"] == len(transfers)
    resolved = inference.served.sum() + inference.dropped.sum()
    attainment = 1 - inference.slo_misses.sum() / resolved
    assert values["inference.embed.slo_attainment"] == pytest.approx(attainment, rel=1e-12)
    assert 0 < attainment < 1
    assert values["inference.embed.dropped"] == inference.dropped.sum()
    assert values["inference.embed.latency_p99_s"] == pytest.approx(
        inference.latency_p99_ms.max() / 1000
    )
    rome = regions[regions.region == "rome"]
    name = "inference.embed.slo_attainment[region=rome]"
    expected = 1 - rome.slo_misses.sum() / (rome.served.sum() + rome.dropped.sum())
    assert measure(run_dir, [name])[name] == pytest.approx(expected, rel=1e-12)
    assert math.isnan(values["inference.embed.ttft_p99_s"])  # not an LLM service


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("jobs.wait_p59_s", "did you mean 'jobs.wait_p99_s'"),
        ("jobs.completed[tenant=startup]", "takes no selector"),
        ("co2_t[tenant=startup]", "takes [site=…], not [tenant=…]"),
        ("jobs wait", "is not a metric name"),
        (7, "must be a string"),
    ],
)
def test_a_bad_metric_name_says_what_is_wrong(name, message):
    with pytest.raises(MetricError, match=None) as raised:
        parse_metric(name)
    assert message in str(raised.value)


def test_names_are_checked_against_the_scenario_with_their_paths():
    scenario = load_config("europe")
    good = ["jobs.wait_p95_s[tenant=startup]", "inference.chat.slo_attainment", "co2_t[site=lumi]"]
    assert [ref.name for ref in check_metric_names(good, scenario)] == good
    bad = ["inference.caht.ttft_p99_s", "co2_t[site=lumii]", "jobs.wait_p95_s", "energy"]
    with pytest.raises(ConfigError) as raised:
        check_metric_names(bad, scenario, path="sweep.metrics")
    paths = [issue.path for issue in raised.value.issues]
    assert paths == ["sweep.metrics[0]", "sweep.metrics[1]", "sweep.metrics[3]"]
    assert "did you mean 'chat'" in str(raised.value)
    assert "did you mean 'lumi'" in str(raised.value)


def test_cli_lists_metrics_and_prints_a_runs_values_as_strict_json(run_dir):
    runner = CliRunner()
    listed = runner.invoke(main, ["metrics", "--json"])
    assert listed.exit_code == 0
    registry = json.loads(listed.output)
    assert registry["jobs.wait_p95_s"] == {
        "family": "jobs.wait_p95_s",
        "unit": "s",
        "better": "lower",
        "description": "95th percentile wait of started jobs",
        "selector": "tenant",
    }
    values = runner.invoke(main, ["metrics", str(run_dir), "--json"])
    assert values.exit_code == 0
    parsed = json.loads(values.output, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert parsed["inference.embed.ttft_p99_s"] is None  # NaN as null
    summary = json.loads(runner.invoke(main, ["summary", str(run_dir), "--json"]).output)
    assert summary["metrics"] == parsed


def test_a_scan_in_small_chunks_gives_the_same_table_and_groups(run_dir, tmp_path):
    table = open_run(run_dir).table("links")
    with (
        pa.OSFile(str(tmp_path / "links.arrow"), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table, max_chunksize=7)  # in batches of 7 rows
    whole = table.select(["link", "a", "utilisation"])
    chunks = list(scan(tmp_path, "links", ["link", "a", "utilisation"], chunk_rows=20))
    assert len(chunks) >= 3
    assert pa.concat_tables(chunks).equals(whole)
    aggregates = [("utilisation", "sum"), ("utilisation", "max"), ("utilisation", "count")]
    by_chunks = sorted(grouped(chunks, ["link", "a"], aggregates), key=str)
    by_table = whole.group_by(["link", "a"]).aggregate(aggregates).to_pylist()
    assert len(by_chunks) == len(by_table) == 2  # one link, both directions
    for mine, theirs in zip(by_chunks, sorted(by_table, key=str), strict=True):
        assert mine["utilisation_count"] == theirs["utilisation_count"]
        assert mine["utilisation_max"] == theirs["utilisation_max"]
        assert mine["utilisation_sum"] == pytest.approx(theirs["utilisation_sum"], rel=1e-12)
