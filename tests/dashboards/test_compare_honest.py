"""Compare that refuses to mislead: runs of different spans are compared per day with a
warning, deltas are coloured by whether the change is better for that KPI, and a run
against itself is all neutral."""

from __future__ import annotations

from pathlib import Path

import pytest
from twin.dashboards.pages.compare import compare_frame
from twin.dashboards.store import RunStore
from twin.dashboards.values import KpiDelta, per_day

from twin.config import load_config
from twin.simulation import simulate


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spans")
    simulate(load_config("tiny", overrides=["horizon=1d"]), root / "day")
    simulate(load_config("tiny", overrides=["horizon=12h"]), root / "half")
    return root


def cells(table) -> dict[str, tuple[str, str, str, str]]:
    """KPI → (A, B, delta text, delta class) of the rendered table."""
    rows = {}
    for row in table.children[1].children:
        name = row.children[0].children
        a, b, delta = (cell for cell in row.children[1:])
        rows[name] = (a.children, b.children, delta.children[0], delta.className)
    return rows


def test_different_spans_are_compared_per_day_with_a_warning(spans: Path) -> None:
    store = RunStore(spans)
    notes, table, _ = compare_frame(store, "day", "half")
    assert any("different spans" in str(note) and "per day" in str(note) for note in notes)
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
