"""The app without a browser: its layering, what it serves, the functions behind its
callbacks, and the ``twin dash`` command."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import plotly.graph_objects as go
import pytest
from click.testing import CliRunner
from dash import Dash, dcc
from twin.dashboards import create_app
from twin.dashboards.components import Context, format_number, slider_settings
from twin.dashboards.pages import compare, explore, replay, runs
from twin.dashboards.player import next_time
from twin.dashboards.store import RunError, RunStore
from twin.dashboards.values import Timeline


@pytest.fixture(scope="module")
def store(runs_dir):
    return RunStore(runs_dir)


@pytest.fixture(scope="module")
def app(runs_dir):
    return create_app(runs_dir)


def test_importing_the_dashboard_loads_no_model():
    code = "import sys, twin.dashboards; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not {m for m in loaded if m == "simpy" or m.startswith(("simpy.", "twin.model"))}
    assert "twin.config" not in loaded


def test_dashboard_modules_import_only_dash_plotly_the_trace_and_the_metrics(tmp_path):
    from pathlib import Path

    import twin.dashboards

    allowed = {"dash", "plotly", "numpy", "pyarrow", "yaml", "twin", "__future__"}
    for path in Path(twin.dashboards.__file__).parent.rglob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                module = line.split()[1]
                top = module.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, (path.name, line)
                if top == "twin":
                    allowed_twin = ("twin.trace", "twin.analysis", "twin.dashboards")
                    assert module.startswith(allowed_twin), (path.name, line)


def test_creating_an_app_needs_a_runs_dir(tmp_path):
    with pytest.raises(RunError):
        create_app(tmp_path / "missing")
    assert isinstance(create_app(tmp_path), Dash)


def test_the_page_loads_nothing_from_outside(app):
    client = app.server.test_client()
    page = client.get("/").data.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources)
    assert "cdn" not in page.lower()
    config = json.loads(re.search(r'<script id="_dash-config"[^>]*>(.*?)</script>', page).group(1))
    assert config.get("serve_locally", True)


def test_the_map_geometry_is_served_by_the_app(app):
    client = app.server.test_client()
    for name in ("europe_50m.json", "world_110m.json"):
        response = client.get(f"/assets/topojson/{name}")
        assert response.status_code == 200
        topology = json.loads(response.data)
        assert topology["type"] == "Topology"
        assert {"land", "coastlines", "countries"} <= set(topology["objects"])
    assert b"MIT" in client.get("/assets/topojson/LICENSE").data


def test_graphs_point_plotly_at_the_local_geometry(store):
    context = Context(store, href=lambda p: "/prefix" + p, graph_config={"topojsonURL": "/x/"})
    layout = replay.layout(context, "?run=base")
    graphs = [c for c in _walk(layout) if isinstance(c, dcc.Graph)]
    assert graphs and all(g.config["topojsonURL"] == "/x/" for g in graphs)


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from _walk(child)
    elif children is not None and hasattr(children, "children"):
        yield from _walk(children)


def test_runs_page_lists_every_run(store):
    context = Context(store, href=lambda p: p)
    rows = {
        getattr(c, "data-run"): c.className
        for c in _walk(runs.layout(context))
        if getattr(c, "data-run", None)
    }
    assert rows == {info.name: f"run-row run-{info.status}" for info in store.list_runs()}


def test_replay_frames(store):
    figure, clock = replay.map_frame(store, "base", 3600.0, "site:north")
    figure = go.Figure(figure)
    assert clock.startswith("day 1, 01:00")
    assert any(t.name == "factories" for t in figure.data)
    series = go.Figure(replay.series_frame(store, "base", "site:north", 3600.0))
    assert series.layout.title.text == "North factory"
    link = go.Figure(replay.series_frame(store, "net", "link:north~pop_x", 3600.0))
    assert "throughput (Gbps)" in [a.text for a in link.layout.annotations]
    options = [o["value"] for o in replay.selection_options(store, "net")]
    assert options == ["site:north", "site:south", "link:north~pop_x", "link:pop_x~south"]


@pytest.mark.parametrize(
    ("run", "words"),
    [
        ("../outside", "refused"),
        ("escape", "refused"),
        ("truncated", "not an arrow file"),
        ("nosites", "no table 'sites'"),
        ("badjson", "not readable json"),
        (None, "choose a run"),
    ],
)
def test_broken_or_refused_runs_give_messages_not_crashes(store, run, words):
    figure, clock = replay.map_frame(store, run, 0.0)
    figure = go.Figure(figure)
    assert words in figure.layout.annotations[0].text.lower() and clock == ""
    series = go.Figure(replay.series_frame(store, run, "site:north", 0.0))
    assert words in series.layout.annotations[0].text.lower()
    assert words in str(explore.kpi_block(store, run)).lower()
    rows, _, _ = explore.jobs_frame(store, run, explore.JobFilter(), "", [], 0, 20)
    assert bool(rows) == (run in ("truncated", "nosites"))  # their jobs table is fine


def test_explore_kpis_are_the_summary(store):
    rows = {
        getattr(c, "data-kpi"): c.children[1].children
        for c in _walk(explore.kpi_block(store, "base"))
        if getattr(c, "data-kpi", None)
    }
    assert rows == {name: format_number(v) for name, v in store.get("base").kpis().items()}


def test_compare_frame_shows_deltas(store):
    notes, table, series = compare.compare_frame(store, "base", "green")
    series = go.Figure(series)
    a, b = store.get("base").kpis(), store.get("green").kpis()
    text = str(table)
    assert format_number(b["CO2 (t)"] - a["CO2 (t)"], sign=True) in text
    assert [t.name for t in series.data][:2] == ["base", "green"]
    notes, table, series = compare.compare_frame(store, "base", "../outside")
    assert table is None and "refused" in str(notes)


def test_both_compare_maps_follow_one_time(store):
    figure_a, figure_b, clock = compare.maps_frame(store, "base", "green", 7200.0)
    figure_a, figure_b = go.Figure(figure_a), go.Figure(figure_b)
    assert clock.startswith("day 1, 02:00")
    assert figure_a.layout.title.text == "base" and figure_b.layout.title.text == "green"


def test_numbers_are_formatted_for_people():
    assert format_number(12345.0) == "12,345"
    assert format_number(3.14159) == "3.14"
    assert format_number(0.0012345) == "0.00123"
    assert format_number(-0.5, sign=True) == "-0.5"
    assert format_number(2.0, sign=True) == "+2"
    assert format_number(None) == "–"


def test_slider_settings_and_ticks():
    settings = slider_settings(Timeline(600.0, 86400.0 * 3, 600.0), None)
    assert settings["value"] == 600.0 and settings["step"] == 600.0
    assert list(settings["marks"].values())[:2] == ["d2", "d3"]
    assert slider_settings(Timeline(600.0, 3600.0, 600.0), 1e9)["value"] == 3600.0
    assert next_time(600.0, 600.0, 3600.0, 600.0, 2) == 1800.0
    assert next_time(3600.0, 600.0, 3600.0, 600.0, 1) == 600.0  # loops


# -- the command -------------------------------------------------------------------------------


def test_twin_dash_serves_the_runs_dir(monkeypatch, runs_dir):
    from twin.cli import main

    calls = []
    monkeypatch.setattr(Dash, "run", lambda self, **kwargs: calls.append(kwargs))
    result = CliRunner().invoke(main, ["dash", str(runs_dir), "--port", "8123", "--debug"])
    assert result.exit_code == 0, result.output
    assert calls[0]["port"] == 8123 and calls[0]["host"] == "127.0.0.1" and calls[0]["debug"]
    assert calls[0]["dev_tools_disable_version_check"]


def test_twin_dash_on_a_missing_dir_is_a_user_error(tmp_path):
    from twin.cli import main

    result = CliRunner().invoke(main, ["dash", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "not a directory" in result.output


def test_an_app_under_a_url_prefix_serves_its_geometry_there(runs_dir):
    app = create_app(runs_dir, url_base_pathname="/twin/")
    client = app.server.test_client()
    assert client.get("/twin/assets/topojson/europe_50m.json").status_code == 200
    assert app.get_asset_url("topojson/") == "/twin/assets/topojson/"
    nav = [c for c in _walk(app.layout) if isinstance(c, dcc.Link)]
    assert {link.href for link in nav} == {
        "/twin/",
        "/twin/replay",
        "/twin/explore",
        "/twin/latency",
        "/twin/compare",
        "/twin/sweeps",
    }
