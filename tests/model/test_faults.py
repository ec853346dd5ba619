"""What faults do to jobs and sites, on timelines worked out by hand.

Scheduled outages are deterministic, so most timelines here are exact: where an interrupted
job's time went, where it restarts and when, what the site draws while down. Accelerator
failures are random; their tests check what holds whatever the draws (a broken accelerator
out of service for exactly its repair time, a spare taking its place at once, a type that
never fails).
"""

from __future__ import annotations

import pytest
from fault_kit import HOUR, build, job, run, scenario, site

from twin.model.job import JobState

GREEN, GREY = 10.0, 500.0
"""Carbon intensities: lowest_carbon placement puts every job on the green site first."""


def outage_at(site_id: str, start: float, duration: float, queued: str = "wait") -> dict:
    return {
        "sites": {
            "scheduled": [{"site": site_id, "start": start, "duration": duration}],
            "queued": queued,
        }
    }


def starts(log, number: int) -> list[tuple[float, str]]:
    return [(e[0], e[2]) for e in log.of("start", number)]


# ---------------------------------------------------------------- one interruption, by hand


@pytest.mark.parametrize("accelerator", ["H100", "A100"])
def test_an_outage_keeps_the_work_of_the_last_checkpoint(accelerator) -> None:
    """10,000 s of compute, a checkpoint every 1,000 s costing 60 s, an outage at 2,500 s
    for 100 s, a restart overhead of 600 s. Checkpoints completed at 1,060 and 2,120: the
    outage keeps 2,000 s and loses 380. The restart at 2,600 runs 600 + 8,000 + 7 × 60 =
    9,020 s, to 11,620."""
    faults = outage_at("s", 2500.0, 100.0)  # the default restart overhead: 600 s
    speed = {"H100": 1.0, "A100": 0.5}[accelerator]
    the_job = job(0, 4, 10_000.0 * speed, interval_s=1000.0, cost_s=60.0)
    _world, log = run(scenario([site("s", 8, accelerator)], faults), [the_job])

    assert the_job.state is JobState.COMPLETED and the_job.restarts == 1
    assert starts(log, 0) == [(0.0, "s"), (2600.0, "s")]
    assert log.of("interrupt_site_outage", 0) == [(2500.0, "interrupt_site_outage", "s", 0, 380.0)]
    assert the_job.end_s == pytest.approx(11_620.0)
    assert the_job.busy_s == pytest.approx(2500.0 + 9020.0)
    assert the_job.useful_s == pytest.approx(10_000.0)
    assert the_job.lost_work_s == pytest.approx(380.0)
    assert the_job.checkpoint_s == pytest.approx(2 * 60.0 + 7 * 60.0)
    assert the_job.restart_s == pytest.approx(600.0)
    assert the_job.goodput == pytest.approx(10_000.0 / 11_520.0)
    [row] = log.faults
    assert (row["kind"], row["target"], row["cause"], row["jobs_hit"]) == (
        "site_outage",
        "s",
        "scheduled",
        1,
    )
    assert row["lost_gpu_h"] == pytest.approx(380.0 * 4 / HOUR)
    assert (row["start_s"], row["end_s"], row["duration_s"]) == (2500.0, 2600.0, 100.0)


def test_checkpoints_stall_a_job_even_when_nothing_fails() -> None:
    the_job = job(0, 2, 10_000.0, interval_s=1000.0, cost_s=60.0)
    world, _log = run(scenario([site("s")]), [the_job])
    assert world.faults is None
    assert the_job.end_s == pytest.approx(10_540.0)
    assert the_job.checkpoint_s == pytest.approx(540.0) and the_job.restarts == 0
    assert the_job.useful_s == pytest.approx(10_000.0) and the_job.lost_work_s == 0.0
    assert the_job.walltime_s == pytest.approx(10_540.0)


def test_an_interrupted_job_goes_back_to_the_front_of_the_queue() -> None:
    """A holds all 8 accelerators, B waits for them; an outage at 1,000 s interrupts A.
    When the site returns A starts again first, then B when A is done."""
    faults = {**outage_at("s", 1000.0, 100.0), "restart_overhead": "10m"}
    a, b = job(0, 8, 5000.0), job(1, 8, 5000.0)
    _world, log = run(scenario([site("s", 8)], faults), [a, b])
    assert starts(log, 0) == [(0.0, "s"), (1100.0, "s")]
    assert a.lost_work_s == pytest.approx(1000.0)  # no checkpoints: all of it
    assert a.end_s == pytest.approx(1100.0 + 600.0 + 5000.0)
    assert starts(log, 1) == [(a.end_s, "s")]
    assert b.restarts == 0 and b.busy_s == pytest.approx(5000.0)


# ---------------------------------------------------------------- where the jobs go


def two_sites(faults: dict, *, interval: float | None = None) -> dict:
    return scenario(
        [site("green", 8, carbon=GREEN), site("grey", 16, carbon=GREY)],
        faults,
        interval=interval,
    )


def four_jobs() -> list:
    """0 and 1 run at green; 2 fills grey until 1,000 s; 3 fits nowhere at first and queues
    at green (the greener), where it still waits when green goes down at 1 h."""
    return [job(0, 4, 20_000.0), job(1, 4, 20_000.0), job(2, 16, 1000.0), job(3, 4, 20_000.0)]


def test_with_queued_move_the_jobs_end_up_started_at_the_other_site() -> None:
    jobs = four_jobs()
    _world, log = run(two_sites(outage_at("green", HOUR, 2 * HOUR, "move")), jobs)
    assert [e[2] for e in log.of("place", 3)][:1] == ["green"]
    interrupted = log.of("interrupt_site_outage")
    assert sorted((e[0], e[2], e[3]) for e in interrupted) == [
        (HOUR, "green", 0),
        (HOUR, "green", 1),
    ]
    for number in (0, 1):
        assert starts(log, number) == [(0.0, "green"), (HOUR, "grey")]
    assert starts(log, 3) == [(HOUR, "grey")]
    assert {e[3] for e in log.of("move")} == {0, 1, 3}
    assert [j.site for j in jobs] == ["grey"] * 4
    assert [j.restarts for j in jobs] == [1, 1, 0, 0]
    assert all(j.state is JobState.COMPLETED for j in jobs)


def test_with_queued_wait_the_jobs_restart_at_the_same_site_after_the_outage() -> None:
    jobs = four_jobs()
    _world, log = run(two_sites(outage_at("green", HOUR, 2 * HOUR, "wait")), jobs)
    for number in (0, 1):
        assert starts(log, number) == [(0.0, "green"), (3 * HOUR, "green")]
    # the queued one waits behind them at green, for one of the two to be done
    [(start, where)] = starts(log, 3)
    assert where == "green" and start == pytest.approx(min(jobs[0].end_s, jobs[1].end_s))
    assert start > 3 * HOUR + 20_000.0
    assert not log.of("move") and [j.site for j in jobs] == ["green", "green", "grey", "green"]


def test_moving_with_no_other_site_up_holds_the_job_until_the_site_returns() -> None:
    the_job = job(0, 4, 20_000.0)
    _world, log = run(scenario([site("s", 8)], outage_at("s", HOUR, HOUR, "move")), [the_job])
    assert [e[0] for e in log.of("hold", 0)] == [HOUR]
    assert starts(log, 0) == [(0.0, "s"), (2 * HOUR, "s")]
    assert the_job.state is JobState.COMPLETED


def test_a_site_draws_no_power_while_down() -> None:
    world, log = run(
        two_sites(outage_at("green", HOUR, 2 * HOUR), interval=600.0),
        [job(k, 4, 20_000.0) for k in range(2)],
    )
    green = [s for s in log.samples if s["site"] == "green"]
    inside = [s for s in green if HOUR < s["time_s"] < 3 * HOUR]
    before = [s for s in green if s["time_s"] < HOUR]
    after = [s for s in green if 3 * HOUR < s["time_s"] < 5 * HOUR]
    assert len(inside) == 11 and before and after
    assert all(s["power_mw"] == 0.0 and not s["online"] for s in inside)
    # the intervals wholly inside the outage used no energy at all
    assert all(s["energy_mwh"] == 0.0 for s in inside if s["time_s"] >= HOUR + 600)
    # before and after, 8 busy H100: (8 × 700) × 1.2 = 6.72 kW
    for sample in before + after:
        assert sample["power_mw"] == pytest.approx(8 * 700 * 1.2 / 1e6)
    assert all(s["power_mw"] > 0 for s in log.samples if s["site"] == "grey")
    assert world.factories[0].downtime_s(world.env.now) == pytest.approx(2 * HOUR)


def test_an_outage_of_a_country_takes_all_its_sites_down() -> None:
    sites = [
        site("berlin", 8, country="DE"),
        site("munich", 8, country="DE"),
        site("paris", 8, country="FR"),
    ]
    faults = {
        "sites": {
            "scheduled": [{"country": "DE", "start": "1h", "duration": "1h"}],
            "queued": "wait",
        },
    }
    jobs = [job(k, 8, 20_000.0) for k in range(3)]  # one per site: each fills one
    _world, log = run(scenario(sites, faults, placement="least_loaded", interval=600.0), jobs)
    assert sorted(e[2] for e in log.of("site_down")) == ["berlin", "munich"]
    assert all(e[0] == HOUR for e in log.of("site_down") + log.of("interrupt_site_outage"))
    assert sorted(e[2] for e in log.of("site_up")) == ["berlin", "munich"]
    assert all(e[0] == 2 * HOUR for e in log.of("site_up"))
    [row] = log.faults
    assert row["target"] == "country:DE" and row["jobs_hit"] == 2
    inside = [s for s in log.samples if HOUR < s["time_s"] < 2 * HOUR]
    for sample in inside:
        down = sample["site"] != "paris"
        assert (sample["power_mw"] == 0.0) is down and sample["online"] is not down
    by_site = {j.site: j for j in jobs}
    assert by_site["paris"].restarts == 0
    assert by_site["berlin"].restarts == by_site["munich"].restarts == 1


def test_jobs_moving_from_a_country_outage_skip_its_other_sites() -> None:
    """Berlin's job must not move to Munich (greener than Paris, with room for it), which
    goes down in the same grid event."""
    sites = [
        site("berlin", 8, carbon=10.0, country="DE"),
        site("munich", 16, carbon=20.0, country="DE"),
        site("paris", 16, carbon=500.0, country="FR"),
    ]
    faults = {"sites": {"scheduled": [{"country": "DE", "start": "1h", "duration": "1h"}]}}
    jobs = [job(0, 8, 20_000.0), job(1, 8, 20_000.0)]
    _world, log = run(scenario(sites, faults), jobs)
    assert starts(log, 0) == [(0.0, "berlin"), (HOUR, "paris")]
    assert starts(log, 1) == [(0.0, "munich"), (HOUR, "paris")]
    assert [j.restarts for j in jobs] == [1, 1]
    assert {e[2] for e in log.of("place")} == {"berlin", "munich", "paris"}
    assert [e[2] for e in log.of("place") if e[0] == HOUR] == ["paris", "paris"]


@pytest.mark.parametrize(
    ("first", "second"),
    [((1, 3), (2, 5)), ((1, 5), (2, 3))],
    ids=["overlapping", "nested"],
)
def test_overlapping_outages_keep_the_site_down_until_the_last_ends(first, second) -> None:
    """Outages [1 h, 3 h) and [2 h, 5 h), or [1 h, 5 h) and [2 h, 3 h): down from 1 h to
    5 h, one interruption, one return."""
    faults = {
        "sites": {
            "scheduled": [
                {"site": "s", "start": a * HOUR, "duration": (b - a) * HOUR}
                for a, b in (first, second)
            ],
            "queued": "wait",
        }
    }
    the_job = job(0, 4, 20_000.0)
    world, log = run(scenario([site("s", 8)], faults, interval=600.0), [the_job])
    assert [e[0] for e in log.of("site_down")] == [HOUR]
    assert [e[0] for e in log.of("site_up")] == [5 * HOUR]
    assert starts(log, 0) == [(0.0, "s"), (5 * HOUR, "s")]
    assert [row["jobs_hit"] for row in log.faults] == [1, 0]
    inside = [s for s in log.samples if HOUR < s["time_s"] < 5 * HOUR]
    assert len(inside) == 23 and all(s["power_mw"] == 0.0 for s in inside)
    assert world.factories[0].downtime_s(world.env.now) == pytest.approx(4 * HOUR)


# ---------------------------------------------------------------- accelerator failures


def failing(spare_share: float, repair_s: float) -> dict:
    return {
        "accelerators": {
            "rate_per_hour": 0.05,  # a job of 8: one failure every 2.5 h on average
            "spare_share": spare_share,
            "repair": {"dist": "constant", "value": repair_s},
        },
        "restart_overhead": 0,
    }


def test_a_failed_accelerator_is_out_of_service_for_its_repair() -> None:
    """The job needs all 8 accelerators: without spares, each restart waits exactly for the
    broken one to be repaired (3 h)."""
    the_job = job(0, 8, 1e9)
    world, log = run(
        scenario([site("s", 8)], failing(0.0, 3 * HOUR), horizon=10 * 86400.0), [the_job]
    )
    failures = [e[0] for e in log.of("interrupt_accelerator_failure", 0)]
    restarts = [e[0] for e in log.of("start", 0)][1:]
    assert len(failures) >= 20
    assert restarts == pytest.approx([t + 3 * HOUR for t in failures][: len(restarts)])
    assert len(restarts) in (len(failures), len(failures) - 1)  # the last may be after the end
    assert [(r["kind"], r["target"], r["accelerator"]) for r in log.faults] == [
        ("accelerator", "s", "H100")
    ] * len(failures)
    assert [r["end_s"] - r["start_s"] for r in log.faults] == pytest.approx(
        [3 * HOUR] * len(failures)
    )
    assert the_job.restarts == len(failures) == world.faults.failures


def test_a_hot_spare_takes_the_place_of_a_failed_accelerator_at_once() -> None:
    the_job = job(0, 8, 1e9)
    world, log = run(
        scenario([site("s", 8)], failing(1.0, 3 * HOUR), horizon=10 * 86400.0), [the_job]
    )
    failures = [e[0] for e in log.of("interrupt_accelerator_failure", 0)]
    restarts = [e[0] for e in log.of("start", 0)][1:]
    assert len(failures) >= 20 and restarts == failures
    assert the_job.busy_s == pytest.approx(10 * 86400.0)  # never off its accelerators
    assert world.factories[0].pools["H100"].broken == 0


def test_a_type_with_its_own_rate_of_zero_never_fails() -> None:
    faults = {"accelerators": {"rate_per_hour": 0.05, "by_type": {"A100": 0.0}, "spare_share": 1}}
    sites = [site("h", 8, "H100"), site("a", 8, "A100")]
    jobs = [job(0, 8, 1e9, allowed=("H100",)), job(1, 8, 1e9, allowed=("A100",))]
    _world, log = run(scenario(sites, faults, horizon=5 * 86400.0), jobs)
    assert jobs[0].restarts > 10 and jobs[1].restarts == 0
    assert {r["accelerator"] for r in log.faults} == {"H100"}
    assert jobs[1].busy_s == pytest.approx(5 * 86400.0) and jobs[1].goodput == 1.0


def test_no_faults_section_means_nothing_fails() -> None:
    scenario_ = build(scenario([site("s", 8)]))
    assert not scenario_.faults.any
    the_job = job(0, 8, 1e9, interval_s=3600.0, cost_s=60.0)
    world, log = run(scenario_, [the_job])
    assert world.faults is None and the_job.restarts == 0 and the_job.lost_work_s == 0.0
    assert not log.of("interrupt_accelerator_failure") and not log.faults


def test_a_site_opening_during_an_outage_opens_when_it_ends() -> None:
    """Online from 2 h, down from 1 h to 3 h: it opens at 3 h, and the job waits for it."""
    opening = "2026-03-02T02:00:00"
    faults = outage_at("s", HOUR, 2 * HOUR)
    the_job = job(0, 4, 1000.0)
    world, log = run(scenario([site("s", 8, online_from=opening)], faults), [the_job])
    assert [e[0] for e in log.of("site_online")] == [3 * HOUR]
    assert not log.of("site_down") and not log.of("site_up")
    assert starts(log, 0) == [(3 * HOUR, "s")]
    assert the_job.restarts == 0 and the_job.end_s == pytest.approx(3 * HOUR + 1000.0)
    assert world.factories[0].downtime_s(world.env.now) == 0.0  # never up before it opened
