"""The fair-share scheduler lets a light tenant overtake a heavy one's queued jobs."""

from __future__ import annotations

from twin.config import validate_scenario
from twin.model.world import World


def scenario(scheduler: str) -> dict:
    return {
        "name": "fair",
        "start": "2026-01-01",
        "horizon": "20d",
        "seed": 3,
        "accelerators": {"G": {"tdp_w": 500, "bf16_tflops": 500, "memory_gb": 80}},
        "sites": [
            {
                "id": "only",
                "lat": 50,
                "lon": 10,
                "pools": [{"accelerator": "G", "count": 8}],
                "power_mw": 10,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 100,
            }
        ],
        "tenants": {"heavy": {"share": 0.8}, "light": {"share": 0.2}},
        "workloads": {
            "training": {
                "arrivals_per_day": 100,  # load 0.87
                "accelerators": {"dist": "constant", "value": 2},
                "duration_s": {"dist": "exponential", "mean": 3000},
            }
        },
        "policies": {"scheduler": scheduler, "placement": "least_loaded"},
    }


def mean_wait(world: World, tenant: str) -> float:
    waits = [job.wait_s for job in world.jobs if job.tenant == tenant and job.start_s is not None]
    return sum(waits) / len(waits)


def run(scheduler: str) -> World:
    world = World(validate_scenario(scenario(scheduler)))
    world.run()
    return world


def test_fair_share_favours_the_tenant_that_used_less():
    fcfs, fair = run("easy_backfill"), run("fair_share")
    # same arrivals, so the same jobs in both runs
    assert [j.submit_s for j in fcfs.jobs] == [j.submit_s for j in fair.jobs]
    assert mean_wait(fair, "light") < 0.5 * mean_wait(fcfs, "light")
    assert mean_wait(fair, "heavy") > mean_wait(fcfs, "heavy")


def test_fair_share_keeps_the_machine_as_busy():
    fcfs, fair = run("easy_backfill"), run("fair_share")
    busy = [sum(f.meter.busy_accelerator_s for f in w.factories) for w in (fcfs, fair)]
    assert abs(busy[0] - busy[1]) / busy[0] < 0.05


def test_fair_share_converges_to_the_weights_under_saturated_demand():
    """Every tenant always has queued work (submissions at 4 × capacity, equal shares):
    over 30 days each tenant's share of accelerator-hours approaches its weight's share."""
    data = scenario("fair_share")
    data["horizon"] = "30d"
    weights = {"a": 1.0, "b": 2.0, "c": 5.0}
    data["tenants"] = {t: {"share": 1.0, "weight": w} for t, w in weights.items()}
    # 8 accelerators × 86,400 s / (2 × 3,000 s) = 115 jobs a day of capacity
    data["workloads"]["training"]["arrivals_per_day"] = 460
    world = World(validate_scenario(data))
    world.run()
    world.finish()
    used = {t: sum(j.accelerators * j.busy_s for j in world.jobs if j.tenant == t) for t in weights}
    total = sum(used.values())
    for tenant, weight in weights.items():
        share = used[tenant] / total
        assert abs(share - weight / sum(weights.values())) < 0.03, (tenant, share)
    # fair share on plain EASY would give each a third
    assert used["c"] / total > 0.55


def test_interrupted_jobs_come_back_under_fair_share():
    """An accelerator failure requeues its job; fair share keeps its own queues, so it must
    take the job back (it once lost it, and stopped with an empty order)."""
    data = scenario("fair_share")
    data["horizon"] = "3d"
    data["faults"] = {"accelerators": {"rate_per_hour": 0.01}}
    world = World(validate_scenario(data))
    world.run()
    interrupted = [job for job in world.jobs if job.restarts]
    assert len(interrupted) >= 5
    scheduler = world.factories[0].scheduler
    known = {job.id for waiting in scheduler._waiting.values() for job in waiting}
    for job in interrupted:
        # each ran again, or waits in the queue where fair share will find it
        assert job.state.value in ("running", "completed") or job.id in known, job
    assert sum(job.state.value == "completed" for job in interrupted) >= len(interrupted) // 2
