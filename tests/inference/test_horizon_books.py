"""The books at the horizon: the window that ends at the horizon is recorded, a horizon in
the middle of a window records that window cut there, and the requests still in flight at
the end are in the totals (``in_system``) and in the last rows, never lost: arrivals =
served + dropped + in flight, whatever the horizon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .test_inference import check_conservation, llm_with_drops, two_regions, two_sites


def busy_llm(kit, horizon: float, window: float) -> dict:
    return kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [llm_with_drops(kit, max_queue=8)],
        horizon=horizon,
        window=window,
        routing="slo_aware",
        interval=30.0,
    )


@pytest.mark.parametrize(
    ("horizon", "window", "ends"),
    [
        (100.0, 10.0, [10.0 * k for k in range(1, 11)]),  # the last window ends at 100 s
        (105.0, 10.0, [10.0 * k for k in range(1, 11)] + [105.0]),  # cut at 105 s
        (60.0, 60.0, [60.0]),  # one window, the whole horizon
    ],
)
def test_every_window_up_to_the_horizon_is_recorded(kit, tmp_path: Path, horizon, window, ends):
    manifest, table, regions = kit.run_trace(busy_llm(kit, horizon, window), tmp_path / "run")
    for site in ("a", "b"):
        at_site = kit.rows(table, service="chat", site=site)
        assert sorted(kit.column(at_site, "time_s").tolist()) == ends
    totals = manifest["inference"]["chat"]
    assert totals["in_system"] > 0  # a busy service ends with requests in flight
    check_conservation(kit, manifest, table, regions)
    # the per-region tallies reach the horizon too
    assert kit.column(regions, "time_s").max() == horizon
    assert int(kit.column(regions, "arrivals").sum()) == totals["arrivals"]


def test_a_cut_last_window_holds_its_share_of_the_demand(kit, tmp_path: Path) -> None:
    """Flat demand: the 5 s left after the last 10 s window get about half a window's
    arrivals (Poisson: within 5 standard deviations)."""
    _, table, _ = kit.run_trace(busy_llm(kit, 205.0, 10.0), tmp_path / "run")
    mine = kit.rows(table, service="chat")
    times = kit.column(mine, "time_s")
    arrivals = kit.column(mine, "arrivals")
    full = np.array([arrivals[times == t].sum() for t in np.unique(times) if t <= 200.0])
    last = arrivals[times == 205.0].sum()
    expected = full.mean() / 2
    assert abs(last - expected) < 5 * np.sqrt(expected)


def test_the_fluid_fidelity_balances_its_books_per_region_too(kit, tmp_path: Path) -> None:
    data = busy_llm(kit, 125.0, 10.0)
    data["workloads"]["inference"]["fidelity"] = "fluid"
    manifest, table, regions = kit.run_trace(data, tmp_path / "run")
    assert manifest["inference"]["chat"]["arrivals"] > 0
    check_conservation(kit, manifest, table, regions)
