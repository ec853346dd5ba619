"""The map as a planner reads it, on the built-in European scenario: site names on a toggle,
the size legend, planned sites with their opening day, sites and links on scales of their
own, sites coloured by grid carbon, and the network totals under the map (whose energy so
far adds up to the run's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from twin.dashboards import ids
from twin.dashboards.pages import replay
from twin.dashboards.store import RunStore

from twin.config import load_config
from twin.simulation import simulate

from .test_browser import figure, serve, snap, trace, wait
from .test_browser import pytestmark as browser_marks


@pytest.fixture(scope="module")
def europe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("europe-map")
    simulate(load_config("europe", overrides=["horizon=6h"]), root / "europe")
    return root


def test_the_totals_add_up_to_the_run(europe: Path) -> None:
    """Energy, CO2 and cost so far end at the run's totals; busy accelerators at each stamp
    are the sites' sum."""
    store = RunStore(europe)
    data = store.get("europe")
    panels = {panel.title: panel.lines[0] for panel in data.totals()}
    totals = data.summary.totals
    assert panels["energy so far (MWh)"].y[-1] == pytest.approx(totals["energy_mwh"], rel=1e-9)
    assert panels["CO2 so far (t)"].y[-1] == pytest.approx(totals["co2_t"], rel=1e-9)
    cost = panels["electricity cost so far (k€)"].y[-1]
    assert cost == pytest.approx(totals["cost_eur"] / 1000, rel=1e-9)
    snapshot = data.snapshot(3 * 3600.0)
    busy = panels["busy accelerators"]
    at = list(busy.x).index(snapshot.stamp_s)
    assert busy.y[at] == sum(state.busy for state in snapshot.sites.values())
    figure_ = replay.totals_frame(store, "europe", 3600.0)
    assert figure_["layout"]["shapes"][0]["visible"]


def test_the_europe_map_shows_planned_sites_and_grid_carbon(europe: Path) -> None:
    store = RunStore(europe)
    geo = store.get("europe").geo
    opening = {node.id: node.opens for node in geo.sites if node.opens}
    assert opening  # europe has sites opening after its start
    figure_, _ = replay.map_frame(store, "europe", 3600.0, colour_by="carbon")
    traces = {t.get("name"): t for t in figure_["data"]}
    planned = traces["factories (planned)"]
    for (_, site), text in zip(planned["customdata"], planned["hovertext"], strict=True):
        assert f"opens {opening[site]}" in text
    carbon = traces["factories"]["marker"]["color"]
    shown = [site for _, site in traces["factories"]["customdata"]]
    # the carbon column as the sites table holds it at the stamp (read apart from the app)
    import pyarrow.compute as pc
    import pyarrow.feather as feather

    table = feather.read_table(europe / "europe" / "sites.arrow")
    at = table.filter(pc.equal(table["time_s"], 3600.0))
    column = dict(zip(at["site"].to_pylist(), at["carbon_gco2_per_kwh"].to_pylist(), strict=True))
    assert carbon == [column[site] for site in shown]
    prices = dict(zip(at["site"].to_pylist(), at["price_eur_per_mwh"].to_pylist(), strict=True))
    assert carbon != [prices[site] for site in shown]  # not the price column
    assert len(set(carbon)) > 3  # the grids differ across Europe


def test_an_opened_site_offline_is_not_planned_and_regions_wait_for_their_interval(
    europe: Path,
) -> None:
    """A site past its opening day drawn offline (an outage) is grey, not "planned"; a
    region interval that has not ended shows no region; region sizes are against the run's
    busiest interval, so they mean the same at every time."""
    import datetime as dt
    from dataclasses import replace

    from twin.dashboards import maps

    store = RunStore(europe)
    data = store.get("europe")
    opening = next(node for node in data.geo.sites if node.opens)
    day = dt.datetime.fromisoformat(opening.opens)
    after = (day - data.start).total_seconds() + 86400.0
    snapshot = data.snapshot(3600.0)
    dark = {site: replace(state, online=False) for site, state in snapshot.sites.items()}
    later = replace(snapshot, t=after, sites=dark)
    traces = {t.get("name"): t for t in maps.map_figure(data.geo, later, start=data.start)["data"]}
    grey = [c[1] for c in traces["factories (offline or no data)"]["customdata"]]
    assert opening.id in grey
    before = replace(snapshot, t=min(3600.0, (day - data.start).total_seconds() - 86400.0))
    traces = {t.get("name"): t for t in maps.map_figure(data.geo, before, start=data.start)["data"]}
    assert opening.id in [c[1] for c in traces["factories (planned)"]["customdata"]]
    first = data.regions.view.stamps[0]
    assert data.snapshot(first - 1.0).regions == {}
    assert data.snapshot(first).regions
    # sizes: the same region sending the same count is drawn the same size at any stamp
    peak = data.regions.peak
    assert peak == max(
        state.arrivals
        for stamp in data.regions.view.stamps
        for state in data.snapshot(float(stamp)).regions.values()
    )


@browser_marks[1]
@browser_marks[0]
def test_the_planner_map_in_a_browser(dash_duo, europe, screenshots):
    serve(dash_duo, europe, "/replay?run=europe")
    wait(lambda: trace(figure(dash_duo, ids.REPLAY_MAP), "factories"), message="the map")
    wait(lambda: figure(dash_duo, ids.REPLAY_TOTALS), message="network totals")
    assert "energy so far (MWh)" in figure(dash_duo, ids.REPLAY_TOTALS)["subplots"]
    assert trace(figure(dash_duo, ids.REPLAY_MAP), "factories (planned)")
    assert trace(figure(dash_duo, ids.REPLAY_MAP), "demand regions")  # on by default
    assert "accelerators" in figure(dash_duo, ids.REPLAY_MAP)["subplots"]  # the size legend
    dash_duo.find_element(f"#{ids.REPLAY_LAYERS} input[value=labels]").click()
    wait(
        lambda: (
            dash_duo.driver.execute_script(
                "const g = document.querySelector('#replay-map .js-plotly-plot');"
                "const shown = g.data.filter(t => t.name === 'factories')[0];"
                "return shown.mode === 'markers+text' ? shown.text.length : 0;"
            )
            > 10
        ),
        timeout=30,
        message="site names",
    )
    snap(dash_duo, screenshots, "replay-map-names")
    dash_duo.find_elements(f"#{ids.REPLAY_COLOUR} input")[1].click()  # grid carbon
    wait(
        lambda: (
            "gCO2"
            in str(
                dash_duo.driver.execute_script(
                    "const g = document.querySelector('#replay-map .js-plotly-plot');"
                    "return g.data.filter(t => t.name === 'factories')"
                    ".map(t => t.marker.colorbar.title.text)[0];"
                )
            )
        ),
        timeout=30,
        message="carbon colouring",
    )
    snap(dash_duo, screenshots, "replay-map-carbon")


def test_the_region_layer_is_the_intervals_requests_and_attainment(europe: Path) -> None:
    """At each stamp, a region's diamond holds the interval's requests and SLO attainment as
    the table says (read independently with pyarrow), sized by requests; over the run, the
    intervals' requests add up to the summary's per region."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.feather as feather

    store = RunStore(europe)
    data = store.get("europe")
    table = feather.read_table(europe / "europe" / "inference_regions.arrow")
    stamps = np.unique(table["time_s"].to_numpy())
    at = float(stamps[len(stamps) // 2])
    rows = table.filter(pc.equal(table["time_s"], at)).to_pylist()
    figure_, _ = replay.map_frame(store, "europe", at)
    diamonds = next(t for t in figure_["data"] if t.get("name") == "demand regions")
    shown = dict(
        zip([c[1] for c in diamonds["customdata"]], diamonds["marker"]["color"], strict=True)
    )
    assert set(shown) == {row["region"] for row in rows}
    for region, colour in shown.items():
        mine = [row for row in rows if row["region"] == region]
        resolved = sum(row["served"] + row["dropped"] for row in mine)
        misses = sum(row["slo_misses"] for row in mine)
        assert colour == pytest.approx(1 - misses / resolved if resolved else None)
    sizes = dict(zip(shown, diamonds["marker"]["size"], strict=True))
    busiest = max(shown, key=lambda r: sum(x["arrivals"] for x in rows if x["region"] == r))
    assert sizes[busiest] == max(sizes.values())
    hidden, _ = replay.map_frame(store, "europe", at, layers=[])
    assert not [t for t in hidden["data"] if t.get("name") == "demand regions"]
    # conservation: the intervals' requests per region and service are the summary's
    totals: dict[tuple[str, str], int] = {}
    for stamp in stamps:
        for region, state in data.snapshot(float(stamp)).regions.items():
            for service in state.services:
                key = (service.service, region)
                totals[key] = totals.get(key, 0) + service.arrivals
    summary = {(row["service"], row["region"]): row["arrivals"] for row in data.summary.regions}
    assert totals == summary


def test_odd_and_broken_region_tables_leave_the_map_standing(hostile_dir: Path) -> None:
    """Service ids no metric name could hold and a region the config places at an
    impossible latitude; a wrong-typed table: the map draws, with what can be placed."""
    store = RunStore(hostile_dir)
    data = store.get("odd_regions")
    stamps = data.regions.view.stamps
    figure_, _ = replay.map_frame(store, "odd_regions", float(stamps[2]))
    diamonds = next(t for t in figure_["data"] if t.get("name") == "demand regions")
    assert [c[1] for c in diamonds["customdata"]] == ["é"]  # "x" is at latitude 95
    hover = diamonds["hovertext"][0]
    assert "40 requests this interval" in hover and "chat bot: 20 requests, 90.0% met" in hover
    assert diamonds["marker"]["color"] == [pytest.approx(0.9)]  # 1 - 2·2/(2·(18+2))
    figure_, _ = replay.map_frame(store, "regions_wrongtype", float(stamps[2]))
    names = {t.get("name") for t in figure_["data"]}
    assert "factories" in names and not {"demand regions"} & names
