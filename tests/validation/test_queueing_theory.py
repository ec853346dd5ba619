"""The factory model against queueing theory: M/M/c waits vs Erlang C, and Little's law.

A single factory with one accelerator per job, Poisson arrivals (no diurnal profile),
exponential run times, strict FCFS, a power cap far from binding, walltime factor 1, no
failures and no patience is exactly an M/M/c queue, whose stationary mean wait and
probability of waiting are given by the Erlang C formula (e.g. Kleinrock, *Queueing Systems*
vol. 1, §3.5; Gross & Harris, *Fundamentals of Queueing Theory*, §2.3).

Statistics. The sample mean of M/M/c waits is strongly autocorrelated: at c = 4, ρ = 0.7 the
relative standard deviation of the mean wait over 500 000 jobs is about 1.6 % (measured
with an independent Kiefer–Wolfowitz simulation over 30 seeds), and it grows with c and ρ.
So the test pools two independent replications of 300 000 jobs (run in two processes) and
discards a warm-up: the 5 % tolerance is then about 3.4 standard deviations, and the
probability-of-waiting tolerance (2 %) about 4. (Measured on the model, pairs of seeds
11+12 … 29+30: relative errors of the mean wait −1.0, −2.2, −1.7, −0.2, −2.5, +0.4, +1.9,
−2.1, +1.5, −0.6 %; of the probability of waiting −0.3, −0.7, −0.3, −0.1, −0.7, −0.3,
+0.4, −0.9, +0.4, −0.1 %.)
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest
from queueing_theory import erlang_c, erlang_c_mean_wait, mmc_factory

from twin.config import validate_scenario
from twin.model.world import World
from twin.simulation import simulate

# M/M/c parameters: c servers, utilisation rho, mean service time 1 min (the queue is
# scale-free: minutes keep 300,000 jobs inside the 10-year horizon a scenario may ask for).
C = 4
RHO = 0.7
MEAN_S = 60.0
LAMBDA_PER_S = RHO * C / MEAN_S
JOBS_PER_REPLICATION = 300_000
SEEDS = (11, 12)
WARMUP_FRACTION = 0.01


def test_erlang_c_formula_against_known_values() -> None:
    """The reference itself: M/M/1 gives P(wait) = ρ, and a textbook M/M/2 value."""
    assert erlang_c(1, 0.6) == pytest.approx(0.6)
    assert erlang_c_mean_wait(1, 0.6, 1.0) == pytest.approx(0.6 / (1 - 0.6))
    # M/M/2 with a = 1: P0 = 1/3, C = a^2/(2!(1 - 1/2)) P0 = 1/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)


def mmc_scenario(seed: int, jobs: int) -> dict[str, Any]:
    """An M/M/c factory fed until ``jobs`` expected arrivals, then drained."""
    return mmc_factory(seed, C, LAMBDA_PER_S, MEAN_S, jobs / LAMBDA_PER_S)


def run_replication(seed: int) -> dict[str, np.ndarray]:
    """One long M/M/c run; the per-job arrays the tests need (in submission order)."""
    world = World(validate_scenario(mmc_scenario(seed, JOBS_PER_REPLICATION)))
    world.run(steps=1)
    world.finish()
    jobs = world.jobs
    return {
        "submit": np.array([job.submit_s for job in jobs]),
        "start": np.array([np.nan if job.start_s is None else job.start_s for job in jobs]),
        "end": np.array([np.nan if job.end_s is None else job.end_s for job in jobs]),
        "work": np.array([job.work_s for job in jobs]),
        "completed": np.array([job.state.value == "completed" for job in jobs]),
    }


@pytest.fixture(scope="module")
def replications() -> list[dict[str, np.ndarray]]:
    """Independent replications, one process each where ``fork`` is available (the runs are
    CPU-bound and the reference machine has two cores), else one after the other."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return [run_replication(seed) for seed in SEEDS]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=len(SEEDS), mp_context=context) as pool:
        return list(pool.map(run_replication, SEEDS))


def steady_state_waits(rep: dict[str, np.ndarray]) -> np.ndarray:
    """Waits of the jobs submitted after the warm-up."""
    last = rep["submit"][-1]
    keep = rep["submit"] > WARMUP_FRACTION * last
    return (rep["start"] - rep["submit"])[keep]


def test_every_mmc_job_completes(replications: list[dict[str, np.ndarray]]) -> None:
    for rep in replications:
        assert rep["completed"].all()
        assert len(rep["submit"]) == pytest.approx(JOBS_PER_REPLICATION, rel=0.01)


def test_fcfs_starts_match_the_multiserver_recursion(
    replications: list[dict[str, np.ndarray]],
) -> None:
    """Sample path: on the same arrivals and run times, each job starts when the
    Kiefer–Wolfowitz recursion for c FCFS servers says (start = max(arrival, earliest free
    server)), to 1e-6 s. This pins the model's waits exactly; the tests below then check them
    against Erlang C."""
    for rep in replications:
        n = 50_000
        free = np.zeros(C)
        expected = np.empty(n)
        for i, (arrival, work) in enumerate(zip(rep["submit"][:n], rep["work"][:n], strict=True)):
            k = int(np.argmin(free))
            expected[i] = max(arrival, free[k])
            free[k] = expected[i] + work
        np.testing.assert_allclose(rep["start"][:n], expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(rep["end"][:n], expected + rep["work"][:n], rtol=0, atol=1e-6)


def test_mean_wait_matches_erlang_c(replications: list[dict[str, np.ndarray]]) -> None:
    waits = np.concatenate([steady_state_waits(rep) for rep in replications])
    expected = erlang_c_mean_wait(C, LAMBDA_PER_S, MEAN_S)
    error = waits.mean() / expected - 1
    print(
        f"M/M/{C} rho={RHO}: mean wait {waits.mean():.1f} s, Erlang C {expected:.1f} s, "
        f"relative error {error:+.2%} over {len(waits)} jobs"
    )
    assert abs(error) < 0.05


def test_probability_of_waiting_matches_erlang_c(
    replications: list[dict[str, np.ndarray]],
) -> None:
    waits = np.concatenate([steady_state_waits(rep) for rep in replications])
    expected = erlang_c(C, LAMBDA_PER_S * MEAN_S)
    error = np.mean(waits > 0) / expected - 1
    print(f"P(wait) {np.mean(waits > 0):.4f}, Erlang C {expected:.4f}, relative error {error:+.2%}")
    assert abs(error) < 0.02


def test_run_times_and_arrivals_have_the_configured_laws(
    replications: list[dict[str, np.ndarray]],
) -> None:
    """The inputs of M/M/c: exponential run times of mean 1/μ, Poisson arrivals of rate λ
    (exponential gaps: mean 1/λ, coefficient of variation 1)."""
    work = np.concatenate([rep["work"] for rep in replications])
    gaps = np.concatenate([np.diff(rep["submit"]) for rep in replications])
    assert work.mean() == pytest.approx(MEAN_S, rel=0.01)
    assert work.std() / work.mean() == pytest.approx(1.0, abs=0.01)
    assert gaps.mean() == pytest.approx(1 / LAMBDA_PER_S, rel=0.01)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.01)


# ---------------------------------------------------------------- Little's law


def test_littles_law_on_a_whole_run(tmp_path, scenarios) -> None:
    """L = λ W over the whole run, from the trace: the time-average number of jobs in the
    system (queued + running, summed over sites, sampled every minute in ``sites.arrow``)
    equals the arrival rate times the mean time in system from ``jobs.arrow``. The run starts
    and ends empty (submissions stop, then it drains), so the identity holds exactly on the
    sample path; only the one-minute sampling separates the two sides."""
    sites = [
        scenarios.site("a", 32, lat=48.0, lon=2.0),
        scenarios.site("b", 64, "A100", lat=52.0, lon=13.0),
    ]
    training = {
        "arrivals_per_day": 350,
        "accelerators": {"dist": "choice", "values": [1, 2, 4, 8, 16], "weights": [5, 3, 2, 2, 1]},
        "duration_s": {"dist": "lognormal", "median": 1800, "sigma": 1.0, "max": 6 * 3600},
        "walltime_factor": 1.5,
        "stop_after": 3 * 86400,
    }
    data = scenarios.scenario(
        sites, training, scheduler="easy_backfill", horizon=4 * 86400, interval=60, seed=3
    )
    run = simulate(scenarios.build(data), out=tmp_path / "run").open()
    jobs = run.table("jobs").to_pandas()
    samples = run.table("sites").to_pandas()
    horizon = float(data["horizon"])

    assert (jobs["state"] == "completed").all()
    assert len(jobs) > 800
    in_system = (samples["queue_length"] + samples["running_jobs"]).groupby(samples["time_s"]).sum()
    times = in_system.index.to_numpy()
    spans = np.diff(np.concatenate([[0.0], times]))
    assert times[-1] == pytest.approx(horizon)
    assert spans.max() == pytest.approx(60.0)
    mean_in_system = float((in_system.to_numpy() * spans).sum() / horizon)
    arrival_rate = len(jobs) / horizon
    mean_time_in_system = float((jobs["end_s"] - jobs["submit_s"]).mean())
    error = mean_in_system / (arrival_rate * mean_time_in_system) - 1
    print(
        f"Little: L = {mean_in_system:.3f}, λW = {arrival_rate * mean_time_in_system:.3f}, "
        f"relative error {error:+.2e}"
    )
    assert mean_in_system > 5  # a loaded system, not a trivially empty one
    assert abs(error) < 0.03
    # Sharper, and exact: sampling at the end of each interval miscounts each job's time in
    # the system by less than one interval, so the two sides differ by at most n × interval.
    total_in_system_s = float((jobs["end_s"] - jobs["submit_s"]).sum())
    assert abs(mean_in_system * horizon - total_in_system_s) <= 60.0 * len(jobs)
