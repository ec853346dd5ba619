"""The dashboard's data access: safe run lookup, status of broken runs, snapshots by binary
search, downsampled series, server-side job queries, and the planned network/inference tables."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pyarrow as pa
import pytest
from twin.dashboards.errors import RunAccessError, RunError
from twin.dashboards.geo import parse_geo
from twin.dashboards.queries import parse_filter_query
from twin.dashboards.store import RunStore
from twin.dashboards.values import JobFilter, kpi_deltas
from twin.dashboards.views import TableView, downsample

from twin.trace.reader import open_run
from twin.trace.summary import summarize


@pytest.fixture(scope="module")
def store(runs_dir):
    return RunStore(runs_dir)


@pytest.fixture(scope="module")
def sites(runs_dir):
    return open_run(runs_dir / "base").table("sites").to_pandas()


# -- the runs directory ------------------------------------------------------------------------


def test_every_directory_is_listed_with_its_status(store):
    statuses = {info.name: info.status for info in store.list_runs()}
    assert statuses == {
        "badjson": "malformed",
        "base": "complete",
        "escape": "refused",
        "green": "complete",
        "incomplete": "incomplete",
        "net": "complete",
        "nomanifest": "malformed",
        "nosites": "malformed",
        "truncated": "malformed",
    }
    problems = {info.name: info.problem for info in store.list_runs()}
    assert "sites.arrow" in problems["truncated"]
    assert "no sites.arrow" in problems["nosites"]
    assert "KeyboardInterrupt" in problems["incomplete"]
    assert "outside" in problems["escape"]


@pytest.mark.parametrize(
    "name", ["../outside", "..", ".", "", "base/../../x", "escape", "escape/manifest.json"]
)
def test_names_that_leave_the_runs_dir_are_refused(store, name):
    with pytest.raises(RunAccessError, match="refused"):
        store.get(name)


def test_absolute_paths_are_refused_even_inside(store, runs_dir):
    with pytest.raises(RunAccessError, match="absolute"):
        store.get(str(runs_dir / "base"))
    with pytest.raises(RunAccessError):
        store.get("/etc")


def test_a_symlink_that_stays_inside_is_followed(tmp_path, runs_dir):
    root = tmp_path / "runs"
    shutil.copytree(runs_dir / "base", root / "real")
    os.symlink(root / "real", root / "alias")
    os.symlink(runs_dir / "base", root / "away")
    store = RunStore(root)
    assert store.get("alias").scenario == "tiny"
    with pytest.raises(RunAccessError):
        store.get("away")


def test_a_missing_runs_dir_is_an_error(tmp_path):
    with pytest.raises(RunError, match="not a directory"):
        RunStore(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["badjson", "nomanifest"])
def test_unreadable_manifests_raise_run_error(store, name):
    with pytest.raises(RunError):
        store.get(name)


@pytest.mark.parametrize("name", ["truncated", "nosites"])
def test_broken_tables_raise_run_error_when_read(store, name):
    data = store.get(name)
    with pytest.raises(RunError):
        data.snapshot(0.0)


def test_an_incomplete_run_still_reads(store):
    data = store.get("incomplete")
    assert data.status == "incomplete"
    assert data.snapshot(3600).sites


def test_runs_are_cached_by_path_and_manifest_mtime(tmp_path, runs_dir):
    root = tmp_path / "runs"
    for name in ("a", "b", "c"):
        shutil.copytree(runs_dir / "base", root / name)
    store = RunStore(root, cache_size=2)
    first = store.get("a")
    assert store.get("a") is first
    stat = (root / "a" / "manifest.json").stat()
    os.utime(root / "a" / "manifest.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = store.get("a")
    assert again is not first
    store.get("b")
    store.get("c")
    assert store.get("a") is not again  # evicted: the cache holds two runs


# -- replay ------------------------------------------------------------------------------------


def test_snapshot_is_the_last_stamp_at_or_before_t(store, sites):
    data = store.get("base")
    stamps = np.unique(sites.time_s)
    for t, expected in [
        (stamps[3] + 1.0, stamps[3]),
        (stamps[3], stamps[3]),
        (0.0, stamps[0]),
        (1e12, stamps[-1]),
    ]:
        snapshot = data.snapshot(t)
        assert snapshot.stamp_s == expected
        rows = sites[sites.time_s == expected].set_index("site")
        assert set(snapshot.sites) == set(rows.index)
        for site, state in snapshot.sites.items():
            assert state.busy == rows.loc[site, "busy_accelerators"]
            assert state.queue == rows.loc[site, "queue_length"]
            assert state.utilisation == pytest.approx(rows.loc[site, "utilisation"])
            assert state.power_mw == pytest.approx(rows.loc[site, "power_mw"])


def test_an_unsorted_table_is_sorted_once():
    table = pa.table({"time_s": [3.0, 1.0, 2.0, 1.0], "site": ["a", "a", "b", "b"]})
    view = TableView(table, "time_s", "site")
    assert list(view.times) == [1.0, 1.0, 2.0, 3.0]
    assert view.rows_at(1.5) == (0, 2, 1.0)
    assert list(view.stamps) == [1.0, 2.0, 3.0]
    assert [view.key_at(i) for i in view.rows_of("a")] == ["a", "a"]


def test_timeline_follows_the_telemetry_stamps(store, sites):
    timeline = store.get("base").timeline
    stamps = np.unique(sites.time_s)
    assert (timeline.first_s, timeline.last_s) == (stamps[0], stamps[-1])
    assert timeline.step_s == pytest.approx(600.0)


def test_downsample_keeps_peaks_and_bounds_points():
    x = np.arange(100_000, dtype=float)
    y = np.sin(x / 500)
    y[12_345] = 50.0
    y[54_321] = -50.0
    dx, dy = downsample(x, y, 1000)
    assert len(dx) <= 1000
    assert np.all(np.diff(dx) > 0)
    assert dy.max() == 50.0 and dy.min() == -50.0
    small = np.arange(10.0)
    assert downsample(small, small, 1000)[0] is small


def test_downsample_ignores_nans():
    y = np.full(1000, np.nan)
    y[500] = 3.0
    _, dy = downsample(np.arange(1000.0), y, 10)
    assert 3.0 in dy


def test_site_series_are_the_sites_rows(store, sites):
    panels = store.get("base").site_series("north")
    titles = [p.title for p in panels]
    assert titles == ["accelerators", "queue (jobs)", "power (MW)", "CO2 (t per interval)"]
    north = sites[sites.site == "north"]
    busy = panels[0].lines[0]
    assert np.array_equal(busy.x, north.time_s.to_numpy())
    assert np.array_equal(busy.y, north.busy_accelerators.to_numpy())
    cap = [line for line in panels[2].lines if line.name == "power cap"]
    assert cap and cap[0].y[0] == pytest.approx(0.2)  # tiny's north power_mw
    assert np.array_equal(cap[0].y, north.power_cap_mw.to_numpy())  # the cap in effect


def test_series_are_downsampled(store):
    panels = store.get("base").site_series("north", max_points=10)
    assert all(len(line.x) <= 10 for panel in panels for line in panel.lines)


def test_totals_sum_the_sites_per_stamp(store, sites):
    panels = store.get("base").totals()
    busy = panels[0].lines[0]
    expected = sites.groupby("time_s").busy_accelerators.sum()
    assert np.array_equal(busy.x, expected.index.to_numpy())
    assert np.array_equal(busy.y, expected.to_numpy())


# -- explore -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["base", "net", "incomplete"])
def test_kpis_are_the_summary_ones(store, runs_dir, name):
    assert store.get(name).kpis() == summarize(open_run(runs_dir / name)).kpis()


def test_jobs_are_filtered_sorted_and_paged(store, runs_dir):
    jobs = open_run(runs_dir / "base").table("jobs").to_pandas()
    data = store.get("base")
    rows, total = data.jobs_page(page_size=10)
    assert total == len(jobs) and len(rows) == 10
    chosen = JobFilter(sites=("north",), tenants=("academia", "industry"))
    rows, total = data.jobs_page(chosen, page_size=1000)
    expected = jobs[(jobs.site == "north") & jobs.tenant.isin(["academia", "industry"])]
    assert total == len(expected) == len(rows)
    assert {r["site"] for r in rows} == {"north"}
    rows, total = data.jobs_page(
        sort_by=[{"column_id": "wait_h", "direction": "desc"}], page=0, page_size=5
    )
    waits = sorted(jobs.wait_s.dropna() / 3600, reverse=True)[:5]
    assert [r["wait_h"] for r in rows] == pytest.approx(waits)
    second, _ = data.jobs_page(
        sort_by=[{"column_id": "wait_h", "direction": "desc"}], page=1, page_size=5
    )
    assert second[0]["wait_h"] <= rows[-1]["wait_h"]


def test_the_tables_own_filter_row_works_server_side(store, runs_dir):
    jobs = open_run(runs_dir / "base").table("jobs").to_pandas()
    data = store.get("base")
    _, total = data.jobs_page(query='{state} scontains "compl" && {accelerators} >= 4')
    assert total == len(jobs[(jobs.state == "completed") & (jobs.accelerators >= 4)])
    _, total = data.jobs_page(query="{wait_h} > 0.5")
    assert total == int((jobs.wait_s / 3600 > 0.5).sum())


def test_parse_filter_query():
    assert parse_filter_query('{site} scontains "north" && {wait_h} ge 2 && {x} bogus 1') == [
        ("site", "contains", "north"),
        ("wait_h", "ge", "2"),
    ]
    assert parse_filter_query("") == []


def test_wait_histogram_counts_the_jobs_that_started(store, runs_dir):
    jobs = open_run(runs_dir / "base").table("jobs").to_pandas()
    histogram = store.get("base").wait_histogram()
    assert histogram.counts["started jobs"].sum() == jobs.start_s.notna().sum()
    north = store.get("base").wait_histogram(JobFilter(sites=("north",)))
    assert (
        north.counts["started jobs"].sum() == (jobs.start_s.notna() & (jobs.site == "north")).sum()
    )


def test_kpi_deltas():
    rows = kpi_deltas({"a": 1.0, "b": 2.0}, {"b": 3.0, "c": 1.0})
    assert [(r.name, r.a, r.b, r.delta) for r in rows] == [
        ("a", 1.0, None, None),
        ("b", 2.0, 3.0, 1.0),
        ("c", None, 1.0, None),
    ]
    assert rows[1].delta_pct == pytest.approx(50.0)


# -- the planned tables: links, inference, transfers -------------------------------------------


def test_geo_comes_from_the_config(store):
    geo = store.get("net").geo
    assert [s.id for s in geo.sites] == ["north", "south"]
    assert geo.sites[0].accelerators == 64 and geo.sites[0].power_mw == pytest.approx(0.2)
    assert [p.id for p in geo.pops] == ["pop_x"]
    assert [(e.id, e.capacity_gbps) for e in geo.links] == [
        ("north~pop_x", 400.0),
        ("pop_x~south", 100.0),
    ]
    assert parse_geo("{not: [yaml") == parse_geo("") == parse_geo("- a list")


def test_link_snapshot_folds_both_directions(store, runs_dir):
    data = store.get("net")
    links = open_run(runs_dir / "net").table("links").to_pandas()
    t = float(np.unique(links.time_s)[5])
    snapshot = data.snapshot(t)
    assert set(snapshot.links) == {"north~pop_x", "pop_x~south"}
    rows = links[(links.time_s == t) & (links.link == "north~pop_x")]
    state = snapshot.links["north~pop_x"]
    assert state.utilisation == pytest.approx(rows.utilisation.max())
    assert state.active_flows == rows.active_flows.sum()


def test_runs_without_network_tables_have_none(store):
    data = store.get("base")
    assert data.snapshot(3600).links is None
    assert data.transfer_histogram() is None
    titles = [p.title for p in data.site_series("north")]
    assert titles == ["accelerators", "queue (jobs)", "power (MW)", "CO2 (t per interval)"]


def test_link_series_has_one_line_per_direction(store):
    panels = store.get("net").link_series("north~pop_x")
    assert [p.title for p in panels] == ["throughput (Gbps)", "utilisation", "flows"]
    assert sorted(line.name for line in panels[0].lines) == ["north → pop_x", "pop_x → north"]


def test_inference_panels_join_the_site_series(store, runs_dir):
    """One panel per service (this run's windows have no sketches, and its config names
    no services: each window's end-to-end p50 and p99), then the site's SLO misses."""
    panels = store.get("net").site_series("south")
    *_, chat, search, misses = panels
    per = "end-to-end latency (ms), each window's percentiles"
    assert [chat.title, search.title] == [f"chat: {per}", f"search: {per}"]
    table = open_run(runs_dir / "net").table("inference").to_pandas()
    for panel, service in ((chat, "chat"), (search, "search")):
        mine = table[(table.site == "south") & (table.service == service)]
        lines = {line.name: line for line in panel.lines}
        assert sorted(lines) == ["p50", "p99"]  # no SLO known: no threshold
        assert np.array_equal(lines["p99"].y, mine.latency_p99_ms.to_numpy())
        assert np.array_equal(lines["p50"].y, mine.latency_p50_ms.to_numpy())
    south = table[table.site == "south"].groupby("time_s").slo_misses.sum()
    assert misses.title == "SLO misses"
    assert np.array_equal(misses.lines[0].y, south.to_numpy())


def test_transfer_histogram_by_kind(store):
    histogram = store.get("net").transfer_histogram()
    assert histogram.log_x
    assert {k: int(v.sum()) for k, v in histogram.counts.items()} == {
        "bulk": 20,
        "checkpoint": 20,
        "dataset": 20,
    }
