"""Deferrable jobs under start policies: each starts within its slack at the (site, hour) of
least forecast CO2 (checked by brute force against hand integrals), the same jobs are
deferrable whatever the policy, a pool is never sent more than it holds for an hour, and
the forecast integrates the grid exactly."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from twin.config import ConfigError, validate_scenario
from twin.model.calendar import Calendar
from twin.model.deferral import HOUR_S, START_POLICIES, Forecast
from twin.model.factory import Factory
from twin.model.world import World

CARBON = START_POLICIES["carbon_aware"]

# a dirty site whose night is clean, and a clean site that is small
NIGHT_CLEAN = [50.0] * 6 + [400.0] * 12 + [300.0] * 6
NIGHT_PRICE = [20.0] * 6 + [150.0] * 12 + [90.0] * 6


def scenario(
    *,
    start_policy: str = "carbon_aware",
    share: float = 1.0,
    slack: str = "12h",
    arrivals_per_day: float = 40,
    small_count: int = 8,
    seed: int = 3,
    start: str = "2026-03-02T09:30:00",
    forecast_error: float = 0.0,
    hydro_carbon: float = 30.0,
) -> dict[str, Any]:
    return {
        "name": "deferral",
        "start": start,
        "horizon": "2d",
        "seed": seed,
        "accelerators": {"G": {"tdp_w": 700, "bf16_tflops": 900, "memory_gb": 80}},
        "sites": [
            {
                "id": "coal",
                "lat": 52,
                "lon": 20,
                "pools": [{"accelerator": "G", "count": 256}],
                "power_mw": 50,
                "carbon_gco2_per_kwh": NIGHT_CLEAN,
                "price_eur_per_mwh": NIGHT_PRICE,
            },
            {
                "id": "hydro",
                "lat": 60,
                "lon": 15,
                "pools": [{"accelerator": "G", "count": small_count}],
                "power_mw": 5,
                "carbon_gco2_per_kwh": hydro_carbon,
                "price_eur_per_mwh": 60.0,
            },
        ],
        "tenants": {"lab": {"share": 1.0}},
        "workloads": {
            "training": {
                "arrivals_per_day": arrivals_per_day,
                "accelerators": {"dist": "choice", "values": [1, 4, 8], "weights": [2, 2, 1]},
                "duration_s": {"dist": "exponential", "mean": 5400, "max": 6 * 3600},
                "deferrable": {"share": share, "slack": slack},
            }
        },
        "policies": {
            "scheduler": "fcfs",
            "placement": "least_loaded",
            "start": start_policy,
            "forecast_error": forecast_error,
        },
    }


def run(data: dict[str, Any]) -> World:
    world = World(validate_scenario(data))
    world.run()
    world.finish()
    return world


def test_every_job_starts_within_its_slack_where_and_when_the_forecast_co2_is_least():
    """With room everywhere, the choice is the brute-force least CO2 (ties: earliest)."""
    world = run(scenario(small_count=256, hydro_carbon=80.0))
    factories = {f.id: f for f in world.factories}
    deferrable = [job for job in world.jobs if job.deadline_s is not None]
    assert len(deferrable) == len(world.jobs) > 40
    held = [job for job in deferrable if job.deferred_s is not None]
    assert len(held) > len(deferrable) / 3  # the dirty site's clean night is worth waiting for
    for job in deferrable:
        if job.start_s is None:
            continue
        assert job.start_s <= job.deadline_s + 1e-9, job
        assert job.deferred_s is None or 0 < job.deferred_s <= job.deadline_s - job.submit_s
        # released at its chosen hour (or at once): a start the brute force could pick
        released = job.submit_s + (job.deferred_s or 0.0)
        best = min(
            grams(factory, job, t)
            for factory in world.factories
            for t in candidate_starts(world.calendar, job.submit_s, job.deadline_s)
        )
        assert job.start_s == released  # room everywhere: no queueing
        assert grams(factories[job.site], job, released) <= best * (1 + 1e-12), job
    assert {job.site for job in held} == {"coal"}  # waiting only pays for coal's clean night
    assert any(job.site == "hydro" for job in deferrable)


def candidate_starts(calendar: Calendar, now: float, deadline: float) -> list[float]:
    """Now and every hour boundary of the calendar up to the deadline."""
    first = (math.floor((now + calendar.offset_s) / HOUR_S) + 1) * HOUR_S - calendar.offset_s
    return [now, *np.arange(first, deadline + 1e-9, HOUR_S).tolist()]


def grams(factory: Factory, job, start_s: float) -> float:
    """Hand integral of the job's power × intensity over its run from ``start_s``."""
    pool = factory.pools["G"]
    run_s = job.work_s / pool.spec.speed
    return (
        job.accelerators * pool.busy_facility_w * factory.carbon_integral(start_s, start_s + run_s)
    )


def test_the_same_jobs_are_deferrable_whatever_the_start_policy():
    marked = {}
    for policy in ("immediate", "carbon_aware", "price_aware"):
        world = run(scenario(start_policy=policy, share=0.4))
        marked[policy] = [
            (job.id, job.submit_s, job.deadline_s)
            for job in world.jobs
            if job.deadline_s is not None
        ]
        if policy == "immediate":
            assert all(job.deferred_s is None for job in world.jobs)
    assert 0 < len(marked["immediate"]) < 40 * 2
    assert marked["immediate"] == marked["carbon_aware"] == marked["price_aware"]


def test_carbon_aware_lowers_the_deferrable_jobs_carbon_per_kwh_and_price_aware_their_price():
    def intensity(world: World, per: str) -> float:
        jobs = [job for job in world.jobs if job.energy_mwh > 0]
        energy = sum(job.energy_mwh for job in jobs)
        if per == "co2":
            return sum(job.co2_t for job in jobs) * 1e6 / (energy * 1e3)
        return sum(job.cost_eur for job in jobs) / energy

    at_once = run(scenario(start_policy="immediate"))
    green = run(scenario(start_policy="carbon_aware"))
    cheap = run(scenario(start_policy="price_aware"))
    assert intensity(green, "co2") < 0.6 * intensity(at_once, "co2")
    assert intensity(cheap, "eur") < 0.8 * intensity(at_once, "eur")


def test_a_pool_is_never_sent_more_accelerators_for_an_hour_than_it_holds():
    """Eight-accelerator jobs onto a site of eight: one released per hour at most."""
    data = scenario(small_count=8, arrivals_per_day=200)
    data["sites"] = data["sites"][1:]  # only the small clean site, and a clean night
    data["sites"][0]["carbon_gco2_per_kwh"] = NIGHT_CLEAN
    data["workloads"]["training"]["accelerators"] = {"dist": "choice", "values": [8]}
    data["workloads"]["training"]["duration_s"] = {"dist": "uniform", "low": 600, "high": 1800}
    world = run(data)
    released = [
        math.floor((job.submit_s + job.deferred_s) / HOUR_S)
        for job in world.jobs
        if job.deferred_s is not None
    ]
    assert len(released) >= 4
    assert len(released) == len(set(released))


def test_the_forecast_integrates_the_grid_exactly_and_its_error_is_seeded():
    world = World(validate_scenario(scenario()))
    coal = world.factories[0]
    exact = Forecast(coal, CARBON, 3 * 86400.0, 0.0, seed=1)
    rng = np.random.default_rng(5)
    t0 = rng.uniform(0, 2 * 86400, 50)
    t1 = t0 + rng.uniform(0, 86400, 50)
    hand = [coal.carbon_integral(a, b) for a, b in zip(t0, t1, strict=True)]
    np.testing.assert_allclose(exact.integral(t0, t1), hand, rtol=1e-12)
    noisy = [Forecast(coal, CARBON, 3 * 86400.0, 0.3, seed=s) for s in (1, 1, 2)]
    assert np.array_equal(noisy[0].rates, noisy[1].rates)
    assert not np.array_equal(noisy[0].rates, noisy[2].rates)
    ratio = noisy[0].rates / exact.rates
    assert 0.6 < np.exp(np.log(ratio).mean()) < 1.6 and np.log(ratio).std() > 0.1


def test_a_noisy_forecast_still_keeps_every_deadline_when_there_is_room():
    world = run(scenario(forecast_error=0.5, slack="6h", small_count=256))
    started = [job for job in world.jobs if job.start_s is not None and job.deadline_s]
    assert started and all(job.start_s <= job.deadline_s + 1e-9 for job in started)


def test_the_policy_releases_every_job_by_its_deadline_and_only_the_queue_makes_one_late():
    """On a small clean site the queue does make jobs late: each of them was handed over
    in time, and waited in the queue past its deadline."""
    world = run(scenario(forecast_error=0.5, slack="6h", arrivals_per_day=120))
    late = 0
    for job in world.jobs:
        released = job.submit_s + (job.deferred_s or 0.0)
        assert released <= job.deadline_s + 1e-9
        if job.start_s is not None and job.start_s > job.deadline_s:
            late += 1
            queued_s = job.wait_s - (job.deferred_s or 0.0)
            assert queued_s > job.start_s - job.deadline_s - 1e-9  # the queue's doing
    assert late > 0  # the scenario is tight enough to show it


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["policies"].update(start="greenest"), "policies.start"),
        (lambda d: d["policies"].update(forecast_error=-1), "policies.forecast_error"),
        (
            lambda d: d["workloads"]["training"]["deferrable"].update(slack="0s"),
            "workloads.training.deferrable.slack",
        ),
        (
            lambda d: d["workloads"]["training"]["deferrable"].update(share=1.5),
            "workloads.training.deferrable.share",
        ),
    ],
)
def test_bad_deferral_settings_name_their_path(change, path):
    data = scenario()
    change(data)
    with pytest.raises(ConfigError) as error:
        World(validate_scenario(data))
    assert path in str(error.value)
