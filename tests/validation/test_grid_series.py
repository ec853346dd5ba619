"""Energy, CO2 and cost over grid series, and power caps that follow a schedule, held against
integrals and schedules worked out by hand.

One site of 8 H100 at PUE 1.2: idle 120 W each (960 W), +720 W per busy accelerator, a job
charged 840 W per accelerator. Jobs are fed by hand; series are small CSV files whose steps
fall inside the jobs' runs and at the horizon, with negative prices.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import simpy
from config_kit import ACCELERATORS, site

from twin.config import validate_scenario
from twin.model.job import Job
from twin.model.recorder import Recorder
from twin.model.world import World

START = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
J_PER_KWH = 3.6e6
J_PER_MWH = 3.6e9
IDLE_W = 8 * 120.0
EXTRA_W = 720.0
JOB_W = 840.0

CARBON = [(0.0, 100.0), (5400.0, 400.0), (10_800.0, 50.0), (18_000.0, 250.0)]
"""(step start s, gCO2/kWh); the last step holds 2 h (as the one before): to 07:00."""
PRICE = [(0.0, 60.0), (7200.0, -20.0), (14_400.0, 90.0), (19_800.0, -5.0)]
"""(step start s, EUR/MWh), negative steps included; covers to 07:00."""


def write_series(path, steps: Sequence[tuple[float, float]]) -> str:
    lines = ["time,value"]
    for at_s, value in steps:
        lines.append(f"{(START + dt.timedelta(seconds=at_s)).isoformat()},{value}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def by_hand(steps: Sequence[tuple[float, float]], t0: float, t1: float) -> float:
    """∫ over [t0, t1] of a step list, piece by piece."""
    total = 0.0
    for k, (at_s, value) in enumerate(steps):
        end_s = steps[k + 1][0] if k + 1 < len(steps) else float("inf")
        low, high = max(t0, at_s), min(t1, end_s)
        if high > low:
            total += value * (high - low)
    return total


def scenario(sites: list[dict[str, Any]], horizon_s: float, placement: str = "least_loaded"):
    return validate_scenario(
        {
            "name": "grid",
            "start": START.isoformat(),
            "horizon": horizon_s,
            "seed": 0,
            "accelerators": ACCELERATORS,
            "sites": sites,
            "tenants": {"academia": {"share": 1.0}},
            "policies": {"scheduler": "fcfs", "placement": placement},
            "telemetry": {"interval": 900.0},
        }
    )


def run(
    scenario_, jobs: Sequence[tuple[float, int, float]], recorder: Recorder | None = None
) -> World:
    """Run with exactly ``jobs`` as (submit s, accelerators, work s), to the horizon."""
    world = World(scenario_, recorder)

    def feed() -> Iterator[simpy.Event]:
        for number, (submit_s, accelerators, work_s) in enumerate(jobs):
            if submit_s > world.env.now:
                yield world.env.timeout(submit_s - world.env.now)
            job = Job(
                id=number,
                tenant="academia",
                accelerators=accelerators,
                work_s=work_s,
                walltime_factor=1.0,
                submit_s=world.env.now,
            )
            world.jobs.append(job)
            world.broker.submit(job)

    world.env.process(feed())
    world.run(steps=1)
    world.finish()
    return world


class SiteRows(Recorder):
    """Keeps the sites telemetry rows and the events."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.events: list[tuple[float, str, float | None]] = []

    def site_sample(self, row: tuple) -> None:
        self.rows.append(row)

    def event(self, time_s, kind, site=None, job=None, link=None, value=None) -> None:
        self.events.append((time_s, kind, value))


def run_recorded(scenario_, jobs) -> tuple[World, list[tuple]]:
    world = run(scenario_, jobs, SiteRows())
    return world, world.recorder.rows  # type: ignore[attr-defined]


COLUMNS = [
    "time_s",
    "site",
    "online",
    "total",
    "busy",
    "running",
    "queue",
    "queued",
    "utilisation",
    "power_mw",
    "mean_power_mw",
    "energy_mwh",
    "co2_t",
    "cost_eur",
    "carbon",
    "price",
    "power_cap_mw",
    "over_cap_s",
]


def as_dicts(rows: list[tuple]) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


# ---------------------------------------------------------------- energy, CO2, cost


@pytest.fixture
def series_site(tmp_path) -> dict[str, Any]:
    carbon = write_series(tmp_path / "carbon.csv", CARBON)
    price = write_series(tmp_path / "price.csv", PRICE)
    return site(
        "s",
        8,
        carbon={"series": carbon},  # type: ignore[arg-type]
        price={"series": price},  # type: ignore[arg-type]
    )


def test_energy_co2_and_cost_are_the_integrals_over_the_series(series_site) -> None:
    """Job 0 (4 accelerators) runs 1800..9000 across a carbon step (5400) and into a negative
    price (7200); job 1 (8 accelerators) runs from 14400 past the 6 h horizon, across steps at
    18000 and 19800: booked to the horizon."""
    horizon = 21_600.0
    world, rows = run_recorded(
        scenario([series_site], horizon), [(1800, 4, 7200), (14_400, 8, 14_400)]
    )
    segments = [
        (0.0, 1800.0, IDLE_W),
        (1800.0, 9000.0, IDLE_W + 4 * EXTRA_W),
        (9000.0, 14_400.0, IDLE_W),
        (14_400.0, horizon, IDLE_W + 8 * EXTRA_W),
    ]
    energy_j = sum(p * (b - a) for a, b, p in segments)
    co2_g = sum(p / J_PER_KWH * by_hand(CARBON, a, b) for a, b, p in segments)
    cost = sum(p / J_PER_MWH * by_hand(PRICE, a, b) for a, b, p in segments)
    table = as_dicts(rows)
    assert sum(r["energy_mwh"] for r in table) == pytest.approx(energy_j / J_PER_MWH, rel=1e-12)
    assert sum(r["co2_t"] for r in table) == pytest.approx(co2_g / 1e6, rel=1e-12)
    assert sum(r["cost_eur"] for r in table) == pytest.approx(cost, rel=1e-12)
    # the quarter hour 7200..8100 is all at −20 EUR/MWh, the draw 3,840 W
    quarter = next(r for r in table if r["time_s"] == 8100.0)
    assert quarter["cost_eur"] == pytest.approx(3840 * 900 / J_PER_MWH * -20.0, rel=1e-12)
    assert quarter["price"] == -20.0 and quarter["carbon"] == 400.0
    job0, job1 = world.jobs
    assert job0.energy_mwh == pytest.approx(4 * JOB_W * 7200 / J_PER_MWH, rel=1e-12)
    assert job0.co2_t == pytest.approx(
        4 * JOB_W / J_PER_KWH * (3600 * 100 + 3600 * 400) / 1e6, rel=1e-12
    )
    assert job0.cost_eur == pytest.approx(
        4 * JOB_W / J_PER_MWH * (5400 * 60 - 1800 * 20), rel=1e-12
    )
    assert job1.co2_t == pytest.approx(
        8 * JOB_W / J_PER_KWH * (3600 * 50 + 3600 * 250) / 1e6, rel=1e-12
    )
    assert job1.cost_eur == pytest.approx(8 * JOB_W / J_PER_MWH * (5400 * 90 - 1800 * 5), rel=1e-12)


def test_the_factory_api_reads_the_series(series_site) -> None:
    world = World(scenario([series_site], 21_600.0))
    factory = world.factories[0]
    assert [factory.carbon_at(t) for t in (0.0, 5399.0, 5400.0, 20_000.0)] == [
        100.0,
        100.0,
        400.0,
        250.0,
    ]
    assert factory.price_at(7300.0) == -20.0
    assert factory.carbon_integral(1800.0, 9000.0) == pytest.approx(by_hand(CARBON, 1800, 9000))
    assert factory.price_integral(0.0, 21_600.0) == pytest.approx(by_hand(PRICE, 0, 21_600))


def test_a_scaled_series_scales_every_value(tmp_path) -> None:
    """kgCO2/MWh is gCO2/kWh: scale 1; a price file in EUR/kWh needs scale 1000."""
    price = write_series(tmp_path / "kwh.csv", [(0.0, 0.08), (3600.0, 0.12)])
    world = World(
        scenario([site("s", 8, price={"series": price, "scale": 1000})], 7200.0)  # type: ignore[arg-type]
    )
    factory = world.factories[0]
    assert factory.price_at(0.0) == pytest.approx(80.0)
    assert factory.price_integral(0.0, 7200.0) == pytest.approx(3600 * 80 + 3600 * 120)


# ---------------------------------------------------------------- power caps


def capped(steps: list[tuple[str | float, float]], policy: str = "drain") -> dict[str, Any]:
    return site(
        "s",
        8,
        power_mw=[{"at": at, "power_mw": mw} for at, mw in steps],  # type: ignore[arg-type]
        power_cap_policy=policy,
    )


def test_a_rising_cap_lets_waiting_jobs_start_and_is_never_exceeded() -> None:
    """3 kW allows 2 busy ((3000 − 960) // 720); from 2 h, 7.5 kW allows all 8."""
    jobs = [(0.0, 1, 3 * 3600.0)] * 8
    world, rows = run_recorded(scenario([capped([(0, 0.003), ("2h", 0.0075)])], 8 * 3600.0), jobs)
    starts = sorted(job.start_s for job in world.jobs)
    assert starts == [0.0, 0.0] + [7200.0] * 6
    table = as_dicts(rows)
    assert all(r["power_mw"] <= r["power_cap_mw"] * (1 + 1e-9) for r in table)
    assert all(r["over_cap_s"] == 0.0 for r in table)
    assert {r["power_cap_mw"] for r in table if r["time_s"] < 7200} == {0.003}
    assert {r["power_cap_mw"] for r in table if r["time_s"] >= 7200} == {0.0075}


def test_a_job_too_big_for_the_first_cap_waits_for_the_higher_one() -> None:
    world = run(scenario([capped([(0, 0.003), ("2h", 0.0075)])], 4 * 3600.0), [(0.0, 8, 600.0)])
    (job,) = world.jobs
    assert job.state.value == "completed" and job.start_s == 7200.0


def test_a_falling_cap_drains_running_jobs_and_holds_new_starts() -> None:
    """All 8 run from 0 (6,720 W under 7.5 kW); at 1 h the cap drops to 3 kW: they run on
    to 3 h, 2 h over the cap; a job submitted at 1.5 h starts when they end."""
    jobs = [(0.0, 1, 3 * 3600.0)] * 8 + [(5400.0, 1, 600.0)]
    world, rows = run_recorded(scenario([capped([(0, 0.0075), ("1h", 0.003)])], 5 * 3600.0), jobs)
    assert all(job.start_s == 0.0 and job.end_s == 10_800.0 for job in world.jobs[:8])
    assert world.jobs[8].start_s == 10_800.0
    assert all(job.restarts == 0 for job in world.jobs)
    table = as_dicts(rows)
    assert sum(r["over_cap_s"] for r in table) == pytest.approx(7200.0)
    assert world.factories[0].meter.over_cap_s == pytest.approx(7200.0)
    caps = [(t, value) for t, kind, value in world.recorder.events if kind == "power_cap"]
    assert caps == [(3600.0, 0.003)]


def test_a_falling_cap_with_preempt_sheds_the_youngest_jobs() -> None:
    """Jobs start at 0 and 600 s; at 1 h the cap allows 2 busy: the 6 youngest are
    interrupted and requeued, the two oldest run on; the draw never exceeds the cap."""
    jobs = [(0.0, 1, 3 * 3600.0)] * 2 + [(600.0, 1, 3 * 3600.0)] * 6
    world, rows = run_recorded(
        scenario([capped([(0, 0.0075), ("1h", 0.003)], policy="preempt")], 13 * 3600.0), jobs
    )
    assert [job.restarts for job in world.jobs] == [0, 0] + [1] * 6
    shed = [t for t, kind, _ in world.recorder.events if kind == "interrupt_power_cap"]
    assert shed == [3600.0] * 6
    assert world.jobs[0].end_s == world.jobs[1].end_s == 10_800.0
    table = as_dicts(rows)
    assert all(r["over_cap_s"] == 0.0 for r in table)
    assert all(r["power_mw"] <= r["power_cap_mw"] * (1 + 1e-9) for r in table)
    # without checkpoints they redo their 3 h, two at a time, from 3 h: the last end at 12 h
    assert all(job.state.value == "completed" for job in world.jobs)
    assert max(job.end_s for job in world.jobs) == 12 * 3600.0


def test_a_cap_from_a_series_file(tmp_path) -> None:
    cap = write_series(tmp_path / "cap.csv", [(0.0, 0.003), (3600.0, 0.0075), (7200.0, 0.0075)])
    world = run(
        scenario([site("s", 8, power_mw={"series": cap})], 3 * 3600.0),  # type: ignore[arg-type]
        [(0.0, 1, 600.0)] * 4,
    )
    assert sorted(job.start_s for job in world.jobs) == [0.0, 0.0, 600.0, 600.0]


# ---------------------------------------------------------------- placement


def test_lowest_carbon_follows_the_series_hour_by_hour(tmp_path) -> None:
    """Site a alternates 100 / 300 gCO2/kWh by the hour, b stays at 200: a job submitted in
    each hour goes to a in even hours and to b in odd ones."""
    hours = 12
    a = write_series(
        tmp_path / "a.csv", [(h * 3600.0, 100.0 if h % 2 == 0 else 300.0) for h in range(hours + 1)]
    )
    b = write_series(tmp_path / "b.csv", [(0.0, 200.0), (hours * 3600.0, 200.0)])
    sites = [
        site("a", 8, carbon={"series": a}),  # type: ignore[arg-type]
        site("b", 8, carbon={"series": b}),  # type: ignore[arg-type]
    ]
    jobs = [(h * 3600.0 + 1800.0, 1, 60.0) for h in range(hours)]
    world = run(scenario(sites, hours * 3600.0, placement="lowest_carbon"), jobs)
    assert [job.site for job in world.jobs] == ["a" if h % 2 == 0 else "b" for h in range(hours)]
