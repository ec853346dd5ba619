"""Runs of the built-in europe scenario and its new dated what-ifs: planned sites are offline
before their date and online after it, and each what-if runs. Short horizons, inference off
(none of these what-ifs touches it), so each run takes a few seconds."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

import twin
from twin.config import load_config

PLANNED_2027 = (
    "healthai_cesga",
    "nebius_bethune_2",
    "nebius_lappeenranta",
    "mistral_borlange",
    "schwarz_luebbenau",
)
BID_STARTS = {
    "gigafactory_es_mora_madrid": "2028-01-15",
    "gigafactory_es_alava": "2028-01-15",
    "gigafactory_de_telekom": "2028-01-15",
    "gigafactory_de_ionos": "2028-01-15",
    "gigafactory_de_schwarz": "2028-07-15",
    "gigafactory_pt_sines": "2028-07-15",
}
QUICK = ["workloads.inference.enabled=false", "telemetry.interval=30m"]


def run(tmp_path, name, whatifs=(), overrides=()):
    scenario = load_config("europe", whatifs=list(whatifs), overrides=[*QUICK, *overrides])
    result = twin.simulate(scenario, out=tmp_path / name)
    run = result.open()
    assert run.manifest["status"] == "complete"
    return run


def online(run, site):
    """(time_s, online) of a site's telemetry rows, in time order."""
    sites = run.table("sites")
    rows = sites.filter(pc.equal(sites["site"], site))
    return list(zip(rows["time_s"].to_pylist(), rows["online"].to_pylist(), strict=True))


def jobs_at(run, site):
    jobs = run.table("jobs")
    return jobs.filter(pc.equal(jobs["site"], site)).num_rows


def test_bethune_opens_at_midnight_and_2027_sites_stay_offline(tmp_path):
    """Start at 22:00 on 2026-12-30: Nebius Bethune's first half opens at midnight (2 h in),
    the sites planned for 2027 stay closed, Mistral's two Paris sites are open throughout."""
    result = run(tmp_path, "turn", overrides=["start=2026-12-30T22:00:00", "horizon=4h"])
    rows = online(result, "nebius_bethune")
    assert [flag for t, flag in rows if t < 7200] == [False] * 3  # 0.5 h, 1 h, 1.5 h
    assert [flag for t, flag in rows if t > 7200] == [True] * 4
    for site in PLANNED_2027:
        assert {flag for _, flag in online(result, site)} == {False}, site
        assert jobs_at(result, site) == 0
    for site in ("mistral_compute", "mistral_les_ulis"):
        assert {flag for _, flag in online(result, site)} == {True}, site
    assert jobs_at(result, "nebius_bethune") > 0, "the empty new site draws jobs once open"


@pytest.mark.parametrize("whatif", sorted(BID_STARTS))
def test_each_bid_runs_and_is_online_and_busy_after_its_date(tmp_path, whatif):
    start = BID_STARTS[whatif]
    result = run(tmp_path, whatif, [whatif], [f"start={start}", "horizon=2h"])
    bid_sites = {s.id for s in load_config("europe", whatifs=[whatif]).sites} - {
        s.id for s in load_config("europe").sites
    }
    for site in bid_sites | set(PLANNED_2027):
        assert {flag for _, flag in online(result, site)} == {True}, site
    assert sum(jobs_at(result, site) for site in bid_sites) > 0


def test_a_bid_is_offline_in_the_default_run(tmp_path):
    result = run(tmp_path, "es", ["gigafactory_es_mora_madrid"], ["horizon=1h"])
    for site in ("gf_es_mora", "gf_es_madrid"):
        assert {flag for _, flag in online(result, site)} == {False}
        assert jobs_at(result, site) == 0


def test_antenna_access_runs_and_bills_antenna_users_nothing(tmp_path):
    result = run(tmp_path, "antennas", ["antenna_access"], ["horizon=2h"])
    jobs = result.table("jobs")
    antenna = jobs.filter(pc.starts_with(jobs["tenant"], "antenna_"))
    assert antenna.num_rows > 0
    assert set(antenna["programme"].to_pylist()) <= {
        "antennas_lumi",
        "antennas_jaif",
        "antennas_pharos",
        "antennas_ai2f",
        "antennas_aiat",
        "antennas_ro",
        "antennas_brain",
    }
    spent = [value for value in antenna["spend_eur"].to_pylist() if value is not None]
    assert spent and all(value == 0.0 for value in spent)
    others = jobs.filter(pc.invert(pc.starts_with(jobs["tenant"], "antenna_")))
    assert set(others["programme"].to_pylist()) == {None}
