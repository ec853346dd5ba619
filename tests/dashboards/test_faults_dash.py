"""Faults on the dashboard: FaultHistory, the map's down sites and cut links, the fault
timeline, and the Replay callbacks on a real tiny run with a site outage."""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import pytest
from twin.dashboards import faults, maps
from twin.dashboards.faults import FaultHistory
from twin.dashboards.pages import replay
from twin.dashboards.store import RunStore
from twin.dashboards.values import Snapshot, kpi_order

from .conftest import table_like
from .test_figures import GEO, state

START = dt.datetime(2026, 3, 2)
H = 3600.0


def history(rows: list[tuple]) -> FaultHistory:
    """rows: (kind, target, sites, start_s, end_s)."""
    kinds, targets, sites, starts, ends = (list(c) for c in zip(*rows, strict=True))
    table = table_like(
        "faults",
        {
            "fault": list(range(len(rows))),
            "kind": kinds,
            "target": targets,
            "sites": sites,
            "cause": ["scheduled"] * len(rows),
            "start_s": starts,
            "end_s": ends,
        },
    )
    return FaultHistory.from_table(table)


FAULTS = [
    ("site_outage", "north", "north", 6 * H, 8 * H),
    ("site_outage", "north", "north", 7 * H, 9 * H),  # overlaps the first
    ("site_outage", "country:XX", "north,south", 20 * H, 30 * H),  # beyond a 24 h horizon
    ("link_cut", "north~pop_x", None, 2 * H, 4 * H),
    ("accelerator", "south", "south", 1 * H, 25 * H),
    ("accelerator", "south", "south", 3 * H, 27 * H),
]


def test_down_and_cut_inside_and_outside_intervals():
    f = history(FAULTS)
    assert f.down_sites(5 * H) == frozenset()
    assert f.down_sites(6 * H) == f.down_sites(8.5 * H) == {"north"}  # overlap merged
    assert f.down_sites(9 * H) == frozenset()
    assert f.down_at(7 * H)["north"].start_s == 6 * H and f.down_at(7 * H)["north"].end_s == 9 * H
    assert f.down_sites(21 * H) == {"north", "south"}  # a country's outage: both sites
    assert f.down_sites(29 * H) == {"north", "south"} and not f.down_sites(30 * H)
    assert f.cut_links(3 * H) == {"north~pop_x"} and not f.cut_links(4 * H)
    assert f.failures["south"].tolist() == [1 * H, 3 * H]
    assert not history([("accelerator", "south", "south", H, 2 * H)]).down_sites(1.5 * H)


def test_map_marks_sites_down_and_cut_links_only_while_they_last():
    f = history(FAULTS)

    def figure(t: float) -> go.Figure:
        snapshot = Snapshot(
            t,
            t,
            {"north": state("north", 0.0, False), "south": state("south", 0.5)},
            down=f.down_at(t),
            cut=f.cut_at(t),
        )
        return go.Figure(maps.map_figure(GEO, snapshot, start=START))

    inside = figure(7 * H)
    down = next(t for t in inside.data if t.name == "down (outage)")
    assert list(down.customdata) == [("site", "north")] or [list(c) for c in down.customdata] == [
        ["site", "north"]
    ]
    assert "since day 1, 06:00" in down.text[0] and "until day 1, 09:00" in down.text[0]
    assert not any(t.name == "down (outage)" for t in figure(10 * H).data)
    cut = next(t for t in figure(3 * H).data if t.name == "cut links")
    assert cut.line.dash == "dash" and cut.line.color == maps.FAULT_COLOUR
    assert not any(t.name == "cut links" for t in figure(5 * H).data)
    # a run without faults: the map is what it was
    plain = maps.map_figure(GEO, Snapshot(0.0, 0.0, {"north": state("north", 0.2)}))
    assert plain == maps.map_figure(
        GEO, Snapshot(0.0, 0.0, {"north": state("north", 0.2)}, down={}, cut={})
    )
    assert not any(t.get("name") in ("down (outage)", "cut links") for t in plain["data"])


def test_timeline_has_a_bar_per_span_clipped_to_the_horizon_and_the_cursor_first():
    f = history(FAULTS)
    spec = faults.timeline_figure(f, start=START, horizon_s=24 * H, t=7 * H)
    figure = go.Figure(spec)
    outages = next(t for t in figure.data if t.name == "site outage")
    assert list(outages.y) == ["north", "north", "south"]
    assert [x / 3.6e6 for x in outages.x] == pytest.approx([3.0, 4.0, 4.0])  # clipped at 24 h
    assert outages.base[0] == "2026-03-02 06:00:00"
    cuts = next(t for t in figure.data if t.name == "link cut")
    assert list(cuts.y) == ["north~pop_x"] and cuts.x[0] == pytest.approx(2 * 3.6e6)
    ticks = next(t for t in figure.data if t.name == "accelerator failure")
    assert list(ticks.y) == ["south", "south"]
    assert list(figure.layout.yaxis.categoryarray) == ["north", "south", "north~pop_x"]
    assert spec["layout"]["shapes"][0]["x0"] == "2026-03-02 07:00:00"
    assert spec["layout"]["meta"]["start_ms"] > 0
    assert "after the run's end" in outages.hovertext[1]


def test_goodput_is_shown_next_to_utilisation():
    names = ["jobs", "utilisation (%)", "energy (MWh)", "goodput (%)", "lost GPU-hours"]
    assert kpi_order(names) == [
        "jobs",
        "utilisation (%)",
        "goodput (%)",
        "lost GPU-hours",
        "energy (MWh)",
    ]


def test_replay_callbacks_on_a_run_with_an_outage(fault_runs):
    store = RunStore(fault_runs)
    inside, _ = replay.map_frame(store, "outage", 3 * H)
    after, _ = replay.map_frame(store, "outage", 5 * H)
    assert any(t.get("name") == "down (outage)" for t in inside["data"])
    assert not any(t.get("name") == "down (outage)" for t in after["data"])
    figure, style = replay.faults_frame(store, "outage", 3 * H)
    assert style == {} and figure["layout"]["shapes"][0]["x0"].endswith("03:00:00")
    assert any(t["name"] == "site outage" for t in figure["data"])
    _, style = replay.faults_frame(store, "plain", 3 * H)
    assert style == {"display": "none"}
    kpis = list(store.get("outage").kpis())
    assert kpis[kpis.index("utilisation (%)") + 1] == "goodput (%)"
