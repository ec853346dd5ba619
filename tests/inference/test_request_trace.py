"""Inference trace replay (``services[].trace``) against the trace itself: per-window arrival
counts are a histogram of the trace's mapped times, the requests keep their own
(prompt, output) pairs and service times, rate scaling, peak_rps, looping, the region
mapping, and the config errors a traced service can make."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from twin.cli import main
from twin.config import ConfigError
from twin.config.data_files import data_file
from twin.importers import read_workload

AZURE = "builtin:azure_llm_conversation_tokens.csv.gz"
LORA = "builtin:alibaba_lora_requests.csv.gz"


@pytest.fixture(scope="module")
def azure() -> np.ndarray:
    """(arrival s, prompt, output) of every Azure request, parsed here from the file."""
    path = data_file(AZURE.removeprefix("builtin:"))
    with gzip.open(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return np.array(
        [
            (float(r["arrived_at"]), int(r["num_prefill_tokens"]), int(r["num_decode_tokens"]))
            for r in rows
        ]
    )


def traced(kit, trace: dict, kind: str = "llm", **extra) -> dict:
    """A service of ``kind`` replaying ``trace`` (no synthetic rate or lengths)."""
    if kind == "llm":
        service = kit.llm(peak_rps=1.0, replicas={"a": 2}, **extra)
        del service["prompt_tokens"], service["output_tokens"]
    else:
        service = kit.single(peak_rps=1.0, replicas={"a": 1}, **extra)
        del service["service_s"]
    del service["peak_rps"]
    service["trace"] = trace
    return service


def run(kit, tmp_path: Path, service: dict, name: str = "run", **options):
    regions = options.pop("regions", [kit.region("r")])
    sites = options.pop("sites", [kit.site("a", 16)])
    data = kit.scenario(sites, regions, [service], **options)
    _, inference, by_region = kit.run_trace(data, tmp_path / name)
    return inference, by_region


def window_counts(times: np.ndarray, ends: np.ndarray, window: float) -> np.ndarray:
    """Requests with ``end − window ≤ t < end`` for each window end."""
    return np.searchsorted(times, ends, "left") - np.searchsorted(times, ends - window, "left")


def window_sums(times: np.ndarray, values: np.ndarray, ends: np.ndarray, window: float):
    cumulative = np.concatenate([[0], np.cumsum(values)])
    upper = np.searchsorted(times, ends, "left")
    lower = np.searchsorted(times, ends - window, "left")
    return cumulative[upper] - cumulative[lower]


def test_per_window_arrivals_and_token_sums_are_the_traces(kit, tmp_path, azure):
    inference, by_region = run(kit, tmp_path, traced(kit, {"file": AZURE}), window=10.0)
    ends = kit.column(inference, "time_s")
    assert np.array_equal(ends, np.arange(1, 361) * 10.0)  # every window, the last included
    times = azure[:, 0] - azure[:, 0].min()
    assert np.array_equal(kit.column(inference, "arrivals"), window_counts(times, ends, 10.0))
    for name, k in (("arrival_prompt_tokens", 1), ("arrival_output_tokens", 2)):
        assert np.array_equal(
            kit.column(inference, name), window_sums(times, azure[:, k], ends, 10)
        )
    # the whole trace (3,502 s) falls inside the hour, and nothing is lost on the way
    assert kit.column(inference, "arrivals").sum() == len(azure) == 19366
    assert kit.column(by_region, "arrivals").sum() == len(azure)
    served = kit.column(inference, "served").sum() + kit.column(inference, "in_system")[-1]
    assert kit.column(inference, "dropped").sum() == 0 and served == len(azure)


def test_each_request_keeps_its_own_prompt_output_pair(kit, tmp_path, azure):
    # Stretched 20×, most 1 s windows hold one request or none: a window with one arrival
    # shows that request's pair.
    trace = {"file": AZURE, "rate_scale": 0.05}
    inference, _ = run(kit, tmp_path, traced(kit, trace), window=1.0, horizon=1200.0)
    times = (azure[:, 0] - azure[:, 0].min()) / 0.05
    ends = kit.column(inference, "time_s")
    arrivals = kit.column(inference, "arrivals")
    assert np.array_equal(arrivals, window_counts(times, ends, 1.0))
    lone = ends[arrivals == 1]
    assert len(lone) > 150
    index = np.searchsorted(times, lone, "left") - 1  # the one request before each end
    assert np.all((times[index] >= lone - 1) & (times[index] < lone))
    shown = np.column_stack(
        [
            kit.column(inference, "arrival_prompt_tokens")[arrivals == 1],
            kit.column(inference, "arrival_output_tokens")[arrivals == 1],
        ]
    )
    assert np.array_equal(shown, azure[index, 1:].astype(np.int64))
    # the pairs are the trace's, not its marginals recombined
    assert not np.array_equal(shown[:, 1], np.sort(shown[:, 1]))


def test_rate_scale_2_doubles_the_arrivals_over_a_fixed_span(kit, tmp_path, azure):
    times = azure[:, 0] - azure[:, 0].min()
    runs = {}
    for scale, horizon in ((1.0, 2400.0), (2.0, 1200.0)):
        trace = {"file": AZURE, "rate_scale": scale}
        inference, _ = run(
            kit, tmp_path, traced(kit, trace), f"x{scale}", horizon=horizon, window=60
        )
        ends = kit.column(inference, "time_s")
        arrivals = kit.column(inference, "arrivals")
        assert np.array_equal(arrivals, window_counts(times / scale, ends, 60.0))
        runs[scale] = (ends, arrivals)
    # the first 1,200 s at 2× hold what the first 2,400 s held at 1×: twice the count
    # over the same span, window pair by window pair
    (ends_1, arrivals_1), (ends_2, arrivals_2) = runs[1.0], runs[2.0]
    pairs = 2 * len(ends_2)
    assert np.array_equal(ends_1[1:pairs:2], 2 * ends_2)
    assert np.array_equal(arrivals_1[0:pairs:2] + arrivals_1[1:pairs:2], arrivals_2)
    assert arrivals_2.sum() == np.sum(times < 2400) > 1.5 * np.sum(times < 1200)


def test_a_looped_window_covers_a_horizon_longer_than_the_trace(kit, tmp_path, azure):
    trace = {"file": AZURE, "window": {"start": 600, "end": 1200}, "loop": True}
    inference, _ = run(kit, tmp_path, traced(kit, trace), horizon=4 * 3600.0, window=30.0)
    since = azure[:, 0] - azure[:, 0].min()
    rel = since[(since >= 600) & (since < 1200)] - 600
    passes = [(rel + k * 600.0) / 1.0 for k in range(24)]  # period: the window's 600 s
    times = 0.0 + np.concatenate(passes)
    ends = kit.column(inference, "time_s")
    assert ends[-1] == 4 * 3600 and np.all(kit.column(inference, "arrivals") > 0)
    assert np.array_equal(kit.column(inference, "arrivals"), window_counts(times, ends, 30.0))
    assert kit.column(inference, "arrivals").sum() > 3 * len(azure)


def test_a_loop_without_window_end_repeats_after_one_mean_gap_with_service_times(kit, tmp_path):
    path = tmp_path / "requests.csv"
    path.write_text("arrival_s,service_s\n100,1\n110,2\n130,4\n")
    trace = {"file": str(path), "loop": True, "offset": 7}
    inference, _ = run(kit, tmp_path, traced(kit, trace, kind="single"), horizon=300.0, window=5)
    # period: span 30 s + mean gap 15 s; pass k at 7 + rel + 45 k (align first: rel from 100)
    times = np.concatenate([7 + np.array([0.0, 10, 30]) + 45 * k for k in range(7)])
    ends = kit.column(inference, "time_s")
    assert np.array_equal(kit.column(inference, "arrivals"), window_counts(times, ends, 5.0))
    # one server, never two requests at once: each latency is the request's own service time
    latency = kit.column(inference, "latency_p50_ms")
    done = kit.column(inference, "served") == 1
    served_s = latency[done] / 1000
    expected = np.tile([1.0, 2.0, 4.0], 7)[: len(served_s)]
    assert len(served_s) >= 18 and np.allclose(served_s, expected, rtol=0, atol=1e-9)


def test_peak_rps_makes_the_busiest_hour_average_that_rate(kit, tmp_path):
    # 100 requests in the first hour, 400 in the second: the busiest hour holds 400, so
    # peak_rps 1 compresses trace time 9-fold
    path = tmp_path / "requests.csv"
    rel = np.concatenate([36.0 * np.arange(100), 3600 + 9.0 * np.arange(400)])
    path.write_text("arrival_s,service_s\n" + "".join(f"{float(t)!r},0.001\n" for t in rel))
    trace = {"file": str(path), "peak_rps": 1.0}
    service = traced(kit, trace, kind="single", servers=4)
    inference, _ = run(kit, tmp_path, service, horizon=900.0, window=20.0)
    ends = kit.column(inference, "time_s")
    arrivals = kit.column(inference, "arrivals")
    assert np.array_equal(arrivals, window_counts(rel / 9.0, ends, 20.0))
    busiest = arrivals[(ends > 400) & (ends <= 800)]
    assert busiest.sum() == 400  # 400 requests in the 400 s the busiest hour replays in


def test_regions_are_drawn_once_per_request_by_their_shares(kit, tmp_path, azure):
    regions = [kit.region("north", lat=60, lon=10), kit.region("south", lat=40, lon=10)]
    regions.append(kit.region("idle", lat=50, lon=10))
    sites = [kit.site("a", 16, lat=60, lon=10), kit.site("b", 16, lat=40, lon=10)]
    trace = {"file": AZURE, "regions": {"north": 3, "south": 1}}
    totals = []
    for name, window, seed in (("w10", 10.0, 0), ("w30", 30.0, 0), ("seed1", 10.0, 1)):
        service = traced(kit, trace)
        service["replicas"] = {"a": 2, "b": 2}
        inference, by_region = run(
            kit, tmp_path, service, name, regions=regions, sites=sites, window=window, seed=seed
        )
        per_region = {
            region: kit.column(kit.rows(by_region, region=region), "arrivals").sum()
            for region in ("north", "south", "idle")
        }
        # nearest routing: each region's requests go to the site beside it
        assert per_region["north"] == kit.column(kit.rows(inference, site="a"), "arrivals").sum()
        assert per_region["south"] == kit.column(kit.rows(inference, site="b"), "arrivals").sum()
        totals.append(per_region)
    assert totals[0] == totals[1]  # one mapping per seed, whatever the window
    assert totals[0] != totals[2]
    for per_region in totals:
        n = len(azure)
        assert per_region["idle"] == 0 and per_region["north"] + per_region["south"] == n
        sigma = np.sqrt(n * 0.75 * 0.25)
        assert abs(per_region["north"] - 0.75 * n) < 4 * sigma


def scenario_with(kit, service: dict, **options) -> dict:
    return kit.scenario([kit.site("a", 16)], [kit.region("r")], [service], **options)


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda s: s.update(peak_rps=3.0), "services[0].peak_rps", "not used by a traced"),
        (lambda s: s["trace"].update(file=LORA), "services[0].trace", "no output tokens"),
        (lambda s: s["trace"].update(regions={"nowhere": 1}), "trace.regions.nowhere", "unknown"),
        (lambda s: s["trace"].update(peak_rps=2, rate_scale=2), "services[0].trace", "not both"),
    ],
)
def test_config_errors_of_a_traced_llm_service(kit, change, path, words):
    service = traced(kit, {"file": AZURE})
    change(service)
    with pytest.raises(ConfigError) as caught:
        kit.build(scenario_with(kit, service))
    assert any(path in issue.path and words in issue.message for issue in caught.value.issues), (
        caught.value.issues
    )


def test_a_single_service_needs_service_times_and_fluid_is_refused(kit):
    service = traced(kit, {"file": AZURE}, kind="single")
    with pytest.raises(ConfigError) as caught:
        kit.build(scenario_with(kit, service))
    (issue,) = caught.value.issues
    assert (
        issue.path.endswith("services[0].trace") and "no service time at line 2, 3" in issue.message
    )
    data = scenario_with(kit, traced(kit, {"file": AZURE}))
    data["workloads"]["inference"]["fidelity"] = "fluid"
    with pytest.raises(ConfigError) as caught:
        kit.build(data)
    assert any("fidelity" in issue.message for issue in caught.value.issues)
    service = kit.llm(replicas={"a": 1}, peak_rps=1.0)
    del service["peak_rps"]
    with pytest.raises(ConfigError) as caught:
        kit.build(scenario_with(kit, service))
    assert [issue.path for issue in caught.value.issues] == [
        "workloads.inference.services[0].peak_rps"
    ]


def test_twin_run_refuses_a_malformed_trace_with_its_lines_exit_2_and_writes_nothing(kit, tmp_path):
    trace = tmp_path / "azure.csv"
    trace.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,1\n1,2\n-1,1,1\n2,x,1\n")
    config = tmp_path / "replay.yaml"
    service = traced(kit, {"file": "azure.csv", "format": "azure_llm"})  # from the YAML's folder
    config.write_text(yaml.safe_dump(scenario_with(kit, service)))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(config), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "trace.file" in result.output
    for line in (3, 4, 5):
        assert f"line {line}:" in result.output
    assert not out.exists()


def test_the_lora_trace_imported_to_arrow_replays_as_the_csv_does(kit, tmp_path):
    out = tmp_path / "lora.arrow"
    result = CliRunner().invoke(main, ["import", "alibaba_lora", LORA, "--out", str(out)])
    assert result.exit_code == 0, result.output
    window = {"start": 0, "end": 2 * 86400}
    tables = []
    for name, trace in (
        ("csv", {"file": LORA}),
        ("arrow", {"file": str(out), "format": "arrow"}),
    ):
        trace |= {"window": window, "peak_rps": 1.0}
        service = traced(kit, trace, kind="single", servers=64)
        tables.append(run(kit, tmp_path, service, name, horizon=4 * 3600.0, window=60.0)[0])
    assert tables[0].equals(tables[1])
    # peak_rps: the busiest hour of trace time (an hour from a request) replays at 1 req/s
    arrival = kit.column(read_workload("requests", "arrow", out).table, "arrival_s")
    rel = arrival[arrival < 2 * 86400]
    busiest = np.max(np.searchsorted(rel, rel + 3600, "left") - np.arange(len(rel))) / 3600
    ends = kit.column(tables[0], "time_s")
    expected = window_counts(rel / (1.0 / busiest), ends, 60.0)
    assert np.array_equal(kit.column(tables[0], "arrivals"), expected) and expected.sum() > 150


def test_slo_aware_splits_a_regions_requests_over_sites_and_loses_none(kit, tmp_path, azure):
    service = traced(kit, {"file": AZURE, "rate_scale": 3}, slo={"ttft_s": 2.0})
    service["replicas"] = {"a": 1, "b": 2}
    sites = [kit.site("a", 16, lat=50, lon=10), kit.site("b", 16, lat=48, lon=11)]
    inference, _ = run(
        kit, tmp_path, service, sites=sites, horizon=1200.0, window=10.0, routing="slo_aware"
    )
    per_site = {s: kit.rows(inference, site=s) for s in ("a", "b")}
    ends = kit.column(per_site["a"], "time_s")
    assert np.array_equal(ends, kit.column(per_site["b"], "time_s"))
    both = sum(kit.column(table, "arrivals") for table in per_site.values())
    times = (azure[:, 0] - azure[:, 0].min()) / 3
    assert np.array_equal(both, window_counts(times, ends, 10.0))
    # the nearer site fills to its capacity, the rest spills over to the other
    assert all(kit.column(table, "arrivals").sum() > 1000 for table in per_site.values())


def test_a_loop_that_cannot_repeat_is_refused_before_any_run_directory(kit, tmp_path):
    """One request and no window end: nothing to repeat. `twin run` refuses it at load (exit
    2, the config path, no run directory), as it does a looped rate beyond the bounds."""
    one = tmp_path / "one.csv"
    one.write_text("arrival_s,prompt_tokens,output_tokens\n0,10,10\n")

    def scenario(trace: dict) -> dict:
        return kit.scenario([kit.site("a", 16)], [kit.region("r")], [traced(kit, trace)])

    data = scenario({"file": str(one), "format": "csv", "loop": True})
    config = tmp_path / "loop.yaml"
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(config), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert "services[0].trace.loop: a loop needs two requests" in result.output
    assert not out.exists()
    data = scenario({"file": AZURE, "loop": True, "peak_rps": 1e9})
    config.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["run", str(config), "--out", str(out), "-q"])
    assert result.exit_code == 2 and "services[0].trace.peak_rps: asks for" in result.output
    assert not out.exists()
