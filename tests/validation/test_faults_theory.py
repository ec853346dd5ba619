"""The faults model against theory and conservation laws.

* Accelerator failures are Poisson at rate λ per accelerator-hour, so a job of N
  accelerators is interrupted at N·λ: over a busy time T its restarts are Poisson with mean
  N·λ·T (checked for two N, so the scaling is tested, not one number).
* Young (1974) / Daly (2006): with checkpoint cost C and MTBF M the goodput peaks at
  τ* = √(2CM) and is there about 1 − √(2C/M). With no restart overhead an interval of τ
  followed by its checkpoint is a renewal cycle: it completes after an expected
  M(e^{(τ+C)/M} − 1), so the goodput is exactly τ / (M(e^{(τ+C)/M} − 1)) in the long run.
* Random outages alternate exponential up times (mean ``mtbf``) and repairs: a renewal
  process of cycle mean mtbf + mttr, variance of the count T·σ²/μ³.
* Conservation under every kind of site fault at once: each job once in the jobs table; its
  busy time split exactly into useful, lost, checkpoint and restart; the site meters'
  busy accelerator-seconds equal the jobs'; the faults table's lost GPU-hours equal the
  jobs'; the same seed, the same history.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from fault_kit import DAY, HOUR, build, job, run, scenario, site

from twin.config import load_raw
from twin.model.calendar import Calendar
from twin.model.fault_schedule import outages
from twin.model.world import World
from twin.simulation import simulate

SPARES = {"spare_share": 1.0, "repair": {"dist": "constant", "value": 60}}
"""Hot spares for every accelerator: a job restarts at once after each failure."""


# ---------------------------------------------------------------- N × the rate


@pytest.mark.parametrize("n", [2, 16])
def test_a_job_of_n_accelerators_is_interrupted_at_n_times_the_rate(n) -> None:
    rate = 0.5  # per accelerator-hour
    horizon = 100 * HOUR
    faults = {"accelerators": {"rate_per_hour": rate, **SPARES}, "restart_overhead": 0}
    the_job = job(0, n, 1e12)
    world, log = run(scenario([site("s", 16)], faults, horizon=horizon, seed=11), [the_job])
    assert the_job.busy_s == pytest.approx(horizon)  # never off its accelerators
    expected = n * rate * the_job.busy_s / HOUR  # 100 for n = 2, 800 for n = 16
    assert abs(the_job.restarts - expected) < 4 * math.sqrt(expected), (the_job.restarts, expected)
    assert len(log.of("interrupt_accelerator_failure")) == the_job.restarts
    assert len(log.faults) == the_job.restarts == world.faults.failures


def test_each_type_fails_at_its_own_rate() -> None:
    """H100 at 0.1 per hour, A100 at 1.0: 8 accelerators for 100 h, 80 and 800 expected."""
    faults = {
        "accelerators": {"rate_per_hour": 0.1, "by_type": {"A100": 1.0}, **SPARES},
        "restart_overhead": 0,
    }
    sites = [site("h", 8, "H100"), site("a", 8, "A100")]
    jobs = [job(0, 8, 1e12, allowed=("H100",)), job(1, 8, 1e12, allowed=("A100",))]
    run(scenario(sites, faults, horizon=100 * HOUR, seed=5), jobs)
    for the_job, rate in zip(jobs, (0.1, 1.0), strict=True):
        expected = 8 * rate * the_job.busy_s / HOUR
        assert abs(the_job.restarts - expected) < 4 * math.sqrt(expected), (rate, the_job.restarts)


# ---------------------------------------------------------------- Young / Daly

N_YD = 8
MTBF_S = 3 * HOUR
COST_S = 60.0
TAU_STAR = math.sqrt(2 * COST_S * MTBF_S)  # 1,138 s


def exact_goodput(tau: float, cost: float, mtbf: float) -> float:
    """Long-run useful share of a job checkpointing every τ at cost C, failing at 1/M, with
    no restart overhead: τ per renewal cycle of expected length M(e^{(τ+C)/M} − 1)."""
    return tau / (mtbf * math.expm1((tau + cost) / mtbf))


def test_goodput_peaks_at_young_daly_and_matches_theory() -> None:
    faults = {
        "accelerators": {"rate_per_hour": HOUR / (N_YD * MTBF_S), **SPARES},
        "restart_overhead": 0,
    }
    data = scenario([site("s", N_YD)], faults, horizon=3000 * HOUR)  # ~1,000 failures
    factors = (0.25, 0.5, 1.0, 2.0, 4.0)
    goodput, failures = [], []
    for factor in factors:  # the same seed: the same failure times for every τ
        the_job = job(0, N_YD, 1e12, interval_s=factor * TAU_STAR, cost_s=COST_S)
        run(data, [the_job])
        goodput.append(the_job.useful_s / the_job.busy_s)
        failures.append(the_job.restarts)
    assert min(failures) > 800
    assert goodput.index(max(goodput)) == factors.index(1.0), goodput
    # first order, at τ*: 1 − √(2C/M) = 0.8946
    assert goodput[2] == pytest.approx(1 - math.sqrt(2 * COST_S / MTBF_S), rel=0.02)
    # and the exact long-run goodput at every τ (0.813, 0.879, 0.898, 0.873, 0.791)
    for factor, measured in zip(factors, goodput, strict=True):
        assert measured == pytest.approx(
            exact_goodput(factor * TAU_STAR, COST_S, MTBF_S), rel=0.03
        ), factor


def test_young_daly_picks_root_2cm_for_the_jobs_accelerators() -> None:
    """Checkpoints of 240 GB written at 4 GB/s: C = 60 s. M = 1 / (N · rate of the type)."""
    rates = {"H100": 0.002, "A100": 0.02}
    training = {
        "arrivals_per_day": 200,
        "accelerators": {"dist": "choice", "values": [1, 4, 32]},
        "duration_s": {"dist": "constant", "value": 600},
        "checkpoint_gb": {"dist": "constant", "value": 240},
        "checkpoint_interval": "young_daly",
        "checkpoint_write_gbps": 4,
        "stop_after": 6 * HOUR,
    }
    faults = {"accelerators": {"rate_per_hour": rates["H100"], "by_type": {"A100": 0.02}}}
    sites = [site("h", 64, "H100"), site("a", 64, "A100")]
    world = World(build(scenario(sites, faults, placement="least_loaded", training=training)))
    world.run(until_s=8 * HOUR, steps=1)
    placed = [j for j in world.jobs if j.accelerator is not None]
    assert {(j.accelerators, j.accelerator) for j in placed} == {
        (n, kind) for n in (1, 4, 32) for kind in rates
    }
    for the_job in placed:
        assert the_job.checkpoint_cost_s == pytest.approx(60.0)
        mtbf_s = HOUR / (the_job.accelerators * rates[the_job.accelerator])
        assert the_job.checkpoint_interval_s == pytest.approx(math.sqrt(2 * 60.0 * mtbf_s))
    # e.g. 32 A100: M = 5,625 s, τ = 821.6 s; 1 H100: M = 1.8e6 s, τ = 14,697 s
    by_shape = {(j.accelerators, j.accelerator): j.checkpoint_interval_s for j in placed}
    assert by_shape[(32, "A100")] == pytest.approx(821.58, abs=0.01)
    assert by_shape[(1, "H100")] == pytest.approx(14_696.94, abs=0.01)


def test_young_daly_without_failures_takes_no_checkpoints_and_never_goes_below_a_minute() -> None:
    # a type that never fails: nothing to insure against, no checkpoints
    faults = {"accelerators": {"rate_per_hour": 1.0, "by_type": {"A100": 0.0}}}
    sites = [site("h", 8, "H100"), site("a", 8, "A100")]
    never = job(0, 8, 1000.0, young_daly=True, cost_s=60.0, allowed=("A100",))
    # 8 H100 at 1.0 per hour: M = 450 s; C = 0.5 s gives √(2CM) = 21 s, raised to a minute
    tiny = job(1, 8, 1000.0, young_daly=True, cost_s=0.5, allowed=("H100",))
    world = World(build(scenario(sites, faults)))
    for the_job in (never, tiny):
        world.broker.submit(the_job)
    world.run(until_s=1.0, steps=1)
    assert never.accelerator == "A100" and never.checkpoint_interval_s is None
    assert tiny.accelerator == "H100" and tiny.checkpoint_interval_s == 60.0


# ---------------------------------------------------------------- random outages


def test_random_outages_come_once_per_mtbf_plus_mttr() -> None:
    """Over 1,000 days: sites a and b each on their own (mtbf 1 d, mttr 6 h constant), and
    country XX (sites c and d together; mtbf 2 d, mttr exponential of mean 12 h)."""
    horizon = 1000 * DAY
    sites = [site("a"), site("b"), site("c", country="XX"), site("d", country="XX")]
    faults = {
        "sites": {
            "random": [
                {"sites": ["a", "b"], "mtbf": "1d", "mttr": {"dist": "constant", "value": 21600}},
                {"country": "XX", "mtbf": "2d", "mttr": {"dist": "exponential", "mean": 43200}},
            ]
        }
    }
    data = scenario(sites, faults, horizon=horizon)
    scenario_ = build(data)
    drawn = outages(scenario_, Calendar(scenario_.start))
    cases = {"a": (DAY, 0.25 * DAY, 0.0), "b": (DAY, 0.25 * DAY, 0.0)}
    cases["country:XX"] = (2 * DAY, 0.5 * DAY, (0.5 * DAY) ** 2)
    for label, (mtbf, mttr, mttr_var) in cases.items():
        mine = [o for o in drawn if o.label == label]
        mean, var = mtbf + mttr, mtbf**2 + mttr_var
        expected, sigma = horizon / mean, math.sqrt(horizon * var / mean**3)
        assert abs(len(mine) - expected) < 4 * sigma, (label, len(mine), expected)
        assert all(o.cause == "random" for o in mine)
        for earlier, later in itertools.pairwise(mine):
            assert earlier.end_s < later.start_s  # one target's outages never overlap
    assert {o.targets for o in drawn if o.label == "country:XX"} == {("c", "d")}
    # the run keeps each site down for exactly the drawn outages
    world, log = run(data)
    assert len(log.faults) == len(drawn)
    for factory in world.factories:
        mine = [o for o in drawn if factory.id in o.targets]
        down = sum(min(o.end_s, horizon) - o.start_s for o in mine)
        assert factory.downtime_s(horizon) == pytest.approx(down)
        assert len([e for e in log.of("site_down") if e[2] == factory.id]) == len(mine)
    share = world.factories[0].downtime_s(horizon) / horizon  # 0.25 / 1.25 in theory
    assert share == pytest.approx(0.2, abs=0.03)


# ---------------------------------------------------------------- conservation under faults


def faulty_tiny(queued: str, seed_offset: int = 0) -> dict[str, Any]:
    """configs/tiny.yaml with checkpoints, accelerator failures at 0.02 per hour, a scheduled
    outage of north, a grid event in Italy and random outages of every site."""
    data = load_raw("tiny")
    data["workloads"]["training"].update(
        {
            "checkpoint_gb": {"dist": "lognormal", "median": 100, "sigma": 0.5},
            "checkpoint_interval": "10m",
            "checkpoint_write_gbps": 2,
        }
    )
    data["faults"] = {
        "accelerators": {
            "rate_per_hour": 0.02,
            "spare_share": 0.05,
            "repair": {"dist": "lognormal", "median": 7200, "sigma": 0.5},
        },
        "sites": {
            "scheduled": [
                {"site": "north", "start": "6h", "duration": "2h"},
                {"country": "IT", "start": "7h", "duration": "30m"},
            ],
            "random": [{"mtbf": "8h", "mttr": {"dist": "exponential", "mean": 1800}}],
            "queued": queued,
        },
        "restart_overhead": "5m",
        "seed_offset": seed_offset,
    }
    return data


@pytest.fixture(scope="module", params=["move", "wait"])
def traced(request, tmp_path_factory) -> dict[str, Any]:
    scenario_ = build(faulty_tiny(request.param))
    trace = simulate(scenario_, out=tmp_path_factory.mktemp(request.param) / "run").open()
    return {
        "queued": request.param,
        "manifest": trace.manifest,
        "jobs": trace.table("jobs").to_pandas(),
        "faults": trace.table("faults").to_pandas(),
        "events": trace.table("events").to_pandas(),
    }


def test_every_submitted_job_is_in_the_jobs_table_once(traced) -> None:
    jobs = traced["jobs"]
    assert len(jobs) == traced["manifest"]["jobs_submitted"] > 300
    assert sorted(jobs["job"]) == list(range(len(jobs)))
    # a hard enough case: many interruptions of both kinds
    kinds = traced["events"]["kind"].value_counts()
    assert kinds["interrupt_accelerator_failure"] > 30 and kinds["interrupt_site_outage"] > 30
    assert set(traced["faults"]["kind"]) == {"accelerator", "site_outage"}


def test_busy_time_splits_into_its_four_parts(traced) -> None:
    jobs = traced["jobs"]
    parts = jobs["useful_s"] + jobs["lost_work_s"] + jobs["checkpoint_s"] + jobs["restart_s"]
    assert ((parts - jobs["busy_s"]).abs() <= 1e-6 * jobs["busy_s"] + 1e-9).all()
    assert (jobs[["useful_s", "lost_work_s", "checkpoint_s", "restart_s"]] >= 0).all().all()
    ran = jobs[jobs["busy_s"] > 0]
    assert (ran["goodput"] - ran["useful_s"] / ran["busy_s"]).abs().max() < 1e-12
    # restart overhead is 5 minutes per restart, unless the run ended (or was cut) inside it
    assert (jobs["restart_s"] <= 300.0 * jobs["restarts"] + 1e-6).all()
    events = traced["events"]
    interrupts = events[events["kind"].str.startswith("interrupt_")].groupby("job").size()
    assert (jobs.set_index("job")["restarts"] == interrupts.reindex(jobs["job"]).fillna(0)).all()


def test_completed_jobs_did_exactly_their_work(traced) -> None:
    jobs, events = traced["jobs"], traced["events"]
    speed = {"north": 1.0, "south": 0.32}  # H100 and A100 in tiny.yaml
    sites_run = events[events["kind"] == "start"].groupby("job")["site"].agg(set)
    done = jobs[jobs["state"] == "completed"].set_index("job")
    assert (done["restarts"] > 0).sum() > 20
    moved = 0
    for number, row in done.iterrows():
        where = sites_run[number]
        if len(where) == 1:  # one accelerator type: useful seconds × speed = work
            assert row["useful_s"] * speed[row["site"]] == pytest.approx(row["work_s"], rel=1e-9)
        else:  # ran on both types: between the work at the faster and at the slower speed
            moved += 1
            assert (
                row["work_s"] * (1 - 1e-9) <= row["useful_s"] <= row["work_s"] / 0.32 * (1 + 1e-9)
            )
    if traced["queued"] == "wait":
        assert moved == 0
    else:
        assert moved > 0


def test_faults_table_lost_gpu_hours_match_the_jobs(traced) -> None:
    jobs, faults, events = traced["jobs"], traced["faults"], traced["events"]
    lost_by_jobs = (jobs["lost_work_s"] * jobs["accelerators"]).sum() / HOUR
    assert faults["lost_gpu_h"].sum() == pytest.approx(lost_by_jobs, rel=1e-9)
    assert lost_by_jobs > 10
    count = events["kind"].value_counts()
    assert (faults["kind"] == "accelerator").sum() == count["interrupt_accelerator_failure"]
    outages_ = faults[faults["kind"] == "site_outage"]
    assert outages_["jobs_hit"].sum() == count["interrupt_site_outage"]
    assert sorted(faults["fault"]) == list(range(len(faults)))
    assert faults["start_s"].is_monotonic_increasing


@pytest.mark.parametrize("queued", ["move", "wait"])
def test_site_meters_count_the_jobs_busy_accelerator_seconds(queued) -> None:
    world = World(build(faulty_tiny(queued)), keep_jobs=True)
    world.run(steps=1)
    world.finish()
    metered = 0.0
    for factory in world.factories:
        factory.meter.advance(world.env.now)
        metered += factory.meter.busy_accelerator_s
    by_jobs = sum(j.busy_s * j.accelerators for j in world.jobs)
    assert len(world.jobs) == world.submitted > 300
    assert metered == pytest.approx(by_jobs, rel=1e-9)
    assert sum(j.restarts for j in world.jobs) > 50
    if queued == "wait":  # jobs stay at their site: each site's energy from its own jobs
        for factory in world.factories:
            [pool] = factory.pools.values()
            spec, pue = pool.spec, factory.site.pue
            up_s = world.env.now - factory.downtime_s(world.env.now)
            assert 0 < up_s < world.env.now  # it was down for a while
            # idle power whenever up, plus (TDP − idle) × PUE for each job's busy time
            busy_j = sum(j.busy_s * j.accelerators for j in world.jobs if j.site == factory.id) * (
                (spec.tdp_w - spec.idle_power_w) * pue
            )
            idle_j = pool.total * spec.idle_power_w * pue * up_s
            assert factory.meter.energy_j == pytest.approx(idle_j + busy_j, rel=1e-9)
            # and the jobs were charged TDP × PUE for exactly that busy time
            charged_j = sum(j.energy_mwh for j in world.jobs if j.site == factory.id) * 3.6e9
            assert charged_j == pytest.approx(
                busy_j * spec.tdp_w / (spec.tdp_w - spec.idle_power_w), rel=1e-9
            )


def test_the_same_seed_gives_the_same_history_and_an_offset_another(tmp_path) -> None:
    def tables(seed_offset: int, name: str) -> tuple:
        trace = simulate(build(faulty_tiny("move", seed_offset)), out=tmp_path / name).open()
        return trace.table("jobs"), trace.table("faults")

    jobs_a, faults_a = tables(0, "a")
    jobs_b, faults_b = tables(0, "b")
    jobs_c, faults_c = tables(3, "c")
    assert jobs_a.equals(jobs_b) and faults_a.equals(faults_b)
    assert not faults_a.equals(faults_c)
    assert faults_a.column("start_s").to_pylist() != faults_c.column("start_s").to_pylist()
    # the same workload was submitted: only what faults did to it differs
    same = ["job", "tenant", "accelerators", "submit_s", "work_s", "dataset_gb"]
    assert jobs_a.sort_by("job").select(same).equals(jobs_c.sort_by("job").select(same))
    assert not jobs_a.sort_by("job").equals(jobs_c.sort_by("job"))
