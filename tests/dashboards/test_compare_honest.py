"""Compare that refuses to mislead: runs of different spans are compared per day with a
warning, deltas are coloured by whether the change is better for that KPI, and a run
against itself is all neutral."""

from __future__ import annotations

from pathlib import Path

import pytest
from twin.dashboards import ids
from twin.dashboards.pages.compare import compare_frame
from twin.dashboards.store import RunStore
from twin.dashboards.values import KpiDelta, per_day

from twin.config import load_config
from twin.simulation import simulate

from .conftest import Kit
from .test_browser import figure, serve, snap, wait
from .test_browser import pytestmark as browser_marks


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spans")
    simulate(load_config("tiny", overrides=["horizon=1d"]), root / "day")
    simulate(load_config("tiny", overrides=["horizon=12h"]), root / "half")
    return root


def cells(table) -> dict[str, tuple[str, str, str, str]]:
    """KPI → (A, B, delta text, delta class) of the rendered table."""
    rows = {}
    body = next(part for part in table.children if type(part).__name__ == "Tbody")
    for row in body.children:
        name = row.children[0].children
        a, b, delta = (cell for cell in row.children[1:])
        rows[name] = (a.children, b.children, delta.children[0], delta.className)
    return rows


def test_different_spans_are_compared_per_day_with_a_warning(spans: Path) -> None:
    store = RunStore(spans)
    notes, table, _ = compare_frame(store, "day", "half")
    assert any("different spans" in str(note) and "per day" in str(note) for note in notes)
    assert "totals per simulated day" in str(table.children[0])
    day, half = store.get("day").kpis(), store.get("half").kpis()
    shown = cells(table)
    energy = "energy (MWh)"
    assert float(shown[energy][1].replace(",", "")) == pytest.approx(half[energy] * 2, rel=1e-2)
    assert float(shown[energy][0].replace(",", "")) == pytest.approx(day[energy], rel=1e-2)
    # a rate is not scaled
    wait = "mean wait (h)"
    assert float(shown[wait][1]) == pytest.approx(half[wait], rel=1e-2)


def test_a_run_against_itself_is_all_zero_and_neutral(spans: Path) -> None:
    notes, table, _ = compare_frame(RunStore(spans), "day", "day")
    assert not any("different spans" in str(note) for note in notes)
    for name, (_, _, delta, tone) in cells(table).items():
        assert tone == "delta same", name
        assert delta in ("+0", "–"), (name, delta)


def test_the_colour_follows_whether_the_change_is_better() -> None:
    assert KpiDelta("jobs completed", 10, 9).tone == "worse"
    assert KpiDelta("jobs completed", 9, 10).tone == "better"
    assert KpiDelta("chat SLO attainment (%)", 99.0, 99.5).tone == "better"
    assert KpiDelta("CO2 (t)", 5.0, 4.0).tone == "better"
    assert KpiDelta("mean wait (h)", 0.1, 0.2).tone == "worse"
    assert KpiDelta("jobs submitted", 10, 12).tone == "same"  # neither is better
    assert KpiDelta("energy (MWh)", 3.0, 3.0).tone == "same"
    assert per_day({"energy (MWh)": 10.0, "mean wait (h)": 2.0}, 43200.0) == {
        "energy (MWh)": 20.0,
        "mean wait (h)": 2.0,
    }


UNITS = {"(h)": 1 / 3600, "(%)": 100.0, "(k€)": 1e-3}
"""A KPI's unit against its registry metric's (s, fraction, EUR)."""


def test_each_kpi_is_its_registry_metric_with_its_direction(tmp_path: Path) -> None:
    """The direction that colours a delta is the registry's (as sweeps rank by it), and the
    metric behind the KPI is the same quantity: its value, in the KPI's unit, is the KPI."""
    from twin.dashboards.values import kpi_better, kpi_metric

    from twin.analysis.metrics import parse_metric

    data = Kit.scenario(
        [Kit.site("a", 16)],
        [Kit.region("r")],
        [Kit.llm(peak_rps=0.5, replicas={"a": 1}), Kit.single(peak_rps=3.0, replicas={"a": 1})],
        horizon=1800.0,
        window=60.0,
    )
    Kit.run_trace(data, tmp_path / "served")
    simulate(load_config("tiny", overrides=["horizon=6h"]), tmp_path / "jobs")
    store = RunStore(tmp_path)
    assert any("SLO attainment" in name for name in store.get("served").kpis())
    assert store.get("jobs").kpis()["jobs completed"] > 0
    unmapped = []
    for run in ("jobs", "served"):
        summary = store.get(run).summary
        for name, value in store.get(run).kpis().items():
            metric = kpi_metric(name)
            if metric is None:
                unmapped.append(name)
                continue
            ref = parse_metric(metric)
            scale = next((s for unit, s in UNITS.items() if name.endswith(unit)), 1.0)
            got = ref.value(summary) * scale
            if run == "served" and name == "mean wait (h)":
                assert value != value and got != got  # no job started: NaN on both sides
            else:
                assert got == pytest.approx(value, rel=1e-9, abs=1e-12), name
            assert kpi_better(name) == ref.better
    # only job states the registry does not rank (running, queued…) go without a metric
    assert all(name.startswith("jobs ") for name in unmapped), unmapped


def test_compare_says_what_each_run_is_and_what_b_changes(spans: Path) -> None:
    """Each run's span, start and seed; the config paths B changes (here the horizon); the
    shorter run's end marked on the overlay and on its map past that end."""
    from twin.dashboards.pages.compare import config_changes, maps_frame

    store = RunStore(spans)
    start_of = store.get("day").start
    notes, _, series = compare_frame(store, "day", "half")
    facts = [str(note) for note in notes if "run-facts" in str(note)]
    assert len(facts) == 2
    start = f"{store.get('day').start:%Y-%m-%d %H:%M}"
    assert f"1d simulated from {start}" in facts[0] and f"12h simulated from {start}" in facts[1]
    assert "seed " in facts[0]
    changes = config_changes(store, "day", "half")
    assert changes.to_plotly_json()["props"]["data-changes"] == 1
    listed = str(changes)
    assert "horizon" in listed and "86400" in listed and "43200" in listed  # resolved: in s
    ends = [s for s in series["layout"]["shapes"][1:] if s["line"]["dash"] == "dot"]
    from twin.dashboards.figures import to_date

    assert len(ends) == 1 and ends[0]["x0"] == to_date(store.get("half").timeline.last_s, start_of)
    assert store.get("half").timeline.last_s == pytest.approx(12 * 3600.0)
    assert any("half ends (12h)" in note["text"] for note in series["layout"]["annotations"])
    figure_a, figure_b, _ = maps_frame(store, "day", "half", 20 * 3600.0)
    assert "ended at 12h" in str(figure_b["layout"]["title"])
    assert "ended" not in str(figure_a["layout"]["title"])
    same = config_changes(store, "day", "day")
    assert same.to_plotly_json()["props"]["data-changes"] == 0
    _, _, own = compare_frame(store, "day", "day")
    assert not [s for s in own["layout"]["shapes"][1:] if s["line"].get("dash") == "dot"]


@browser_marks[1]
@browser_marks[0]
def test_compare_of_different_spans_in_a_browser(dash_duo, spans, screenshots):
    """The warning, per-day totals, the config diff and the shorter run's end are on the
    page a planner sees."""
    store = RunStore(spans)
    serve(dash_duo, spans, "/compare?a=day&b=half")
    dash_duo.wait_for_element(f"#{ids.COMPARE_KPIS} tr[data-kpi='energy (MWh)']")
    warning = dash_duo.find_element(f"#{ids.COMPARE_STATUS} .notice-warning")
    assert "different spans" in warning.text and "per day" in warning.text
    cells = dash_duo.find_elements(f"#{ids.COMPARE_KPIS} tr[data-kpi='energy (MWh)'] td")
    half = store.get("half").kpis()["energy (MWh)"]
    assert float(cells[1].text.replace(",", "")) == pytest.approx(2 * half, rel=1e-2)
    diff = dash_duo.find_element(f"#{ids.COMPARE_DIFF}")
    assert "1 config path" in diff.text and "horizon" in diff.text
    wait(lambda: figure(dash_duo, ids.COMPARE_SERIES), message="overlaid series")
    assert any("half ends" in text for text in figure(dash_duo, ids.COMPARE_SERIES)["subplots"])
    snap(dash_duo, screenshots, "compare-spans")


@browser_marks[1]
@browser_marks[0]
def test_compare_of_a_run_with_itself_in_a_browser(dash_duo, spans, screenshots):
    serve(dash_duo, spans, "/compare?a=day&b=day")
    dash_duo.wait_for_element(f"#{ids.COMPARE_KPIS} tr[data-kpi='energy (MWh)']")
    deltas = dash_duo.find_elements(f"#{ids.COMPARE_KPIS} td.delta")
    assert deltas and all(cell.get_attribute("class") == "delta same" for cell in deltas)
    assert all(cell.text.split(" ")[0] in ("+0", "–") for cell in deltas)
    assert not dash_duo.find_elements(f"#{ids.COMPARE_STATUS} .notice-warning")
    assert "config is A's" in dash_duo.find_element(f"#{ids.COMPARE_DIFF}").text
    snap(dash_duo, screenshots, "compare-self")


def test_any_service_id_gets_its_direction_and_per_day_rule() -> None:
    """Service ids outside the metric-name pattern (spaces, brackets, accents) and ids
    that begin with a total's word keep their KPI's direction and are not taken as totals."""
    from twin.dashboards.values import kpi_better

    for service in ("chat bot", "a[b]", "é", "cost-model", "energy"):
        assert kpi_better(f"{service} SLO attainment (%)") == "higher"
        assert kpi_better(f"{service} requests dropped") == "lower"
        kpis = {f"{service} SLO attainment (%)": 99.0, f"{service} requests dropped": 10.0}
        assert per_day(kpis, 43200.0) == {
            f"{service} SLO attainment (%)": 99.0,
            f"{service} requests dropped": 20.0,
        }


def test_both_compare_maps_take_the_same_layers_and_colouring(spans: Path) -> None:
    from twin.dashboards.pages.compare import maps_frame

    store = RunStore(spans)
    figure_a, figure_b, _ = maps_frame(store, "day", "half", 3600.0, ["labels"], "price")
    for figure_ in (figure_a, figure_b):
        assert figure_["layout"]["meta"] == {"colour_by": "price", "labels": True, "regions": False}
    plain_a, _, _ = maps_frame(store, "day", "half", 3600.0)
    assert plain_a["layout"]["meta"]["colour_by"] == "utilisation"
