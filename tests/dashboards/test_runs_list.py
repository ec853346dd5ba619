"""Runs you can tell apart: the runs list shows each run's what-ifs, overrides, seed,
horizon, status and headline totals from its manifest, in a real browser too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from twin.dashboards import ids
from twin.dashboards.store import RunStore

from twin.cli import main
from twin.trace.reader import open_run
from twin.trace.summary import summarize

from .test_browser import pytestmark as browser_marks
from .test_browser import serve, snap


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("made-runs")
    runner = CliRunner()
    for name, extra in (
        ("base", []),
        ("green", ["--whatif", "green_placement", "--set", "seed=3"]),
    ):
        args = ["run", "tiny", "-q", "-o", str(root / name), "--horizon", "6h", *extra]
        assert runner.invoke(main, args).exit_code == 0
    return root


def test_each_run_says_how_it_was_made_and_its_totals(made: Path) -> None:
    store = RunStore(made)
    base, green = store.info("base"), store.info("green")
    assert base.whatifs == () and base.overrides == ("horizon=6h",) and base.seed == 1  # tiny.yaml
    assert green.whatifs == ("green_placement",)
    assert green.overrides == ("seed=3", "horizon=6h") and green.seed == 3
    totals = summarize(open_run(made / "green")).totals
    headline = dict(green.headline)
    assert (
        headline["jobs"]
        == json.loads((made / "green" / "manifest.json").read_text())["jobs_submitted"]
    )
    assert headline["MWh"] == pytest.approx(totals["energy_mwh"], rel=1e-9)
    assert headline["t CO2"] == pytest.approx(totals["co2_t"], rel=1e-9)
    assert headline["€"] == pytest.approx(totals["cost_eur"], rel=1e-9)


@browser_marks[1]
def test_the_runs_list_shows_what_ifs_and_overrides(dash_duo, made, screenshots):
    serve(dash_duo, made, "/")
    dash_duo.wait_for_element(f"#{ids.RUNS_TABLE} tr[data-run='green']")
    row = dash_duo.find_element(f"#{ids.RUNS_TABLE} tr[data-run='green']").text
    assert "green_placement" in row and "seed=3" in row and "6h" in row and "jobs" in row
    plain = dash_duo.find_element(f"#{ids.RUNS_TABLE} tr[data-run='base']").text
    assert "green_placement" not in plain and "MWh" in plain
    snap(dash_duo, screenshots, "runs-made")
