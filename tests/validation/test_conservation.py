"""Conservation laws on whole runs, checked from the trace against quantities rebuilt by hand.

The main scenario has three sites (one opening mid-run, one with two pools, one whose power
cap binds), failures, patience (cancellations), jobs too big for any site (rejections),
hourly carbon and price profiles and a start that is not at midnight. Submissions stop after
a day so the system drains. Every scheduler is run. Every check rebuilds its reference from
the jobs table and the site configuration, independently of the model's meters.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pytest

from twin.simulation import simulate

START = "2026-03-02T05:30:00"
HORIZON_S = 3 * 86400.0
WEST_OPENS_S = 6 * 3600.0
J_PER_MWH = 3.6e9
J_PER_KWH = 3.6e6
TERMINAL = {"completed", "failed", "cancelled", "rejected"}
END_EVENT = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancel",
    "rejected": "reject",
}
"""The event kind that ends a job in each terminal state."""

# 24 hourly values (UTC) whose hours are easy to tell apart.
CARBON_NORTH = [20.0 + 10.0 * h for h in range(24)]
CARBON_WEST = [300.0 - 7.0 * h for h in range(24)]
PRICE_NORTH = [40.0 + (h % 5) * 13.0 for h in range(24)]
PRICE_SOUTH = [90.0 + 3.0 * ((h * 7) % 24) for h in range(24)]


def conservation_scenario(scenarios, scheduler: str) -> dict[str, Any]:
    opening = dt.datetime.fromisoformat(START) + dt.timedelta(seconds=WEST_OPENS_S)
    sites = [
        scenarios.site(
            "north", 64, pue=1.1, carbon=CARBON_NORTH, price=PRICE_NORTH, lat=64.2, lon=27.7
        ),
        # 128 A100 at 1.3 PUE: idle 9.98 kW, +442 W per busy one; 40 kW allows 67 busy.
        scenarios.site(
            "south",
            128,
            "A100",
            power_mw=0.04,
            pue=1.3,
            carbon=331.0,
            price=PRICE_SOUTH,
            lat=44.5,
            lon=11.4,
        ),
        scenarios.site(
            "west",
            # jobs go to the fastest pool that can ever hold them: 32-accelerator jobs here
            # can only run on the A100s, so both pools see work
            pools=[{"accelerator": "H100", "count": 16}, {"accelerator": "A100", "count": 48}],
            pue=1.25,
            carbon=CARBON_WEST,
            price=75.0,
            lat=48.8,
            lon=2.3,
            online_from=opening.isoformat(),
        ),
    ]
    training = {
        "arrivals_per_day": 500,
        "accelerators": {
            "dist": "choice",
            "values": [1, 2, 4, 8, 16, 32, 256],
            "weights": [40, 15, 15, 15, 10, 5, 1],
        },
        "duration_s": {"dist": "lognormal", "median": 1800, "sigma": 1.2, "max": 8 * 3600},
        "walltime_factor": 1.5,
        "failure_probability": 0.1,
        "patience_s": {"dist": "lognormal", "median": 3 * 3600, "sigma": 1.0},
        "stop_after": 86400,
    }
    return scenarios.scenario(
        sites,
        training,
        scheduler=scheduler,
        placement="least_loaded",
        horizon=HORIZON_S,
        interval=900,
        start=START,
        seed=7,
    )


@pytest.fixture(scope="module", params=["fcfs", "easy_backfill", "greedy", "fair_share"])
def run(request, tmp_path_factory, scenarios) -> dict[str, Any]:
    data = conservation_scenario(scenarios, request.param)
    scenario = scenarios.build(data)
    trace = simulate(scenario, out=tmp_path_factory.mktemp(request.param) / "run").open()
    return {
        "scenario": scenario,
        "manifest": trace.manifest,
        "jobs": trace.table("jobs").to_pandas(),
        "sites": trace.table("sites").to_pandas(),
        "events": trace.table("events").to_pandas(),
    }


# ---------------------------------------------------------------- references built by hand


def site_spec(scenario, site_id: str) -> dict[str, Any]:
    """Counts, per-accelerator powers, PUE, cap and opening time of a site, from the config."""
    site = scenario.site(site_id)
    counts: Counter[str] = Counter()
    for pool in site.pools:
        counts[pool.accelerator] += pool.count
    opening = 0.0
    if site.online_from is not None:
        opening = max(0.0, (site.online_from - scenario.start).total_seconds())
    return {
        "counts": dict(counts),
        "idle_w": {a: scenario.accelerators[a].idle_power_w for a in counts},
        "tdp_w": {a: scenario.accelerators[a].tdp_w for a in counts},
        "speed": {a: scenario.accelerators[a].speed for a in counts},
        "pue": site.pue,
        "cap_w": site.power_mw * 1e6,
        "opening_s": opening,
        "carbon": site.carbon_gco2_per_kwh,
        "price": site.price_eur_per_mwh,
    }


def facility_power_w(spec: dict[str, Any], busy: dict[str, int]) -> float:
    """(idle × idle accelerators + TDP × busy accelerators) × PUE."""
    watts = sum(
        spec["idle_w"][a] * (n - busy.get(a, 0)) + spec["tdp_w"][a] * busy.get(a, 0)
        for a, n in spec["counts"].items()
    )
    return watts * spec["pue"]


def power_segments(
    spec: dict[str, Any], jobs: pd.DataFrame, horizon: float
) -> list[tuple[float, float, float, dict[str, int]]]:
    """Piecewise-constant facility power of a site from its opening to the horizon:
    (t0, t1, power W, busy per type), one segment between consecutive start/end times."""
    ran = jobs[jobs["start_s"].notna()]
    deltas: dict[float, Counter[str]] = defaultdict(Counter)
    for start, end, acc, kind in zip(
        ran["start_s"], ran["end_s"], ran["accelerators"], ran["accelerator"], strict=True
    ):
        deltas[float(start)][kind] += int(acc)
        deltas[float(end)][kind] -= int(acc)
    times = sorted({spec["opening_s"], horizon, *deltas})
    busy: Counter[str] = Counter()
    segments = []
    for t0, t1 in itertools.pairwise(times):
        busy.update(deltas.get(t0, Counter()))
        if t0 >= spec["opening_s"]:
            segments.append((t0, t1, facility_power_w(spec, busy), dict(busy)))
    return segments


def hourly(profile: float | list[float], t0: float, t1: float) -> list[tuple[float, float]]:
    """[(seconds, value)] pieces of [t0, t1] split at the UTC hour boundaries after START."""
    if isinstance(profile, (int, float)):
        return [(t1 - t0, float(profile))]
    start = dt.datetime.fromisoformat(START).replace(tzinfo=dt.timezone.utc)
    offset = start.minute * 60 + start.second  # seconds past the hour at t = 0
    pieces = []
    t = t0
    while t < t1:
        boundary = (math.floor((t + offset) / 3600) + 1) * 3600 - offset
        end = min(boundary, t1)
        hour = (start + dt.timedelta(seconds=(t + end) / 2)).hour
        pieces.append((end - t, profile[hour]))
        t = end
    return pieces


def jobs_at(run: dict[str, Any], site_id: str) -> pd.DataFrame:
    return run["jobs"][run["jobs"]["site"] == site_id]


SITE_IDS = ("north", "south", "west")


# ---------------------------------------------------------------- every job ends exactly once


def test_every_job_appears_once_and_ends_in_one_terminal_state(run) -> None:
    jobs, events = run["jobs"], run["events"]
    submitted = run["manifest"]["jobs_submitted"]
    assert submitted > 300
    assert sorted(jobs["job"]) == list(range(submitted))
    assert set(jobs["state"]) == TERMINAL  # all four states occur, and nothing else
    submits = events[events["kind"] == "submit"]["job"]
    assert sorted(submits) == list(range(submitted))
    ends = events[events["kind"].isin(set(END_EVENT.values()))]
    assert ends["job"].is_unique
    assert len(ends) == submitted
    end_kind = dict(zip(ends["job"], ends["kind"], strict=True))
    for job, state in zip(jobs["job"], jobs["state"], strict=True):
        assert end_kind[job] == END_EVENT[state]


def test_terminal_states_are_consistent(run, scenarios) -> None:
    jobs = run["jobs"]
    speed = {name: spec.get("speed", 1.0) for name, spec in scenarios.ACCELERATORS.items()}
    ran = jobs[jobs["state"].isin(["completed", "failed"])]
    full = ran["work_s"] / ran["accelerator"].map(speed)
    assert (ran["end_s"] - ran["start_s"]).to_numpy() == pytest.approx(ran["run_s"].to_numpy())
    assert (ran["start_s"] >= ran["submit_s"]).all()
    done = ran["state"] == "completed"
    np.testing.assert_allclose(ran["run_s"][done], full[done], rtol=1e-9)
    assert (ran["run_s"][~done] < full[~done]).all()
    np.testing.assert_allclose(ran["walltime_s"], full * 1.5, rtol=1e-9)

    cancelled = jobs[jobs["state"] == "cancelled"]
    assert cancelled["start_s"].isna().all()
    assert cancelled["site"].notna().all()
    assert cancelled["reason"].str.contains("patience").all()
    np.testing.assert_allclose(cancelled["wait_s"], cancelled["end_s"] - cancelled["submit_s"])

    rejected = jobs[jobs["state"] == "rejected"]
    assert (rejected["accelerators"] == 256).all()
    assert rejected["site"].isna().all()
    assert rejected["reason"].str.contains("needs 256 accelerators").all()
    assert (jobs[jobs["accelerators"] == 256]["state"] == "rejected").all()


# ---------------------------------------------------------------- capacity


def test_busy_accelerator_seconds_within_capacity(run) -> None:
    for site_id in SITE_IDS:
        spec = site_spec(run["scenario"], site_id)
        jobs = jobs_at(run, site_id)
        used = float((jobs["accelerators"] * jobs["run_s"].fillna(0.0)).sum())
        capacity = sum(spec["counts"].values()) * (HORIZON_S - spec["opening_s"])
        assert 0 < used <= capacity


def test_sites_table_accelerator_seconds_match_the_jobs(run) -> None:
    """Σ utilisation × installed × interval in sites.arrow = Σ accelerators × run time."""
    samples = run["sites"]
    for site_id in SITE_IDS:
        rows = samples[samples["site"] == site_id]
        spans = np.diff(np.concatenate([[0.0], rows["time_s"].to_numpy()]))
        busy_s = float((rows["utilisation"] * rows["total_accelerators"] * spans).sum())
        jobs = jobs_at(run, site_id)
        used = float((jobs["accelerators"] * jobs["run_s"].fillna(0.0)).sum())
        assert busy_s == pytest.approx(used, rel=1e-9)
        assert ((rows["utilisation"] >= 0) & (rows["utilisation"] <= 1 + 1e-12)).all()


def test_busy_accelerators_never_exceed_installed_at_any_event(run) -> None:
    """Replay start/end events in trace order: busy per site and per pool ≤ installed."""
    events, jobs = run["events"], run["jobs"]
    assert events["time_s"].is_monotonic_increasing
    kind_of = dict(zip(jobs["job"], jobs["accelerator"], strict=True))
    busy: Counter[tuple[str, str]] = Counter()
    peak: Counter[tuple[str, str]] = Counter()
    for kind, site_id, job, value in zip(
        events["kind"], events["site"], events["job"], events["value"], strict=True
    ):
        if kind not in {"start", "completed", "failed"}:
            continue
        key = (site_id, kind_of[job])
        busy[key] += int(value) if kind == "start" else -int(value)
        assert busy[key] >= 0
        peak[key] = max(peak[key], busy[key])
        installed = site_spec(run["scenario"], site_id)["counts"]
        assert busy[key] <= installed[key[1]]
        assert sum(n for (s, _), n in busy.items() if s == site_id) <= sum(installed.values())
    assert all(n == 0 for n in busy.values())  # drained
    assert peak[("north", "H100")] == 64  # the uncapped site does fill up
    assert peak[("west", "H100")] > 0 and peak[("west", "A100")] > 0


# ---------------------------------------------------------------- power


def test_power_never_exceeds_the_cap(run) -> None:
    for site_id in SITE_IDS:
        spec = site_spec(run["scenario"], site_id)
        segments = power_segments(spec, jobs_at(run, site_id), HORIZON_S)
        peak = max(power for _, _, power, _ in segments)
        assert peak <= spec["cap_w"] * (1 + 1e-9)
        rows = run["sites"][run["sites"]["site"] == site_id]
        assert (rows["power_mw"] * 1e6 <= spec["cap_w"] * (1 + 1e-9)).all()
        assert (rows["mean_power_mw"] * 1e6 <= spec["cap_w"] * (1 + 1e-9)).all()


def test_the_south_cap_binds(run) -> None:
    """The cap, not the accelerators, limits south: at most (cap − idle power) / (extra power
    of a busy A100) = 67 of its 128 A100s are ever busy, and that many are reached."""
    spec = site_spec(run["scenario"], "south")
    idle_w = facility_power_w(spec, {})
    one_more = (spec["tdp_w"]["A100"] - spec["idle_w"]["A100"]) * spec["pue"]
    allowed = math.floor((spec["cap_w"] - idle_w) / one_more)
    assert allowed == 67
    segments = power_segments(spec, jobs_at(run, "south"), HORIZON_S)
    assert max(busy.get("A100", 0) for *_, busy in segments) == allowed
    rows = run["sites"][run["sites"]["site"] == "south"]
    assert (rows["queue_length"] > 0).any()


# ---------------------------------------------------------------- energy, CO2, cost


def test_energy_is_the_integral_of_power(run) -> None:
    for site_id in SITE_IDS:
        spec = site_spec(run["scenario"], site_id)
        segments = power_segments(spec, jobs_at(run, site_id), HORIZON_S)
        energy_j = sum(power * (t1 - t0) for t0, t1, power, _ in segments)
        rows = run["sites"][run["sites"]["site"] == site_id]
        assert rows["energy_mwh"].sum() == pytest.approx(energy_j / J_PER_MWH, rel=1e-6)
        spans = np.diff(np.concatenate([[0.0], rows["time_s"].to_numpy()]))
        mean_power_energy = float((rows["mean_power_mw"] * spans).sum()) / 3600
        assert mean_power_energy == pytest.approx(energy_j / J_PER_MWH, rel=1e-6)


def test_nothing_is_drawn_before_a_site_opens(run) -> None:
    rows = run["sites"][run["sites"]["site"] == "west"]
    before = rows[rows["time_s"] <= WEST_OPENS_S]
    assert len(before) == WEST_OPENS_S / 900
    assert (before["energy_mwh"] == 0).all()
    assert not rows[rows["time_s"] < WEST_OPENS_S]["online"].any()
    assert rows[rows["time_s"] >= WEST_OPENS_S]["online"].all()
    opened = run["events"][run["events"]["kind"] == "site_online"]
    assert dict(zip(opened["site"], opened["time_s"], strict=True)) == {
        "north": 0.0,
        "south": 0.0,
        "west": WEST_OPENS_S,
    }


def test_co2_and_cost_are_integrals_over_the_hourly_profiles(run) -> None:
    for site_id in SITE_IDS:
        spec = site_spec(run["scenario"], site_id)
        segments = power_segments(spec, jobs_at(run, site_id), HORIZON_S)
        co2_g = cost_eur = 0.0
        for t0, t1, power, _ in segments:
            co2_g += sum(power * s / J_PER_KWH * v for s, v in hourly(spec["carbon"], t0, t1))
            cost_eur += sum(power * s / J_PER_MWH * v for s, v in hourly(spec["price"], t0, t1))
        rows = run["sites"][run["sites"]["site"] == site_id]
        assert rows["co2_t"].sum() == pytest.approx(co2_g / 1e6, rel=1e-6)
        assert rows["cost_eur"].sum() == pytest.approx(cost_eur, rel=1e-6)


def test_telemetry_reports_the_hourly_profile_values(run) -> None:
    start = dt.datetime.fromisoformat(START)
    rows = run["sites"][run["sites"]["site"] == "north"]
    hours = [(start + dt.timedelta(seconds=t)).hour for t in rows["time_s"]]
    assert list(rows["carbon_gco2_per_kwh"]) == [CARBON_NORTH[h] for h in hours]
    assert list(rows["price_eur_per_mwh"]) == [PRICE_NORTH[h] for h in hours]


def test_per_job_energy_co2_and_cost(run) -> None:
    """Each job is charged accelerators × TDP × PUE over its run, at the hourly intensity and
    price of the hours it ran in; together they draw no more than their sites did."""
    for site_id in SITE_IDS:
        spec = site_spec(run["scenario"], site_id)
        jobs = jobs_at(run, site_id)
        ran = jobs[jobs["start_s"].notna()]
        for row in ran.itertuples():
            power = row.accelerators * spec["tdp_w"][row.accelerator] * spec["pue"]
            assert row.energy_mwh == pytest.approx(power * row.run_s / J_PER_MWH, rel=1e-9)
            co2 = sum(
                power * s / J_PER_KWH * v for s, v in hourly(spec["carbon"], row.start_s, row.end_s)
            )
            cost = sum(
                power * s / J_PER_MWH * v for s, v in hourly(spec["price"], row.start_s, row.end_s)
            )
            assert row.co2_t == pytest.approx(co2 / 1e6, rel=1e-9)
            assert row.cost_eur == pytest.approx(cost, rel=1e-9)
        not_run = jobs[jobs["start_s"].isna()]
        assert (not_run["energy_mwh"] == 0).all()
        rows = run["sites"][run["sites"]["site"] == site_id]
        assert jobs["energy_mwh"].sum() <= rows["energy_mwh"].sum()
        assert jobs["co2_t"].sum() <= rows["co2_t"].sum()
        assert jobs["cost_eur"].sum() <= rows["cost_eur"].sum()


# ---------------------------------------------------------------- rejected and held jobs


def small_workload(sizes: list[int], **extra: Any) -> dict[str, Any]:
    return {
        "arrivals_per_day": 100,
        "accelerators": {"dist": "choice", "values": sizes},
        "duration_s": {"dist": "exponential", "mean": 1800, "max": 4 * 3600},
        "stop_after": 12 * 3600,
        **extra,
    }


def test_jobs_too_big_for_any_site_are_rejected_with_the_reason(tmp_path, scenarios) -> None:
    data = scenarios.scenario(
        [scenarios.site("a", 64), scenarios.site("b", 32, "A100")],
        small_workload([1000]),
        horizon=86400,
    )
    jobs = simulate(scenarios.build(data), out=tmp_path / "run").open().table("jobs").to_pandas()
    assert len(jobs) > 20
    assert (jobs["state"] == "rejected").all()
    assert jobs["reason"].str.fullmatch("needs 1000 accelerators; the largest pool has 64").all()
    assert (jobs["end_s"] == jobs["submit_s"]).all()
    assert jobs["start_s"].isna().all() and jobs["site"].isna().all()


def test_jobs_no_power_cap_allows_are_rejected_with_the_reason(scenarios) -> None:
    # 64 H100 at PUE 1.2: idle 7.68 kW, +720 W per busy one; 20 kW allows 17 busy.
    data = scenarios.scenario([scenarios.site("a", 64, power_mw=0.02)], small_workload([8, 32]))
    world = scenarios.run_world(data)
    big = [job for job in world.jobs if job.accelerators == 32]
    small = [job for job in world.jobs if job.accelerators == 8]
    assert big and small
    assert all(job.state.value == "rejected" for job in big)
    assert all(job.reason == "no site's power cap allows 32 busy accelerators" for job in big)
    assert all(job.state.value == "completed" for job in small)


def test_jobs_wait_for_the_only_site_that_fits_to_open(scenarios) -> None:
    opens_s = 6 * 3600.0
    opening = dt.datetime.fromisoformat(scenarios.START) + dt.timedelta(seconds=opens_s)
    data = scenarios.scenario(
        [
            scenarios.site("small", 8),
            scenarios.site("big", 64, online_from=opening.isoformat()),
        ],
        small_workload([4, 16]),
        horizon=2 * 86400,
    )
    from twin.model.recorder import Recorder
    from twin.model.world import World

    class Events(Recorder):
        def __init__(self) -> None:
            self.rows: list[tuple] = []

        def event(self, time_s, kind, site=None, job=None, link=None, value=None) -> None:
            self.rows.append((time_s, kind, site, job))

    recorder = Events()
    world = World(scenarios.build(data), recorder)
    world.run()
    world.finish()
    held = {job for _, kind, _, job in recorder.rows if kind == "hold"}
    placed = {job: (t, site) for t, kind, site, job in recorder.rows if kind == "place"}
    big = [job for job in world.jobs if job.accelerators == 16]
    early_big = [job for job in big if job.submit_s < opens_s]
    assert len(early_big) >= 5
    assert all(job.state.value == "completed" for job in world.jobs)
    for job in big:
        assert job.site == "big"
        assert job.start_s >= opens_s
        assert (job.id in held) == (job.submit_s < opens_s)
        assert placed[job.id] == (max(job.submit_s, opens_s), "big")
    for job in world.jobs:
        if job.accelerators == 4 and job.submit_s < opens_s:
            assert job.site == "small"
    assert held == {job.id for job in early_big}


def test_jobs_for_a_site_that_never_opens_in_the_run_are_rejected(scenarios) -> None:
    after = dt.datetime.fromisoformat(scenarios.START) + dt.timedelta(days=30)
    data = scenarios.scenario(
        [scenarios.site("small", 8), scenarios.site("big", 64, online_from=after.isoformat())],
        small_workload([4, 16]),
        horizon=86400,
    )
    world = scenarios.run_world(data)
    big = [job for job in world.jobs if job.accelerators == 16]
    assert big
    assert all(job.state.value == "rejected" for job in big)
    assert all("do not open within the run" in job.reason for job in big)
    assert all(job.state.value == "completed" for job in world.jobs if job.accelerators == 4)
