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
    snapshot = store.get("europe").snapshot(3600.0)
    shown = [site for _, site in traces["factories"]["customdata"]]
    assert carbon == [snapshot.sites[site].carbon_g_per_kwh for site in shown]
    assert len(set(carbon)) > 3  # the grids differ across Europe


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
