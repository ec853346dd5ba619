"""The Sweeps page in real headless Chromium: the runs page lists the sweep as one line, its
page draws each line's mean inside a shaded CI band, a click on a mean links to that
configuration's runs, the points table marks the failed point, a point's link opens its run
in Replay, and two configurations open in Compare."""

from __future__ import annotations

from twin.dashboards import ids

from .test_browser import pytestmark, serve, severe_logs, snap, wait

__all__ = ["pytestmark"]

BANDS_JS = """
const graph = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!graph || !graph.data) { return null; }
return {
    traces: graph.data.map(t => ({
        name: t.name || null, fill: t.fill || null, mode: t.mode || null,
        x: t.x ? Array.from(t.x) : null,
    })),
    drawn: Array.from(graph.querySelectorAll('.scatterlayer .js-fill'))
        .map(p => (p.getAttribute('d') || '').length),
    ytitle: graph.layout.yaxis && graph.layout.yaxis.title ? graph.layout.yaxis.title.text : null,
};
"""


def bands(dash_duo) -> dict | None:
    return dash_duo.driver.execute_script(BANDS_JS, ids.SWEEP_FIGURE)


def cells(dash_duo, column: str) -> list[str]:
    found = dash_duo.find_elements(f"#{ids.SWEEP_POINTS} td[data-dash-column='{column}']")
    return [cell.text for cell in found]


def test_sweeps_page_draws_bands_and_its_points_open_in_replay_and_compare(
    dash_duo, sweep_dir, screenshots
):
    serve(dash_duo, sweep_dir, "/")
    dash_duo.wait_for_element("tr.sweep-row[data-sweep='grid']")
    assert len(dash_duo.find_elements("tr.sweep-row")) == 1
    assert [r.get_attribute("data-run") for r in dash_duo.find_elements("tr.run-row")] == ["base"]
    dash_duo.find_element("tr.sweep-row a").click()

    # one mean line per placement, each inside a shaded band drawn in the SVG
    wait(lambda: len((bands(dash_duo) or {}).get("drawn", [])) == 2, message="two bands")
    drawn = bands(dash_duo)
    means = [t for t in drawn["traces"] if t["mode"] == "lines+markers"]
    assert [t["name"] for t in means] == [
        "workloads.training.arrivals_per_day=400",
        "workloads.training.arrivals_per_day=1200",
    ]
    assert means[0]["x"] == ["least_loaded", "lowest_carbon"]
    assert sum(t["fill"] == "tonexty" for t in drawn["traces"]) == 2
    assert all(length > 20 for length in drawn["drawn"])  # a real shaded area, not empty
    assert drawn["ytitle"] == "co2_t (t)"
    dash_duo.wait_for_contains_text(f"#{ids.SWEEP_NOTE}", "lower is better")

    # the table of points: all 13, the failed one marked with its reason
    wait(lambda: len(cells(dash_duo, "status")) == 13, message="the points table")
    statuses = cells(dash_duo, "status")
    assert statuses.count("failed") == 1 and statuses.count("complete") == 12
    assert "MemoryError" in cells(dash_duo, "reason")
    failed = dash_duo.find_elements(f"#{ids.SWEEP_POINTS} td[data-dash-column='status']")[
        statuses.index("failed")
    ]
    assert failed.value_of_css_property("background-color") == "rgba(253, 236, 234, 1)"

    # clicking a mean links to its configuration's runs
    from selenium.webdriver.common.action_chains import ActionChains

    traces = dash_duo.find_elements(f"#{ids.SWEEP_FIGURE} .scatterlayer .trace")
    marker = traces[2].find_elements("css selector", ".points path")[0]  # the first mean
    ActionChains(dash_duo.driver).move_to_element(marker).pause(0.2).click().perform()
    dash_duo.wait_for_contains_text(f"#{ids.SWEEP_CLICKED}", "seed 3")
    links = dash_duo.find_elements(f"#{ids.SWEEP_CLICKED} a")
    assert [a.text for a in links] == ["seed 1", "seed 2", "seed 3"]
    assert all("/replay?run=grid%2Fpoints%2F" in a.get_attribute("href") for a in links)
    assert "policies.placement=least_loaded" in dash_duo.find_element(f"#{ids.SWEEP_CLICKED}").text

    # another metric redraws the figure
    dash_duo.select_dcc_dropdown(
        f"#{ids.SWEEP_METRIC}", value="jobs.completed (jobs, higher is better)"
    )
    wait(lambda: bands(dash_duo)["ytitle"] == "jobs.completed (jobs)", message="metric")
    snap(dash_duo, screenshots, "sweeps")

    # two configurations open in Compare (one common seed of each)
    dash_duo.wait_for_contains_text(f"#{ids.SWEEP_PAIR}", "B − A (paired)")
    link = dash_duo.find_element(f"#{ids.SWEEP_COMPARE_LINK}")
    assert link.text == "open seed 1 of both in Compare"
    link.click()
    dash_duo.wait_for_element(f"#{ids.COMPARE_KPIS} tr[data-kpi='CO2 (t)']")
    assert "grid/points/" in dash_duo.find_element(f"#{ids.COMPARE_A}").text

    # a point's link opens its run in Replay
    dash_duo.driver.back()
    wait(lambda: len(cells(dash_duo, "status")) == 13, message="the table again")
    first = dash_duo.find_element(f"#{ids.SWEEP_POINTS} td[data-dash-column='run'] a")
    first.click()
    dash_duo.wait_for_contains_text(f"#{ids.REPLAY_STATUS}", "complete")
    assert "/replay?run=grid%2Fpoints%2F" in dash_duo.driver.current_url
    wait(
        lambda: dash_duo.driver.execute_script(
            "const g = document.querySelector('#replay-map .js-plotly-plot');"
            "return g && g.data && g.data.some(t => t.name === 'factories');"
        ),
        message="the point's map",
    )
    assert not severe_logs(dash_duo)
