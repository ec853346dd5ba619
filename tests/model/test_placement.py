"""Placement policies on hand-built scenarios whose right answer is obvious."""

from __future__ import annotations

import datetime as dt

import pytest

from twin.model.broker import least_loaded, lowest_carbon, lowest_cost
from twin.model.world import World

LONG_S = 10_000.0


def sites_of(world) -> list[str]:
    return [job.site for job in world.jobs]


# ---------------------------------------------------------------- lowest_carbon, lowest_cost


@pytest.mark.parametrize(
    ("placement", "field"), [("lowest_carbon", "carbon"), ("lowest_cost", "price")]
)
def test_greenest_or_cheapest_free_site_wins(model_kit, placement, field) -> None:
    """Three identical sites of 8 H100 at intensities (or prices) 300, 50, 200.
    An 8-job fills the best site; the next job goes to the best site that can start it now
    (200), the next 8-job to the only one that still can (300), and when none can, the job
    queues at the best one."""
    sites = [
        model_kit.site(name, 8, **{field: value})
        for name, value in (("dirty", 300.0), ("clean", 50.0), ("mid", 200.0))
    ]
    jobs = [
        model_kit.JobSpec(0.0, 8, LONG_S),
        model_kit.JobSpec(10.0, 2, LONG_S),
        model_kit.JobSpec(20.0, 8, LONG_S),
        model_kit.JobSpec(30.0, 8, 100.0),
    ]
    world = model_kit.run_jobs(model_kit.scenario(sites, placement), jobs)
    assert sites_of(world) == ["clean", "mid", "dirty", "clean"]
    assert world.jobs[3].start_s == pytest.approx(LONG_S)  # it queued behind the first


@pytest.mark.parametrize(
    ("placement", "field"), [("lowest_carbon", "carbon"), ("lowest_cost", "price")]
)
@pytest.mark.parametrize(("a100_site_value", "expected"), [(110.0, "h100"), (100.0, "a100")])
def test_the_job_energy_counts_not_just_the_grid(
    model_kit, placement, field, a100_site_value, expected
) -> None:
    """One hour of reference work on 1 accelerator, PUE 1.2: on an H100 (700 W, speed 1) it
    takes 0.84 kWh; on an A100 (400 W, speed 0.5) 0.96 kWh. At 120 per kWh-unit on the H100
    site, the A100 site wins only below 120 × 0.84 / 0.96 = 105."""
    sites = [
        model_kit.site("h100", 8, "H100", **{field: 120.0}),
        model_kit.site("a100", 8, "A100", **{field: a100_site_value}),
    ]
    world = model_kit.run_jobs(
        model_kit.scenario(sites, placement), [model_kit.JobSpec(0.0, 1, 3600.0)]
    )
    (job,) = world.jobs
    assert job.site == expected
    kwh = 0.84 if expected == "h100" else 0.96
    value = 120.0 if expected == "h100" else a100_site_value
    if field == "carbon":
        assert job.co2_t == pytest.approx(kwh * value / 1e6)
    else:
        assert job.cost_eur == pytest.approx(kwh / 1000 * value)


HOURS = list(range(24))


@pytest.mark.parametrize(
    ("placement", "field"), [("lowest_carbon", "carbon"), ("lowest_cost", "price")]
)
def test_hourly_profiles_flip_the_choice(model_kit, placement, field) -> None:
    """Site "morning" is cleaner (cheaper) from 00:00 to 12:00 UTC, site "flat" the rest of
    the day. The run starts at 06:00 UTC, so jobs submitted in its first 6 h go to
    "morning", the next 12 h to "flat", the last 6 h to "morning" again."""
    profile = [50.0 if hour < 12 else 300.0 for hour in HOURS]
    sites = [
        model_kit.site("morning", 64, **{field: profile}),
        model_kit.site("flat", 64, **{field: 150.0}),
    ]
    training = {
        "arrivals_per_day": 200,
        "accelerators": {"dist": "constant", "value": 1},
        "duration_s": {"dist": "constant", "value": 60},
    }
    start = "2026-03-02T06:00:00"
    world = model_kit.run_world(model_kit.scenario(sites, placement, training, start=start))
    first = dt.datetime.fromisoformat(start)
    seen = set()
    assert len(world.jobs) > 100
    for job in world.jobs:
        hour = (first + dt.timedelta(seconds=job.submit_s)).hour
        assert job.site == ("morning" if hour < 12 else "flat"), (job.submit_s, hour)
        seen.add(job.site)
    assert seen == {"morning", "flat"}


# ---------------------------------------------------------------- nearest_data

PARIS = {"lat": 48.86, "lon": 2.35}
FRANKFURT = {"lat": 50.11, "lon": 8.68}  # about 480 km from Paris
HELSINKI = {"lat": 60.17, "lon": 24.94}  # about 1900 km from Paris


def data_sites(model_kit) -> list[dict]:
    return [
        model_kit.site("paris", 8, **PARIS),
        model_kit.site("frankfurt", 64, **FRANKFURT),
        model_kit.site("helsinki", 64, **HELSINKI),
    ]


def test_nearest_data_goes_to_the_dataset_site(model_kit) -> None:
    """Jobs go where their data lives, even when that site is full and others are idle; a job
    the data's site cannot hold goes to the nearest site that can."""
    jobs = [
        model_kit.JobSpec(0.0, 4, LONG_S, "paris"),
        model_kit.JobSpec(1.0, 4, LONG_S, "paris"),
        model_kit.JobSpec(2.0, 4, LONG_S, "paris"),  # paris is full: it queues there
        model_kit.JobSpec(3.0, 4, LONG_S, "helsinki"),
        model_kit.JobSpec(4.0, 16, LONG_S, "paris"),  # too big for paris: frankfurt is nearest
        model_kit.JobSpec(5.0, 16, LONG_S, "helsinki"),
    ]
    world = model_kit.run_jobs(model_kit.scenario(data_sites(model_kit), "nearest_data"), jobs)
    assert sites_of(world) == ["paris", "paris", "paris", "helsinki", "frankfurt", "helsinki"]
    assert world.jobs[2].start_s == pytest.approx(LONG_S)


def test_nearest_data_with_generated_workload(model_kit) -> None:
    training = {
        "arrivals_per_day": 300,
        "accelerators": {"dist": "choice", "values": [1, 2, 4, 8]},
        "duration_s": {"dist": "exponential", "mean": 3600},
        "dataset_gb": {"dist": "constant", "value": 10},
        "dataset_origins": {"paris": 1, "frankfurt": 1, "helsinki": 1},
    }
    world = model_kit.run_world(model_kit.scenario(data_sites(model_kit), "nearest_data", training))
    assert len(world.jobs) > 200
    assert {job.origin for job in world.jobs} == {"paris", "frankfurt", "helsinki"}
    assert all(job.site == job.origin for job in world.jobs)


# ---------------------------------------------------------------- least_loaded


def test_least_loaded_balances_by_capacity(model_kit) -> None:
    """64 long one-accelerator jobs over sites of 32 and 96: loads stay level, so the small
    site gets a quarter of them."""
    sites = [model_kit.site("small", 32), model_kit.site("large", 96)]
    jobs = [model_kit.JobSpec(float(k), 1, LONG_S) for k in range(64)]
    world = model_kit.run_jobs(model_kit.scenario(sites, "least_loaded"), jobs)
    placed = sites_of(world)
    assert abs(placed.count("small") - 16) <= 1
    assert placed.count("small") + placed.count("large") == 64
    loads = [factory.load() for factory in world.factories]
    assert loads == [0.0, 0.0]  # all done by the end


def test_least_loaded_counts_queued_work(model_kit) -> None:
    """Two sites of 8; four long 8-jobs alternate, the queued ones counting as load."""
    sites = [model_kit.site("a", 8), model_kit.site("b", 8)]
    jobs = [model_kit.JobSpec(float(k), 8, LONG_S) for k in range(4)]
    world = model_kit.run_jobs(model_kit.scenario(sites, "least_loaded"), jobs)
    assert sites_of(world) == ["a", "b", "a", "b"]
    assert [job.start_s for job in world.jobs] == pytest.approx([0.0, 1.0, LONG_S, 1 + LONG_S])


@pytest.mark.parametrize(
    ("placement", "key"),
    [
        ("least_loaded", least_loaded),
        ("lowest_carbon", lowest_carbon),
        ("lowest_cost", lowest_cost),
    ],
)
def test_fast_choice_is_the_key_minimum(model_kit, placement, key) -> None:
    """The broker picks a placement without building the key's tuples for every candidate;
    at every placement of a busy run over mixed pools, equal and hourly grids (ties on every
    part of the key, sites full or not) its pick is the one ``min`` with the key gives."""
    hourly = [50.0 + 10.0 * (hour % 6) for hour in range(24)]
    sites = [
        model_kit.site("a", 8, carbon=100.0, price=40.0),
        model_kit.site("b", 16, "A100", carbon=100.0, price=40.0),
        model_kit.site("c", 8, carbon=100.0, price=40.0),
        model_kit.site("d", 24, carbon=hourly, price=hourly),
        model_kit.site("e", 16, "A100", carbon=hourly, price=hourly),
    ]
    training = {
        "arrivals_per_day": 2000,
        "accelerators": {"dist": "choice", "values": [1, 2, 4, 8]},
        "duration_s": {"dist": "exponential", "mean": 3600},
    }
    world = World(model_kit.build(model_kit.scenario(sites, placement, training)))
    broker = world.broker
    fast = broker._choice
    assert fast is not None
    picks: list[str] = []

    def checked(job, candidates, broker):
        chosen = fast(job, candidates, broker)
        assert chosen == min(candidates, key=lambda fp: key(job, fp[0], fp[1], broker))
        picks.append(chosen[0].id)
        return chosen

    broker._choice = checked
    world.run(steps=1)
    assert len(picks) > 1000
    assert len(set(picks)) >= 3
    assert any(factory.queue for factory in world.factories)  # some sites were full
