"""The latency explorer's numbers are the sketches' (twin.trace.sketches) for the same
service, scope, range and period; its SLO share is the sketch CDF at the threshold; runs
without inference say so; and it works in a real browser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from twin.dashboards import ids
from twin.dashboards.latency import PERCENTILES, LatencyQuery, choices, series, table
from twin.dashboards.pages import latency as page
from twin.dashboards.store import RunStore

from twin.trace import sketches
from twin.trace.reader import open_run
from twin.trace.summary import summarize

from .conftest import Kit
from .test_browser import figure, serve, snap, wait
from .test_browser import pytestmark as browser_marks


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("latency-runs")
    data = Kit.scenario(
        [Kit.site("a", 16), Kit.site("b", 16, lat=45.0, lon=5.0)],
        [Kit.region("r"), Kit.region("s", lat=45.0, lon=5.0)],
        [
            Kit.llm(peak_rps=0.8, replicas={"a": 1, "b": 1}, slo={"ttft_s": 0.2, "tpot_s": 0.05}),
            Kit.single(peak_rps=5.0, replicas={"a": 1}),
        ],
        horizon=3 * 3600.0,
        window=30.0,
    )
    Kit.run_trace(data, root / "two")
    return root


def test_percentiles_over_a_selection_are_the_sketches_percentiles(runs: Path) -> None:
    """Sites over a time range, and a region (its rows are telemetry intervals: here one,
    the whole run)."""
    run = runs / "two"
    cases = [
        ("sites", ("b",), 1800.0, 9000.0),
        ("sites", None, 1800.0, 9000.0),
        ("regions", ("s",), None, None),
    ]
    for scope, keys, start_s, end_s in cases:
        for metric in ("ttft", "latency"):
            query = LatencyQuery("chat", metric, scope, keys, start_s, end_s, "whole")
            got = series(run, query)
            regions = keys if scope == "regions" else None
            sites = None if scope == "regions" else keys
            wanted = sketches.percentiles_ms(
                run, metric, PERCENTILES, "chat", sites, start_s, end_s, regions=regions
            )
            assert None not in wanted
            assert np.allclose([got.values_ms[p][0] for p in PERCENTILES], wanted, rtol=1e-12)
            assert got.ends_s.tolist() == [end_s or 10800.0]


def test_an_hourly_series_is_percentile_by_period(runs: Path) -> None:
    run = runs / "two"
    got = series(run, LatencyQuery("chat", "tpot", "sites", ("a",), period="hour"))
    rows = sketches.window_rows(run, "chat", ["a"])
    for p in PERCENTILES:
        ends, values = sketches.percentile_by_period(
            rows["time_s"].to_numpy(),
            rows["tpot_sketch_bins"],
            rows["tpot_sketch_counts"],
            p / 100,
            3600.0,
        )
        np.testing.assert_array_equal(got.ends_s, ends)
        np.testing.assert_allclose(got.values_ms[p], values, rtol=1e-12)
    assert got.ends_s.tolist() == [3600.0, 7200.0, 10800.0]


def test_the_table_has_every_site_worst_p99_first_and_counts_every_request(runs: Path) -> None:
    run = runs / "two"
    rows = table(run, LatencyQuery("chat", "latency"))
    assert sorted(r.key for r in rows) == ["a", "b"]
    assert [r.p99_ms for r in rows] == sorted((r.p99_ms for r in rows), reverse=True)
    served = sum(
        row["served"] for row in summarize(open_run(run)).services if row["service"] == "chat"
    )
    assert sum(r.requests for r in rows) == served
    for r in rows:
        assert r.p50_ms <= r.p90_ms <= r.p99_ms <= r.max_bucket_ms * (1 + 1e-12)


def test_the_slo_share_is_the_sketch_cdf_and_the_threshold_is_the_services(runs: Path) -> None:
    store = RunStore(runs)
    fig, note, records = page.explore_frame(
        store, "two", "chat", "ttft", "sites", [], [0, 3], "whole", []
    )
    dense = sketches.merge_column(sketches.window_rows(runs / "two", "chat"), "ttft")
    share = sketches.share_within(dense, 0.2)
    assert 0 < share < 1
    assert note.to_plotly_json()["props"]["data-slo-share"] == f"{share:.6f}"
    (line,) = fig["layout"]["shapes"]
    assert line["y0"] == line["y1"] == pytest.approx(200.0)
    assert {r["key"] for r in records} == {"a", "b"}


def test_a_run_without_inference_or_sketches_says_so(tmp_path: Path) -> None:
    from twin.config import load_config
    from twin.simulation import simulate

    simulate(load_config("tiny", overrides=["horizon=2h"]), tmp_path / "plain")
    run = open_run(tmp_path / "plain")
    found = choices(run.path, summarize(run), 7200.0)
    assert found.why_none == "this run has no inference services"
    status, *_ = page.run_frame(RunStore(tmp_path), "plain")
    assert "no inference services" in str(status)


@pytest.mark.usefixtures()
@browser_marks[1]
def test_the_explorer_in_a_browser(dash_duo, runs, screenshots):
    serve(dash_duo, runs, "/latency?run=two")
    wait(lambda: (figure(dash_duo, ids.LATENCY_FIGURE) or {}).get("traces"), message="lines")
    names = [t["name"] for t in figure(dash_duo, ids.LATENCY_FIGURE)["traces"]]
    assert names == ["p50", "p90", "p99"]
    dash_duo.wait_for_contains_text(f"#{ids.LATENCY_SLO}", "within the SLO")
    dash_duo.wait_for_element(f"#{ids.LATENCY_TABLE} td[data-dash-column='p99_ms']")
    # to the regions of the service, then the end-to-end latency
    dash_duo.find_element(f"#{ids.LATENCY_SCOPE} input[value='regions']").click()
    dash_duo.wait_for_contains_text(f"#{ids.LATENCY_TABLE}", "s")
    dash_duo.select_dcc_dropdown(f"#{ids.LATENCY_METRIC}", "end-to-end latency")
    dash_duo.wait_for_contains_text(f"#{ids.LATENCY_SLO}", "no SLO on this metric")
    snap(dash_duo, screenshots, "latency")
    assert not [e for e in dash_duo.get_logs() or [] if e.get("level") == "SEVERE"]


def test_replay_links_a_site_that_served_inference_to_the_explorer(runs: Path) -> None:
    from twin.dashboards.components import Context
    from twin.dashboards.pages.replay import latency_link_frame

    context = Context(store=RunStore(runs), href=lambda path: path, graph_config={})
    href, style = latency_link_frame(context, "two", "site:b")
    assert href == "/latency?run=two&site=b" and style == {}
    for selected in ("site:nowhere", "link:a~b", None, "garbage"):
        assert latency_link_frame(context, "two", selected)[1] == {"display": "none"}
