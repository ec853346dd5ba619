"""The real app in real headless Chromium (dash's ``dash_duo``, selenium, Debian's chromium and
chromium-driver): the pages render, the map draws its coastlines from the app's own assets,
the slider moves the map, a chosen site gets its series, and two runs compare."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from twin.dashboards import create_app, ids
from twin.dashboards.components import format_number
from twin.dashboards.store import RunStore

from .conftest import CHROMIUM

pytestmark = [
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
    # Skipped on a developer machine without a browser; never in CI, where .ci/run installs
    # Chromium and a missing browser must fail loudly.
    pytest.mark.skipif(
        not os.environ.get("CI")
        and (
            importlib.util.find_spec("selenium") is None
            or shutil.which("chromedriver") is None
            or not (os.path.exists(CHROMIUM) or shutil.which("chromium"))
        ),
        reason="needs dash[testing] (selenium) and Debian's chromium + chromium-driver",
    ),
]

FIGURE_JS = """
const graph = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!graph || !graph.data) { return null; }
const list = (v) => (v === undefined || v === null) ? null
    : (typeof v === 'string' || typeof v === 'number') ? v
    : v.bdata !== undefined ? v.bdata  // a numpy array, as plotly sends it (base64)
    : Array.from(v);
return {
    traces: graph.data.map(t => ({
        name: t.name || null,
        colour: t.marker ? list(t.marker.color) : null,
        width: t.marker && t.marker.line ? list(t.marker.line.width) : null,
        ids: t.customdata ? Array.from(t.customdata).map(c => c[1]) : null,
        y: t.y ? list(t.y) : null,
    })),
    title: graph.layout.title && graph.layout.title.text ? graph.layout.title.text : null,
    subplots: (graph.layout.annotations || []).map(a => a.text),
    cursor: graph.layout.shapes && graph.layout.shapes.length ? graph.layout.shapes[0].x0 : null,
};
"""


def serve(dash_duo, runs_dir: Path, path: str) -> list[tuple[str, int]]:
    """Start the app on runs_dir, open ``path``; returns the requests the server answered."""
    from flask import request

    app = create_app(runs_dir)
    served: list[tuple[str, int]] = []

    @app.server.after_request
    def record(response):
        served.append((request.path, response.status_code))
        return response

    dash_duo.driver.set_page_load_timeout(30)
    dash_duo.driver.set_script_timeout(30)
    dash_duo.start_server(app)
    dash_duo.wait_for_page(dash_duo.server_url + path)
    return served


def figure(dash_duo, graph_id: str) -> dict | None:
    return dash_duo.driver.execute_script(FIGURE_JS, graph_id)


def trace(data: dict | None, name: str) -> dict | None:
    return next((t for t in (data or {}).get("traces", []) if t["name"] == name), None)


def wait(condition, timeout: float = 10, message: str = "condition"):
    from dash.testing.wait import until

    return until(condition, timeout, msg=f"timed out waiting for {message}")


def snap(dash_duo, screenshots: Path, name: str) -> Path:
    """A full-page screenshot, for a person to look at."""
    driver = dash_duo.driver
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1440, max(1200, min(int(height) + 160, 3000)))
    path = screenshots / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def severe_logs(dash_duo) -> list:
    return [entry for entry in dash_duo.get_logs() or [] if entry.get("level") == "SEVERE"]


def test_runs_page_lists_runs_and_their_status(dash_duo, runs_dir, screenshots):
    # a run outside the runs dir is refused, not opened
    serve(dash_duo, runs_dir, "/replay?run=../outside")
    dash_duo.wait_for_contains_text(f"#{ids.REPLAY_STATUS}", "refused")
    dash_duo.wait_for_page(dash_duo.server_url + "/")
    dash_duo.wait_for_element(f"#{ids.RUNS_TABLE}")
    rows = {
        row.get_attribute("data-run"): row.get_attribute("class")
        for row in dash_duo.find_elements("tr.run-row")
    }
    assert rows == {
        info.name: f"run-row run-{info.status}" for info in RunStore(runs_dir).list_runs()
    }
    base = dash_duo.find_element("tr[data-run='base']").text
    assert "tiny" in base and "complete" in base and "6h" in base
    assert not severe_logs(dash_duo)
    snap(dash_duo, screenshots, "runs")


def test_replay_map_draws_locally_moves_with_the_slider_and_shows_a_site(
    dash_duo, runs_dir, screenshots
):
    served = serve(dash_duo, runs_dir, "/replay?run=base")
    wait(lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "factories"), message="the map")
    driver = dash_duo.driver

    # the coastlines draw, from the app's own TopoJSON: nothing comes from elsewhere
    wait(
        lambda: driver.execute_script(
            "const p = document.querySelector('#replay-map .geo .layer.coastlines path');"
            "return p && (p.getAttribute('d') || '').length > 1000;"
        ),
        message="coastlines",
    )
    assert driver.execute_script(
        "return document.querySelectorAll('#replay-map .geo .layer.land path').length"
    )
    assert ("/assets/topojson/europe_50m.json", 200) in served
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => [e.name, e.responseStatus])"
    )
    assert [s for name, s in resources if name.endswith("/topojson/europe_50m.json")] == [200]
    assert any("plotly" in name for name, _ in resources)
    assert all(name.startswith(dash_duo.server_url) for name, _ in resources), resources

    # the player has no number box of its own (the clock says the time)
    assert not dash_duo.find_elements(f"#{ids.REPLAY_PLAYER.slider} input")

    # moving the slider changes the map and the series' cursor
    before_map = trace(figure(dash_duo, ids.REPLAY_MAP), "factories")["colour"]
    wait(lambda: (figure(dash_duo, ids.REPLAY_SERIES) or {}).get("cursor"), message="series")
    before_cursor = figure(dash_duo, ids.REPLAY_SERIES)["cursor"]
    clock = dash_duo.find_element(f"#{ids.REPLAY_PLAYER.clock}").text
    thumb = dash_duo.find_element(f"#{ids.REPLAY_PLAYER.slider} [role=slider]")
    for _ in range(6):
        thumb.send_keys("\ue014")  # arrow right: one telemetry step each
    wait(
        lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "factories")["colour"] != before_map,
        message="the map to change",
    )
    wait(lambda: figure(dash_duo, ids.REPLAY_SERIES)["cursor"] != before_cursor, message="cursor")
    assert dash_duo.find_element(f"#{ids.REPLAY_PLAYER.clock}").text != clock

    # the largest factory is shown first; choosing another shows its series and outlines it
    assert figure(dash_duo, ids.REPLAY_SERIES)["title"] == "South factory"
    south_busy = figure(dash_duo, ids.REPLAY_SERIES)["traces"][0]["y"]
    dash_duo.select_dcc_dropdown(f"#{ids.REPLAY_SELECT}", value="factory · North factory")
    wait(lambda: figure(dash_duo, ids.REPLAY_SERIES)["title"] == "North factory", message="north")
    series = figure(dash_duo, ids.REPLAY_SERIES)
    assert series["subplots"][:2] == ["accelerators", "queue (jobs)"]
    assert series["traces"][0]["y"] != south_busy
    wait(
        lambda: (trace(figure(dash_duo, ids.REPLAY_MAP), "selected") or {}).get("ids") == ["north"],
        message="north ringed",
    )
    # ... and so does clicking a factory on the map (south is the second point)
    from selenium.webdriver.common.action_chains import ActionChains

    south = dash_duo.find_elements(f"#{ids.REPLAY_MAP} .scattergeo .point")[1]
    ActionChains(driver).move_to_element(south).pause(0.2).click().perform()
    wait(lambda: figure(dash_duo, ids.REPLAY_SERIES)["title"] == "South factory", message="click")

    # play advances the clock by itself
    clock = dash_duo.find_element(f"#{ids.REPLAY_PLAYER.clock}").text
    dash_duo.find_element(f"#{ids.REPLAY_PLAYER.play}").click()
    wait(
        lambda: dash_duo.find_element(f"#{ids.REPLAY_PLAYER.clock}").text != clock,
        message="play",
    )
    dash_duo.find_element(f"#{ids.REPLAY_PLAYER.play}").click()
    snap(dash_duo, screenshots, "replay")
    assert not severe_logs(dash_duo)


def test_network_and_inference_panels_show_when_the_run_has_them(dash_duo, runs_dir, screenshots):
    serve(dash_duo, runs_dir, "/replay?run=net")
    wait(lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "links"), message="links on the map")
    assert trace(figure(dash_duo, ids.REPLAY_MAP), "links")["ids"] == ["north~pop_x", "pop_x~south"]
    dash_duo.select_dcc_dropdown(f"#{ids.REPLAY_SELECT}", value="factory · North factory")
    wait(
        lambda: (
            "chat: end-to-end latency (ms), each window's percentiles"
            in figure(dash_duo, ids.REPLAY_SERIES)["subplots"]
        ),
        message="inference panels",
    )
    assert "SLO misses" in figure(dash_duo, ids.REPLAY_SERIES)["subplots"]
    dash_duo.select_dcc_dropdown(f"#{ids.REPLAY_SELECT}", value="link · north~pop_x")
    wait(
        lambda: (
            figure(dash_duo, ids.REPLAY_SERIES)["subplots"]
            == ["throughput (Gbps)", "utilisation", "flows"]
        ),
        message="link series",
    )
    snap(dash_duo, screenshots, "replay-network")
    assert not severe_logs(dash_duo)


def test_explore_pages_filters_and_sorts_jobs_on_the_server(dash_duo, runs_dir, screenshots):
    store = RunStore(runs_dir)
    serve(dash_duo, runs_dir, "/explore?run=base")
    dash_duo.wait_for_element(f"#{ids.EXPLORE_KPIS} tr[data-kpi='CO2 (t)']")
    for name, value in store.get("base").kpis().items():
        row = dash_duo.find_element(f"#{ids.EXPLORE_KPIS} tr[data-kpi='{name}']")
        assert row.text.endswith(format_number(value))
    dash_duo.wait_for_element(f"#{ids.EXPLORE_JOBS} td[data-dash-column='wait_h']")

    def column(name: str) -> list[str]:
        cells = dash_duo.find_elements(f"#{ids.EXPLORE_JOBS} td[data-dash-column='{name}']")
        return [cell.text for cell in cells]

    waits = [float(w) for w in column("wait_h") if w]
    assert waits == sorted(waits, reverse=True) and len(column("job")) == 20
    top, _ = store.get("base").jobs_page(sort_by=[{"column_id": "wait_h", "direction": "desc"}])
    assert waits[0] == pytest.approx(top[0]["wait_h"], abs=0.01)
    dash_duo.select_dcc_dropdown(f"#{ids.EXPLORE_SITE}", value="south")
    wait(lambda: set(column("site")) == {"south"}, message="site filter")
    wait(lambda: figure(dash_duo, ids.EXPLORE_WAIT), message="wait histogram")
    assert not dash_duo.find_element(f"#{ids.EXPLORE_TRANSFERS_BOX}").is_displayed()
    # a run with transfers gets their histogram
    dash_duo.wait_for_page(dash_duo.server_url + "/explore?run=net")
    wait(
        lambda: dash_duo.find_element(f"#{ids.EXPLORE_TRANSFERS_BOX}").is_displayed(),
        message="transfer histogram",
    )
    wait(lambda: len(figure(dash_duo, ids.EXPLORE_TRANSFERS)["traces"]) == 3, message="kinds")
    wait(lambda: figure(dash_duo, ids.EXPLORE_WAIT), message="wait histogram")
    assert not severe_logs(dash_duo)
    snap(dash_duo, screenshots, "explore")


def test_compare_shows_deltas_and_replays_both_maps(dash_duo, runs_dir, screenshots):
    store = RunStore(runs_dir)
    serve(dash_duo, runs_dir, "/compare?a=base&b=green")
    dash_duo.wait_for_element(f"#{ids.COMPARE_KPIS} tr[data-kpi='CO2 (t)']")
    a, b = store.get("base").kpis(), store.get("green").kpis()
    assert a != b  # lowest_carbon placement changes the outcome
    for name in ("CO2 (t)", "energy (MWh)", "mean wait (h)", "cost (k€)"):
        cells = dash_duo.find_elements(f"#{ids.COMPARE_KPIS} tr[data-kpi='{name}'] td")
        assert cells[0].text == format_number(a[name])
        assert cells[1].text == format_number(b[name])
        assert cells[2].text.startswith(format_number(b[name] - a[name], sign=True))
    wait(lambda: figure(dash_duo, ids.COMPARE_SERIES), message="overlaid series")
    names = {t["name"] for t in figure(dash_duo, ids.COMPARE_SERIES)["traces"]}
    assert names == {"base", "green"}
    wait(
        lambda: (
            trace(figure(dash_duo, ids.COMPARE_MAP_A), "factories")
            and trace(figure(dash_duo, ids.COMPARE_MAP_B), "factories")
        ),
        message="both maps",
    )
    before = [
        trace(figure(dash_duo, graph), "factories")["colour"]
        for graph in (ids.COMPARE_MAP_A, ids.COMPARE_MAP_B)
    ]
    thumb = dash_duo.find_element(f"#{ids.COMPARE_PLAYER.slider} [role=slider]")
    for _ in range(12):
        thumb.send_keys("\ue014")

    def both_moved() -> bool:
        after = [
            trace(figure(dash_duo, graph), "factories")["colour"]
            for graph in (ids.COMPARE_MAP_A, ids.COMPARE_MAP_B)
        ]
        return after[0] != before[0] and after[1] != before[1]

    wait(both_moved, message="both maps to move")
    snap(dash_duo, screenshots, "compare")
    assert not severe_logs(dash_duo)


def test_replay_draws_an_outage_on_the_map_and_its_timeline(dash_duo, fault_runs, screenshots):
    serve(dash_duo, fault_runs, "/replay?run=outage")
    wait(lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "factories"), message="the map")
    wait(lambda: figure(dash_duo, ids.REPLAY_FAULTS), message="the fault timeline")
    assert dash_duo.find_element(f"#{ids.REPLAY_FAULTS_BOX}").is_displayed()
    timeline = figure(dash_duo, ids.REPLAY_FAULTS)
    assert trace(timeline, "site outage") and trace(timeline, "accelerator failure")
    assert trace(figure(dash_duo, ids.REPLAY_MAP), "down (outage)") is None  # at 0 h: all up
    thumb = dash_duo.find_element(f"#{ids.REPLAY_PLAYER.slider} [role=slider]")
    for _ in range(18):  # 18 telemetry steps of 10 min: 3 h, inside north's outage (2 h-4 h)
        thumb.send_keys("\ue014")
    wait(lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "down (outage)"), message="north down")
    assert trace(figure(dash_duo, ids.REPLAY_MAP), "down (outage)")["ids"] == ["north"]
    # the timeline's cursor follows the slider, in the browser
    t = float(thumb.get_attribute("aria-valuenow"))
    assert 2 * 3600 < t < 4 * 3600
    cursor = (dt.datetime(2026, 3, 2) + dt.timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S")
    wait(lambda: figure(dash_duo, ids.REPLAY_FAULTS)["cursor"] == cursor, message="the cursor")
    snap(dash_duo, screenshots, "replay-outage")
    for _ in range(9):  # 4.5 h: north is back
        thumb.send_keys("\ue014")
    wait(
        lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "down (outage)") is None,
        message="north back up",
    )
    # a run without faults shows no timeline
    dash_duo.wait_for_page(dash_duo.server_url + "/replay?run=plain")
    wait(lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "factories"), message="plain map")
    wait(
        lambda: not dash_duo.find_element(f"#{ids.REPLAY_FAULTS_BOX}").is_displayed(),
        message="no timeline",
    )
    assert not severe_logs(dash_duo)
