"""The figure builders, called directly on data from real and synthetic runs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import pytest
from twin.dashboards import figures, maps
from twin.dashboards.geo import Edge, Geo, Node
from twin.dashboards.map_style import link_colour
from twin.dashboards.overlays import overlay_panels
from twin.dashboards.store import RunStore
from twin.dashboards.values import Histogram, Line, LinkState, Panel, SiteState, Snapshot

START = dt.datetime(2026, 3, 2)
GEO = Geo(
    sites=(
        Node("north", "North", 64.2, 27.7, "site", 64, 0.2),
        Node("south", "South", 44.5, 11.4, "site", 128, 0.15),
    ),
    pops=(Node("pop_x", "Exchange", 52.5, 13.4, "pop"),),
    links=(
        Edge("north~pop_x", "north", "pop_x", 400.0),
        Edge("pop_x~south", "pop_x", "south", 100.0),
    ),
)


def state(site: str, utilisation: float, online: bool = True) -> SiteState:
    return SiteState(site, online, 100, int(100 * utilisation), 3, utilisation, 0.1)


def map_figure(*args, **kwargs) -> go.Figure:
    """The builder's figure, validated by plotly (an invalid property raises)."""
    return go.Figure(maps.map_figure(*args, **kwargs))


def series_figure(*args, **kwargs) -> go.Figure:
    return go.Figure(figures.series_figure(*args, **kwargs))


def histogram_figure(*args, **kwargs) -> go.Figure:
    return go.Figure(figures.histogram_figure(*args, **kwargs))


def trace(figure, name):
    return next(t for t in figure.data if t.name == name)


@pytest.fixture(scope="module")
def store(runs_dir):
    return RunStore(runs_dir)


def test_map_is_europe_drawn_from_local_geometry():
    figure = map_figure(GEO, None)
    geo = figure.layout.geo
    assert geo.scope == "europe" and geo.resolution == 50
    assert geo.showcoastlines and geo.showland and geo.showcountries


def test_factories_are_sized_by_accelerators_and_coloured_by_utilisation():
    snapshot = Snapshot(0.0, 0.0, {"north": state("north", 0.25), "south": state("south", 0.75)})
    figure = map_figure(GEO, snapshot)
    factories = trace(figure, "factories")
    assert [c[1] for c in factories.customdata] == ["north", "south"]
    assert list(factories.marker.color) == [0.25, 0.75]
    assert factories.marker.cmin == 0 and factories.marker.cmax == 1
    assert factories.marker.size[0] == factories.marker.size[1]  # both report 100 installed


def test_sites_offline_or_without_data_are_grey():
    snapshot = Snapshot(0.0, 0.0, {"north": state("north", 0.5, online=False)})
    figure = map_figure(GEO, snapshot)
    grey = trace(figure, "factories (offline or no data)")
    assert [c[1] for c in grey.customdata] == ["north", "south"]
    assert grey.marker.color == maps.NO_DATA
    assert not [t for t in figure.data if t.name == "factories"]


def test_the_map_changes_with_time(store):
    data = store.get("base")
    timeline = data.timeline
    colours = {
        tuple(trace(map_figure(data.geo, data.snapshot(t)), "factories").marker.color)
        for t in np.arange(timeline.first_s, timeline.last_s, timeline.step_s)
    }
    assert len(colours) > 1


def test_selected_site_is_outlined():
    snapshot = Snapshot(0.0, 0.0, {"north": state("north", 0.1), "south": state("south", 0.2)})
    figure = map_figure(GEO, snapshot, selected="south")
    ring = trace(figure, "selected")
    assert [c[1] for c in ring.customdata] == ["south"] and ring.marker.symbol == "circle-open"
    south = trace(figure, "factories").marker.size[1]
    assert ring.marker.size > south  # around the factory, not on it


def test_links_are_grey_without_telemetry_and_coloured_with_it():
    figure = map_figure(GEO, None)
    middles = trace(figure, "links")
    assert [c[1] for c in middles.customdata] == ["north~pop_x", "pop_x~south"]
    assert set(middles.marker.color) == {"#8a939c"}
    links = {
        "north~pop_x": LinkState("north~pop_x", "north", "pop_x", 400.0, 360.0, 0.9, 3),
        "pop_x~south": LinkState("pop_x~south", "pop_x", "south", 100.0, 5.0, 0.05, 1),
    }
    figure = map_figure(GEO, Snapshot(0.0, 0.0, {}, links))
    colours = list(trace(figure, "links").marker.color)
    assert colours == [link_colour(0.9), link_colour(0.05)] and colours[0] != colours[1]
    widths = sorted(t.line.width for t in figure.data if t.mode == "lines")
    assert widths[0] < widths[-1]  # the 400 Gbps link is drawn wider


def test_the_map_of_a_run_with_links_has_them(store):
    data = store.get("net")
    figure = map_figure(data.geo, data.snapshot(7200))
    assert [c[1] for c in trace(figure, "links").customdata] == ["north~pop_x", "pop_x~south"]
    assert trace(figure, "PoPs").customdata[0][1] == "pop_x"


def test_series_share_a_time_axis_with_a_cursor():
    x = np.array([0.0, 600.0, 1200.0])
    panels = [
        Panel("a", (Line("one", x, np.array([1.0, 2.0, 3.0])),)),
        Panel("b", (Line("two", x, np.array([3.0, 2.0, 1.0]), dash="dot"),)),
        Panel("empty", ()),
    ]
    figure = series_figure(panels, start=START, t=600.0, title="T")
    assert len(figure.data) == 2
    assert [a.text for a in figure.layout.annotations] == ["a", "b"]
    cursor = figure.layout.shapes[0]
    assert cursor.x0 == cursor.x1 == "2026-03-02 00:10:00"
    assert (
        figure.layout.meta["start_ms"] == (START - dt.datetime(1970, 1, 1)).total_seconds() * 1000
    )
    assert str(figure.data[0].x[1]).startswith("2026-03-02T00:10")
    assert figure.data[1].line.dash == "dot"


def test_a_panel_may_have_a_log_axis_and_a_line_a_colour_of_its_own():
    x = np.array([0.0, 600.0])
    panels = [
        Panel("linear", (Line("p99", x, np.array([1.0, 2.0])),)),
        Panel(
            "log",
            (
                Line("p99", x, np.array([10.0, 5000.0])),
                Line("SLO 2 s", x, np.array([2000.0, 2000.0]), dash="dot", colour="#555555"),
            ),
            log_y=True,
        ),
    ]
    figure = series_figure(panels, start=START)
    assert figure.layout.yaxis.type is None and figure.layout.yaxis2.type == "log"
    assert [t.yaxis for t in figure.data] == ["y", "y2", "y2"]
    assert figure.data[0].line.color == figure.data[1].line.color != "#555555"
    assert figure.data[2].line.color == "#555555"
    merged = overlay_panels(panels, panels, "a", "b")
    assert [p.log_y for p in merged] == [False, True]


def test_series_of_nothing_say_so():
    figure = series_figure([], start=START)
    assert "no series" in figure.layout.annotations[0].text


def test_overlay_panels_draw_b_dashed():
    x = np.array([0.0, 1.0])
    a = [Panel("busy", (Line("a", x, x),)), Panel("only a", (Line("a", x, x),))]
    b = [Panel("busy", (Line("b", x, x),))]
    merged = overlay_panels(a, b, "base", "green")
    assert [(line.name, line.dash) for line in merged[0].lines] == [
        ("base", None),
        ("green", "dash"),
    ]
    assert [line.name for line in merged[1].lines] == ["base"]


def test_histograms_are_bars_of_server_side_counts():
    histogram = Histogram(np.array([0.0, 1.0, 2.0]), {"x": np.array([3, 4])}, "wait (h)")
    figure = histogram_figure(histogram, title="waits")
    assert list(figure.data[0].y) == [3, 4]
    assert list(figure.data[0].x) == [0.5, 1.5]
    logged = Histogram(
        np.array([1.0, 10.0, 100.0]),
        {"a": np.array([1, 0]), "b": np.array([0, 2])},
        "s",
        log_x=True,
    )
    figure = histogram_figure(logged, title="transfers")
    assert figure.layout.xaxis.type == "log" and len(figure.data) == 2
    empty = Histogram(np.array([0.0, 1.0]), {"x": np.array([0])}, "s")
    assert "nothing to show" in histogram_figure(empty, title="t").layout.annotations[0].text


def test_time_label():
    assert figures.time_label(86400 + 3 * 3600 + 25 * 60, START) == (
        "day 2, 03:25 (2026-03-03 03:25 UTC)"
    )


def test_planned_sites_are_rings_with_their_opening_day_and_names_toggle():
    geo = Geo(
        sites=(
            Node("open", "Open", 50.0, 10.0, "site", 100),
            Node("soon", "Soon", 45.0, 5.0, "site", 1000, opens="2027-04-01"),
        )
    )
    snapshot = Snapshot(0.0, 0.0, {"open": state("open", 0.5), "soon": state("soon", 0, False)})
    figure = map_figure(geo, snapshot)
    planned = trace(figure, "factories (planned)")
    assert [c[1] for c in planned.customdata] == ["soon"]
    assert "opens 2027-04-01" in planned.hovertext[0]
    assert planned.marker.symbol == "circle-open" and planned.mode == "markers"
    named = map_figure(geo, snapshot, labels=True)
    assert trace(named, "factories").text == ("Open",)
    assert trace(named, "factories (planned)").text == ("Soon (opens 2027-04)",)
    assert trace(named, "factories").mode == "markers+text"


def test_the_size_legend_draws_circles_as_large_as_the_factories_of_that_size():
    from twin.dashboards.map_style import legend_counts, marker_size

    assert legend_counts(128) == [100, 10, 1] and legend_counts(528_956) == [500_000, 50_000, 5000]
    figure = map_figure(GEO, None)
    circles = [s for s in figure.layout.shapes if s.type == "circle"]
    assert len(circles) == 3
    for circle, count in zip(circles, legend_counts(128), strict=True):
        assert circle.x1 - circle.x0 == pytest.approx(marker_size(count, 128))
        assert circle.xsizemode == "pixel" and circle.xref == "paper"
    texts = [a.text for a in figure.layout.annotations]
    assert {"100", "10", "1", "accelerators"} <= set(texts)


def test_sites_and_links_have_colour_scales_of_their_own_as_explicit_lists():
    from twin.dashboards.map_style import LINK_SCALE, SITE_COLOURINGS

    links = {"north~pop_x": LinkState("north~pop_x", "north", "pop_x", 400.0, 360.0, 0.9, 3)}
    snapshot = Snapshot(0.0, 0.0, {"north": state("north", 0.25)}, links)
    spec = maps.map_figure(GEO, snapshot)  # the JSON plotly.js gets
    scales = {
        t["name"]: t["marker"]["colorscale"]
        for t in spec["data"]
        if "colorscale" in t.get("marker", {})
    }
    assert scales["factories"] == [list(p) for p in SITE_COLOURINGS["utilisation"].scale]
    assert scales["link scale"] == [list(p) for p in LINK_SCALE]
    assert all(isinstance(scale, list) for scale in scales.values())  # no names plotly.js lacks
    # a hot link is red, an idle one grey: they differ more than busy and idle sites' hues
    assert link_colour(0.95) != link_colour(0.1) and link_colour(0.1) == link_colour(0.4)


def test_sites_can_be_coloured_by_grid_carbon_or_price():
    from dataclasses import replace

    snapshot = Snapshot(
        0.0,
        0.0,
        {
            "north": replace(state("north", 0.2), carbon_g_per_kwh=30.0, price_eur_per_mwh=40.0),
            "south": replace(state("south", 0.9), carbon_g_per_kwh=410.0, price_eur_per_mwh=120.0),
        },
    )
    carbon = trace(map_figure(GEO, snapshot, colour_by="carbon"), "factories")
    assert list(carbon.marker.color) == [30.0, 410.0]
    assert carbon.marker.cmax == 600.0 and "gCO2" in carbon.marker.colorbar.title.text
    price = trace(map_figure(GEO, snapshot, colour_by="price"), "factories")
    assert list(price.marker.color) == [40.0, 120.0]
    assert "410 gCO2/kWh" in carbon.hovertext[1]


def test_a_selected_link_is_haloed_under_its_line():
    figure = map_figure(GEO, None, selected="pop_x~south")
    halo = trace(figure, "selected")
    assert halo.mode == "lines" and list(halo.lon) == [13.4, 11.4]
    lines = [t for t in figure.data if t.mode == "lines"]
    assert lines[0] is halo  # drawn first: under the links


def test_a_series_of_one_point_is_drawn_as_a_dot():
    panels = [Panel("one", (Line("a", np.array([600.0]), np.array([3.0])),))]
    figure = series_figure(panels, start=START)
    assert figure.data[0].mode == "markers" and list(figure.data[0].y) == [3.0]
    two = [Panel("two", (Line("a", np.array([0.0, 600.0]), np.array([1.0, 3.0])),))]
    assert series_figure(two, start=START).data[0].mode == "lines"
