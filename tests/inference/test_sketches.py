"""The latency sketches of inference.arrow: percentiles over many windows, sites and a time
range, read from the merged sketches, against the exact percentiles of the same requests
(every window's latencies captured as the model records them)."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.ipc as ipc
import pytest
from rich.console import Console

from twin.analysis.metrics import parse_metric
from twin.model.inference import ServiceModel
from twin.summary_tables import print_summary
from twin.trace import sketches
from twin.trace.reader import open_run
from twin.trace.summary import summarize

PERCENTILES = (50.0, 90.0, 99.0)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], list[tuple]]:
    """Per (service, site): (window end, ttft, tpot, latency, the region of each served
    request) of every window recorded."""
    seen: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    record = ServiceModel.record

    def capture(self: ServiceModel, site: Any, result: Any, now: float) -> None:
        key = (self.service.id, site.factory.id)
        latencies = (result.ttft.copy(), result.tpot.copy(), result.latency.copy())
        gaps, sched = result.tbt, result.sched_delay.copy()
        seen[key].append((now, *latencies, gaps, sched, result.served_regions.copy()))
        record(self, site, result, now)

    monkeypatch.setattr(ServiceModel, "record", capture)
    return seen


def pooled(
    seen: dict[tuple[str, str], list[tuple]],
    service: str,
    metric: str,
    sites: tuple[str, ...] | None = None,
    start_s: float = -np.inf,
    end_s: float = np.inf,
) -> np.ndarray:
    k = 1 + sketches.METRICS.index(metric)
    return np.concatenate(
        [
            window[k]
            for (svc, site), windows in seen.items()
            if svc == service and (sites is None or site in sites)
            for window in windows
            if start_s < window[0] <= end_s
        ]
    )


def assert_within_bucket_error(got: list[float | None], values: np.ndarray) -> None:
    """Each sketch percentile [ms] within α of the exact one: the sorted value of rank
    floor(q (n − 1)) (DDSketch's guarantee; numpy's 'lower' method)."""
    values = values[np.isfinite(values)]
    assert len(values) > 200  # enough requests for p99 to mean something
    exact = np.percentile(values, PERCENTILES, method="lower") * 1000
    assert all(g is not None for g in got)
    error = np.abs(np.array(got, dtype=float) - exact) / exact
    assert np.all(error <= sketches.ALPHA * (1 + 1e-9)), (got, exact)


def two_site_run(kit: Any, out: Path, window: float = 5.0) -> None:
    data = kit.scenario(
        [kit.site("a", 32), kit.site("b", 32, lat=45.0, lon=5.0)],
        [kit.region("r"), kit.region("s", lat=45.0, lon=5.0, share=0.5)],
        [
            kit.llm(peak_rps=4.0, replicas={"a": 2, "b": 1}),
            kit.single(peak_rps=60.0, replicas={"a": 1, "b": 1}, servers=2),
        ],
        horizon=400.0,
        window=window,
        routing="nearest",
    )
    kit.run_trace(data, out)


@pytest.mark.parametrize("window", [5.0, 400.0])
def test_run_percentiles_from_sketches_match_the_pooled_requests(
    kit: Any, tmp_path: Path, captured: dict, window: float
) -> None:
    """80 windows × 2 sites (and a one-window run): a service's p50, p90 and p99 over the
    whole run, over one site and (80 windows) over one site in a time range, within the
    bucket error, for llm and single."""
    two_site_run(kit, tmp_path, window)
    per_request = [m for m in sketches.METRICS if m != "tbt"]  # TBT counts token gaps
    cases = [("chat", m) for m in per_request] + [("svc", "latency")]
    for service, metric in cases:
        selections = [(None, None, None), (("b",), None, None)]
        selections += [(("a",), 100.0, 300.0)] if window < 100 else []
        for sites, start_s, end_s in selections:
            got = sketches.percentiles_ms(
                tmp_path, metric, PERCENTILES, service, sites, start_s, end_s
            )
            lo = -np.inf if start_s is None else start_s
            hi = np.inf if end_s is None else end_s
            values = pooled(captured, service, metric, sites, lo, hi)
            assert_within_bucket_error(got, values)
    # a demand region's requests, over every site that served them
    for service, metric in cases:
        for region in ("r", "s"):
            got = sketches.percentiles_ms(tmp_path, metric, PERCENTILES, service, regions=[region])
            k = 1 + sketches.METRICS.index(metric)
            values = np.concatenate(
                [
                    w[k][w[6] == ("r", "s").index(region)] if len(w[k]) else w[k]
                    for (svc, _), windows in captured.items()
                    if svc == service
                    for w in windows
                ]
            )
            assert_within_bucket_error(got, values)
    # single services have no TTFT or TPOT, so no sketch of them
    assert sketches.percentiles_ms(tmp_path, "ttft", [50.0], "svc") == [None]
    assert sketches.percentiles_ms(tmp_path, "tbt", [50.0], "svc") == [None]
    assert_tbt_rows_hold_the_replicas_gaps(tmp_path, captured)


def assert_tbt_rows_hold_the_replicas_gaps(run: Path, captured: dict) -> None:
    """The TBT sketches of the rows merge to exactly the gaps the replicas counted (per
    site), so their percentiles are as exact as the kernel's histogram
    (bucket for bucket the plain-Python reference's gaps: tests/kernels/test_tbt.py)."""
    index = 1 + sketches.METRICS.index("tbt")
    for sites in (("a",), ("b",), None):
        want = sum(
            (
                w[index].dense
                for (svc, site), ws in captured.items()
                for w in ws
                if svc == "chat" and (sites is None or site in sites) and w[index] is not None
            ),
            np.zeros(sketches.BUCKETS, dtype=np.int64),
        )
        rows = sketches.window_rows(run, "chat", sites)
        np.testing.assert_array_equal(sketches.merge_column(rows, "tbt"), want)
        assert want.sum() > 1000
    # a region's requests share the sites' iterations: TBT is counted per site only
    assert sketches.percentiles_ms(run, "tbt", [50.0], "chat", regions=["r"]) == [None]


def test_each_rows_sketch_counts_its_served_requests(kit: Any, tmp_path: Path) -> None:
    two_site_run(kit, tmp_path)
    inference = open_run(tmp_path).table("inference")
    for metric in sketches.METRICS:
        bins = inference[f"{metric}_sketch_bins"].to_pylist()
        counts = inference[f"{metric}_sketch_counts"].to_pylist()
        for b, c in zip(bins, counts, strict=True):
            assert (b is None) == (c is None)
            assert b is None or (len(b) == len(c) and b == sorted(set(b)) and min(c) > 0)
    counts = inference["latency_sketch_counts"].to_pylist()
    totals = np.array([sum(c) if c is not None else 0 for c in counts])
    np.testing.assert_array_equal(totals, kit.column(inference, "served"))


def test_summary_and_metrics_read_the_merged_sketches(kit: Any, tmp_path: Path) -> None:
    """``twin summary``'s whole-run and per-site percentiles and the metrics registry's
    ``inference.<service>.<metric>_<p>_ms`` are the merged sketches' percentiles."""
    two_site_run(kit, tmp_path)
    summary = summarize(open_run(tmp_path))
    chat = next(row for row in summary.services if row["service"] == "chat")
    for metric in sketches.METRICS:
        whole = sketches.percentiles_ms(tmp_path, metric, [50.0, 99.0], "chat")
        assert [chat[f"{metric}_p50_ms"], chat[f"{metric}_p99_ms"]] == whole
        at_b = sketches.percentiles_ms(tmp_path, metric, [99.0], "chat", ["b"])
        assert parse_metric(f"inference.chat.{metric}_p99_ms[site=b]").value(summary) == at_b[0]
    assert parse_metric("inference.chat.ttft_p99_ms").value(summary) == chat["ttft_p99_ms"]
    assert math.isnan(parse_metric("inference.svc.ttft_p99_ms").value(summary))
    for row in summary.regions:
        whole = sketches.percentiles_ms(
            tmp_path, "latency", [50.0, 99.0], row["service"], regions=[row["region"]]
        )
        assert [row["latency_p50_ms"], row["latency_p99_ms"]] == whole
    assert len(summary.regions) == 4
    sites = {(r["service"], r["site"]) for r in summary.service_sites}
    assert sites == {("chat", "a"), ("chat", "b"), ("svc", "a"), ("svc", "b")}
    # the p99 over the run is not the median of the window p99s (why the sketches exist)
    assert chat["latency_p99_ms"] != pytest.approx(chat["latency_p99_ms_median_window"], 0.02)


def test_a_run_written_before_the_sketches_still_summarises(kit: Any, tmp_path: Path) -> None:
    two_site_run(kit, tmp_path)
    path = tmp_path / "inference.arrow"
    table = ipc.open_file(path).read_all()
    old = table.drop_columns([n for n in table.column_names if "_sketch_" in n])
    with ipc.new_file(path, old.schema) as writer:
        writer.write_table(old)
    summary = summarize(open_run(tmp_path))
    assert summary.service_sites == []
    assert all(math.isnan(row["latency_p99_ms"]) for row in summary.services)
    assert summary.services[0]["served"] > 0


@pytest.mark.parametrize("fidelity", ["request", "fluid"])
def test_the_summary_table_shows_run_percentiles_or_window_ones(
    kit: Any, tmp_path: Path, fidelity: str
) -> None:
    """Sketched runs print the whole run's p50 / p99 (and per site); fluid runs, which have
    no sketches, the median and worst window p99 as before."""
    data = kit.scenario(
        [kit.site("a", 32), kit.site("b", 32, lat=45.0, lon=5.0)],
        [kit.region("r"), kit.region("s", lat=45.0, lon=5.0, share=0.5)],
        [kit.llm(peak_rps=2.0, replicas={"a": 1, "b": 1})],
        horizon=600.0,
    )
    data["workloads"]["inference"]["fidelity"] = fidelity
    kit.run_trace(data, tmp_path)
    console = Console(record=True, width=250)
    print_summary(console, summarize(open_run(tmp_path)))
    text = console.export_text()
    sketched = fidelity == "request"
    assert ("TTFT p50 / p99" in text) == sketched
    assert ("inference by site" in text) == sketched
    assert ("p99 latency (median / worst window)" in text) != sketched
    # the llm token timing (TBT, scheduling delay) comes from sketches too; co-located here
    assert ("llm token timing" in text) == sketched
    assert ("co-located" in text) == sketched


def test_a_run_written_before_disaggregation_reads_as_co_located(kit: Any, tmp_path: Path) -> None:
    two_site_run(kit, tmp_path)
    path = tmp_path / "inference.arrow"
    table = ipc.open_file(path).read_all()
    old = table.drop_columns([n for n in table.column_names if n.startswith(("prefill_", "kv_"))])
    with ipc.new_file(path, old.schema) as writer:
        writer.write_table(old)
    summary = summarize(open_run(tmp_path))
    assert {row["serving"] for row in summary.services} == {"co-located"}


def test_the_share_within_an_slo_is_the_sketch_cdf_of_the_pooled_requests(
    kit: Any, tmp_path: Path, captured: dict
) -> None:
    """The summary's SLOs as defined: each threshold as configured, and the share of the
    service's requests within it, off the exact share by at most the requests that lie
    within the bucket error of the threshold."""
    data = kit.scenario(
        [kit.site("a", 32), kit.site("b", 32, lat=45.0, lon=5.0)],
        [kit.region("r")],
        [kit.llm(peak_rps=6.0, replicas={"a": 1, "b": 1}, slo={"ttft_s": 0.1, "tpot_s": 0.0165})],
        horizon=400.0,
        window=400.0,
    )
    kit.run_trace(data, tmp_path)
    (row,) = summarize(open_run(tmp_path)).services
    assert row["slo"] == {"tpot": 0.0165, "ttft": 0.1}
    for metric, threshold in row["slo"].items():
        values = pooled(captured, "chat", metric, None, -np.inf, np.inf)
        values = values[np.isfinite(values)]
        exact = np.mean(values <= threshold)
        near = np.mean(np.abs(values - threshold) <= 2 * sketches.ALPHA * threshold)
        assert 0.02 < exact < 0.98, (metric, exact, np.percentile(values, [5, 50, 95]))
        assert abs(row["within_slo"][metric] - exact) <= near + 1e-12
    assert sketches.share_within(np.zeros(sketches.BUCKETS, dtype=np.int64), 1.0) is None
