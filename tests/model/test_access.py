"""Access programmes: a reserve is honoured within its reclaim time and lent while idle,
quotas bound every period, tiers order the queue, runs pay their programme's price."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.config import validate_scenario
from twin.model.job import JobState
from twin.model.world import World

ACCELERATORS = 32


def scenario(
    *,
    scheduler: str = "easy_backfill",
    seed: int = 1,
    horizon: str = "3d",
    arrivals_per_day: float = 120,
    access: dict[str, Any] | None = None,
    shares: dict[str, float] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "access",
        "start": "2026-01-05",
        "horizon": horizon,
        "seed": seed,
        "accelerators": {"G": {"tdp_w": 500, "bf16_tflops": 500, "memory_gb": 80}},
        "sites": [
            {
                "id": "only",
                "lat": 50,
                "lon": 10,
                "pools": [{"accelerator": "G", "count": ACCELERATORS}],
                "power_mw": 10,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 100,
            }
        ],
        "tenants": {t: {"share": s} for t, s in (shares or {"big": 0.7, "startup": 0.3}).items()},
        "workloads": {
            "training": {
                "arrivals_per_day": arrivals_per_day,
                "accelerators": {"dist": "choice", "values": [1, 2, 4, 8], "weights": [4, 3, 2, 1]},
                "duration_s": {"dist": "exponential", "mean": 7200, "max": 86400},
            }
        },
        "policies": {"scheduler": scheduler, "placement": "least_loaded"},
    }
    if access is not None:
        data["access"] = access
    return data


def reserve(share: float = 0.25, reclaim: str = "preempt", within: str = "30m") -> dict:
    return {
        "programmes": {
            "startups": {
                "tenants": ["startup"],
                "reserved_share": share,
                "reclaim": reclaim,
                "reclaim_within": within,
            }
        }
    }


def world_of(data: dict[str, Any]) -> World:
    return World(validate_scenario(data))


def watch_entitled(world: World, every_s: float = 60.0) -> dict[int, float]:
    """Sample the site: for each programme job that is owed (it fits into what its
    programme's reserve lacks) and still queued, when it was first seen so; returns the
    longest such wait seen, per job."""
    access = world.factories[0].access
    assert access is not None
    first_seen: dict[int, float] = {}
    longest: dict[int, float] = {}

    def sample():
        while True:
            now = world.env.now
            gap = access.reserved["startups"]["G"] - access.held["startups"].get("G", 0)
            owed = [
                job
                for job in world.factories[0].queue
                if job.programme == "startups" and job.accelerators <= gap
            ]
            for job in owed:
                first_seen.setdefault(job.id, now)
                longest[job.id] = now - first_seen[job.id]
            for job_id in [j for j in first_seen if j not in {job.id for job in owed}]:
                del first_seen[job_id]
            yield world.env.timeout(every_s)

    world.env.process(sample())
    return longest


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    scheduler=st.sampled_from(["fcfs", "easy_backfill", "greedy", "fair_share"]),
    load=st.floats(80, 400),
)
def test_a_reserve_is_reclaimed_within_its_stated_time(seed, scheduler, load) -> None:
    """Whatever the workload and scheduler, no programme job that fits into what its
    reserve lacks waits longer than the reclaim time (plus one sampling step)."""
    world = world_of(
        scenario(scheduler=scheduler, seed=seed, arrivals_per_day=load, access=reserve())
    )
    longest = watch_entitled(world)
    world.run()
    assert max(longest.values(), default=0.0) <= 1800 + 60 + 1e-6
    held = world.factories[0].access.held["startups"].get("G", 0)
    assert 0 <= held <= ACCELERATORS


LIGHT = {"big": 0.92, "startup": 0.08}
"""The programme's demand (about 125 accelerator-hours a day at 300 jobs a day) is below
its reserve (8 × 24 = 192): the reserve is often idle, lent, and reclaimed."""


def test_borrowers_are_preempted_and_resume_from_their_checkpoint() -> None:
    world = world_of(scenario(arrivals_per_day=300, shares=LIGHT, access=reserve(within="0s")))
    world.run()
    preempted = [job for job in world.jobs if job.preemptions]
    assert preempted, "a saturated site lends its reserve and must reclaim it"
    assert all(job.tenant == "big" for job in preempted)  # never the programme's own
    assert all(job.restarts >= job.preemptions for job in preempted)
    done = [job for job in preempted if job.state is JobState.COMPLETED]
    # a completed job did all its work, whatever it lost to preemptions
    assert done and all(math.isclose(j.saved_work_s, j.work_s) for j in done)


def test_reclaim_wait_preempts_nobody_and_still_serves_the_programme() -> None:
    data = scenario(arrivals_per_day=300, shares=LIGHT, access=reserve(reclaim="wait"))
    world = world_of(data)
    world.run()
    plain = world_of(scenario(arrivals_per_day=300, shares=LIGHT))
    plain.run()
    assert not any(job.preemptions for job in world.jobs)

    def wait(w: World) -> float:
        waits = [j.wait_s for j in w.jobs if j.tenant == "startup" and j.wait_s is not None]
        return sum(waits) / len(waits)

    assert wait(world) < 0.5 * wait(plain)


def test_an_idle_reserve_is_lent_so_no_utilisation_is_lost() -> None:
    """A programme with no demand changes nothing: the same starts, the same busy time."""
    shares = {"big": 1.0, "startup": 1e-9}  # startup never submits in 3 days
    plain = world_of(scenario(arrivals_per_day=300, shares=shares))
    lent = world_of(scenario(arrivals_per_day=300, shares=shares, access=reserve(share=0.5)))
    for world in (plain, lent):
        world.run()
    assert not any(job.tenant == "startup" for job in lent.jobs)
    assert [j.start_s for j in plain.jobs] == [j.start_s for j in lent.jobs]
    busy = [w.factories[0].meter.busy_accelerator_s for w in (plain, lent)]
    assert busy[0] == busy[1] > 0


def quota(overflow: str, hours: float = 200.0, period: str = "1d") -> dict:
    return {
        "programmes": {
            "startups": {
                "tenants": ["startup"],
                "quota": {"accelerator_hours": hours, "period": period, "overflow": overflow},
            }
        }
    }


def charged_runs(world: World) -> list[tuple[int, float, str | None]]:
    """(job, start, programme charged) of every run, as it starts."""
    runs: list[tuple[int, float, str | None]] = []

    class Listener:
        def job_started(self, job, factory) -> None:
            runs.append((job.id, factory.env.now, job.charged_programme))

    world.factories[0].start_listeners.append(Listener())
    return runs


def usage_per_period(world, runs, period_s: float, programme: str | None) -> dict[int, float]:
    """Accelerator-seconds held per period by the runs charged to ``programme`` (no faults,
    no reserve: one run per job, from its start to its end or the horizon)."""
    jobs = {job.id: job for job in world.jobs}
    used: dict[int, float] = {}
    for job_id, start, charged in runs:
        if charged != programme:
            continue
        job = jobs[job_id]
        end = job.end_s if job.end_s is not None else world.env.now
        k = int(start // period_s)
        while k * period_s < end:
            lo, hi = max(start, k * period_s), min(end, (k + 1) * period_s)
            used[k] = used.get(k, 0.0) + job.accelerators * max(0.0, hi - lo)
            k += 1
    return used


def test_a_quota_is_never_exceeded_and_held_jobs_wait_for_the_next_period() -> None:
    world = world_of(scenario(arrivals_per_day=300, access=quota("wait")))
    runs = charged_runs(world)
    held_seen = []

    def sample():
        while True:
            held_seen.append(sum(j.state is JobState.HELD for j in world.jobs))
            yield world.env.timeout(600)

    world.env.process(sample())
    world.run()
    used = usage_per_period(world, runs, 86400.0, "startups")
    assert max(used.values()) <= 200 * 3600 * (1 + 1e-9)
    assert max(used.values()) > 0.8 * 200 * 3600  # the quota binds in this load
    assert max(held_seen) > 0  # some jobs were held ...
    startup_runs = [r for r in runs if world.jobs[r[0]].tenant == "startup"]
    assert all(charged == "startups" for _, _, charged in startup_runs)  # ... none overflowed


def test_low_priority_overflow_runs_outside_the_programme_at_the_list_price() -> None:
    access = quota("low_priority")
    access["list_price_eur_per_accelerator_hour"] = 3.0
    access["programmes"]["startups"]["price_eur_per_accelerator_hour"] = 0.5
    # 100 jobs a day, 70 % start-ups: 360 accelerator-hours a day of theirs against a
    # quota of 200, on a site of 768 a day: overflow runs find room
    shares = {"big": 0.3, "startup": 0.7}
    world = world_of(scenario(arrivals_per_day=100, shares=shares, access=access))
    runs = charged_runs(world)
    world.run()
    world.finish()
    used = usage_per_period(world, runs, 86400.0, "startups")
    assert max(used.values()) <= 200 * 3600 * (1 + 1e-9)
    overflow = [j for j in world.jobs if j.overflow]
    assert overflow and all(j.tenant == "startup" for j in overflow)
    assert any(j.start_s is not None for j in overflow)  # they run, after everyone else
    # every run pays its own price: programme runs 0.5, overflow and others 3.0 per hour
    for job in world.jobs:
        if job.busy_s and job.restarts == 0:
            price = 0.5 if (job.tenant == "startup" and not job.overflow) else 3.0
            hours = job.accelerators * job.busy_s / 3600
            assert math.isclose(job.spend_eur, hours * price, rel_tol=1e-9), job


def test_a_higher_tier_is_served_first_even_under_fcfs() -> None:
    access = {"programmes": {"first": {"tenants": ["startup"], "priority": 5}}}
    tiered = world_of(scenario(scheduler="fcfs", arrivals_per_day=300, access=access))
    plain = world_of(scenario(scheduler="fcfs", arrivals_per_day=300))
    for world in (tiered, plain):
        world.run()

    def mean_wait(world: World, tenant: str) -> float:
        waits = [j.wait_s for j in world.jobs if j.tenant == tenant and j.wait_s is not None]
        return sum(waits) / len(waits)

    assert mean_wait(tiered, "startup") < 0.2 * mean_wait(plain, "startup")
    assert mean_wait(tiered, "big") > mean_wait(plain, "big")
    # within the queue no lower-tier job is ahead of a higher-tier one
    queue = tiered.factories[0].queue
    tiers = [job.tier for job in queue]
    assert tiers == sorted(tiers, reverse=True)
