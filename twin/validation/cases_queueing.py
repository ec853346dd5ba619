"""Queueing cases: twin's FCFS kernel and whole runs of the model against closed forms (Erlang C,
Pollaczek–Khinchine, the M/M/c sojourn law, Little's law).

Tolerances come from the spread of each estimator, measured over independent seeds of the
same size (stated per case): about four standard deviations, so a correct twin fails a case
for a fresh seed about once in 16 000. Seeds are fixed, so the report is reproducible.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from twin.config import validate_scenario
from twin.kernels.queueing import fcfs_multiserver
from twin.model.world import World
from twin.simulation import simulate
from twin.validation.case import Case
from twin.validation.scenarios import loaded_pair, mmc_factory, mmc_service
from twin.validation.theory import (
    erlang_c,
    erlang_c_mean_wait,
    littles_law_mean_in_system,
    mmc_sojourn_quantile,
    pollaczek_khinchine_mean_wait,
)

GROUP = "queueing"
KLEINROCK = "Kleinrock, Queueing Systems vol. 1 (1975)"
CHUNK = 1 << 20
"""Requests the kernel queues per call (state carried across calls, as the model does)."""

Service = Callable[[np.random.Generator, int], np.ndarray]


def cases() -> list[Case]:
    """Every queueing case: the kernel, then whole runs of the model."""
    return [
        *kernel_mmc(),
        *kernel_mg1(),
        *service_mmc(),
        *factory_mmc(),
        *factory_md1(),
        *little(),
    ]


def _kernel_waits(
    servers: int, lam: float, n: int, seed: int, service: Service
) -> tuple[float, float]:
    """Mean wait and share of arrivals that wait, for ``n`` Poisson(``lam``) arrivals queued
    by ``fcfs_multiserver`` window by window (``free_at`` carried between windows)."""
    rng = np.random.default_rng(seed)
    free_at = np.zeros(servers)
    clock, total, waited, done = 0.0, 0.0, 0, 0
    while done < n:
        m = min(CHUNK, n - done)
        arrivals = np.cumsum(rng.exponential(1 / lam, m)) + clock
        clock = float(arrivals[-1])
        waits = fcfs_multiserver(arrivals, service(rng, m), free_at)
        total += float(waits.sum())
        waited += int(np.count_nonzero(waits > 0))
        done += m
    return total / n, waited / n


def kernel_mmc() -> list[Case]:
    """M/M/4 at ρ = 0.8 (mean service 1 s) through the FCFS kernel vs Erlang C."""
    c, lam, n = 4, 3.2, 6 * CHUNK
    mean_wait, p_wait = _kernel_waits(c, lam, n, 101, lambda rng, m: rng.exponential(1.0, m))
    spread = "relative s.d. over 8 seeds of this size: {}; tolerance ≈ 4 s.d."
    name = "M/M/4, ρ = 0.8, FCFS kernel, 6 Mi requests"
    return [
        Case(
            GROUP,
            f"{name}: mean wait (s)",
            "Erlang C: C(c, a) / (cμ − λ)",
            f"{KLEINROCK} §3.5",
            mean_wait,
            erlang_c_mean_wait(c, lam, 1.0),
            0.03,
            notes=(spread.format("0.73 %"),),
        ),
        Case(
            GROUP,
            f"{name}: P(wait)",
            "Erlang C: C(c, a)",
            f"{KLEINROCK} §3.5",
            p_wait,
            erlang_c(c, lam),
            0.007,
            notes=(spread.format("0.17 %"),),
        ),
    ]


def kernel_mg1() -> list[Case]:
    """M/G/1 at ρ = 0.8 through the FCFS kernel vs Pollaczek–Khinchine, for deterministic
    and Erlang-2 service (mean 1 s): the wait depends on E[S²], not only on the mean."""
    lam, n = 0.8, 4 * CHUNK
    laws: list[tuple[str, Service, float, tuple[str, str]]] = [
        ("M/D/1", lambda rng, m: np.ones(m), 1.0, ("0.35 %", "0.07 %")),
        ("M/E2/1", lambda rng, m: rng.gamma(2.0, 0.5, m), 1.5, ("0.38 %", "0.05 %")),
    ]
    made: list[Case] = []
    for seed, (law, service, second_moment, spread) in enumerate(laws, start=201):
        mean_wait, p_wait = _kernel_waits(1, lam, n, seed, service)
        name = f"{law}, ρ = 0.8, FCFS kernel, 4 Mi requests"
        made.append(
            Case(
                GROUP,
                f"{name}: mean wait (s)",
                f"Pollaczek–Khinchine: λE[S²] / 2(1 − ρ), E[S²] = {second_moment} s²",
                f"{KLEINROCK} §5.6",
                mean_wait,
                pollaczek_khinchine_mean_wait(lam, 1.0, second_moment),
                0.015,
                notes=(
                    f"relative s.d. over 8 seeds of this size: {spread[0]}; tolerance ≈ 4 s.d.",
                ),
            )
        )
        made.append(
            Case(
                GROUP,
                f"{name}: P(wait)",
                "M/G/1 server busy on arrival (PASTA): ρ",
                f"{KLEINROCK} §5.6",
                p_wait,
                lam,
                0.003,
                notes=(
                    f"relative s.d. over 8 seeds of this size: {spread[1]}; tolerance ≥ 4 s.d.",
                ),
            )
        )
    return made


def service_mmc() -> list[Case]:
    """A ``single`` inference service, 2 replicas × 2 servers at ρ = 0.7, run for 4 hours
    (about 2 million requests) through the whole model: the windowed latency percentiles of
    inference.arrow against the M/M/4 sojourn law, and the servers' busy share against ρ."""
    c, mean_s, rho = 4, 0.02, 0.7
    lam = rho * c / mean_s
    with tempfile.TemporaryDirectory() as scratch:
        data = mmc_service(7, 2, 2, lam, mean_s, 4 * 3600.0)
        run = simulate(validate_scenario(data), out=Path(scratch) / "run").open()
        windows = run.table("inference").to_pandas()
    name = "single service, M/M/4, ρ = 0.7, 4 h run (inference.arrow)"
    measured = {
        0.5: "−0.20, +0.14, −0.08, −0.03, +0.22, +0.62 % (s.d. 0.29 %)",
        0.95: "−0.26, −0.25, −0.76, −0.26, −0.56, −0.07 % (a sample-percentile bias of "
        "about −0.4 % in windows of ~4 200 requests, s.d. 0.25 %)",
    }
    made = [
        Case(
            GROUP,
            f"{name}: mean of windowed p{round(q * 100)} latency (s)",
            f"M/M/c sojourn quantile, P(T > t) = (1 − C)e^(−μt) + C(θe^(−μt) − μe^(−θt))/(θ − μ)"
            f" at q = {q}",
            f"{KLEINROCK} §3.5 (θ = cμ − λ)",
            float(windows[column].mean()) / 1000,
            mmc_sojourn_quantile(c, lam, mean_s, q),
            0.015,
            notes=(f"relative errors over seeds 0–5: {measured[q]}; tolerance ≈ 4 s.d.",),
        )
        for q, column in ((0.5, "latency_p50_ms"), (0.95, "latency_p95_ms"))
    ]
    made.append(
        Case(
            GROUP,
            f"{name}: busy share of the servers",
            "utilisation ρ = λ / (cμ)",
            f"{KLEINROCK} §3.5",
            float(windows["busy"].mean()),
            rho,
            0.005,
            notes=(
                "relative errors over seeds 0–5: −0.16, +0.08, −0.06, −0.04, +0.12, +0.12 % "
                "(s.d. 0.11 %); tolerance ≈ 4 s.d.",
            ),
        )
    )
    made.append(
        Case(
            GROUP,
            f"{name}: mean requests in system at window ends",
            "Erlang C and Little: L = λ (C(c, a) / (cμ − λ) + 1/μ)",
            f"{KLEINROCK} §3.5; Little (1961)",
            float(windows["in_system"].mean()),
            littles_law_mean_in_system(lam, erlang_c_mean_wait(c, lam, mean_s) + mean_s),
            0.1,
            notes=(
                "a mean of 479 snapshots, one per window: relative s.d. over seeds 0–7 2.5 %; "
                "tolerance ≈ 4 s.d.",
            ),
        )
    )
    return made


def _factory_waits(data: dict[str, Any]) -> np.ndarray:
    """The waits of a factory run's jobs submitted after a 1 % warm-up, in submission order."""
    world = World(validate_scenario(data))
    world.run(steps=1)
    world.finish()
    submit = np.array([job.submit_s for job in world.jobs])
    start = np.array([np.nan if job.start_s is None else job.start_s for job in world.jobs])
    return (start - submit)[submit > 0.01 * submit[-1]]


def factory_mmc() -> list[Case]:
    """One factory of four accelerators, Poisson jobs of one accelerator and exponential run
    times (mean 60 s) at ρ = 0.7 through the whole model, two replications of 300 000 jobs
    pooled: M/M/4 vs Erlang C."""
    c, mean_s, jobs = 4, 60.0, 300_000
    lam = 0.7 * c / mean_s
    waits = np.concatenate(
        [_factory_waits(mmc_factory(seed, c, lam, mean_s, jobs / lam)) for seed in (31, 32)]
    )
    name = f"training factory, M/M/4, ρ = 0.7, 2 × {jobs} jobs"
    measured = (
        "relative errors of seed pairs 11+12 … 29+30 (tests/validation/test_queueing_theory.py)"
    )
    return [
        Case(
            GROUP,
            f"{name}: mean wait (s)",
            "Erlang C: C(c, a) / (cμ − λ)",
            f"{KLEINROCK} §3.5",
            float(np.mean(waits)),
            erlang_c_mean_wait(c, lam, mean_s),
            0.06,
            notes=(
                f"{measured}: −1.0, −2.2, −1.7, −0.2, −2.5, +0.4, +1.9, −2.1, +1.5, −0.6 % "
                "(s.d. 1.5 %); tolerance ≈ 4 s.d.",
            ),
        ),
        Case(
            GROUP,
            f"{name}: P(wait)",
            "Erlang C: C(c, a)",
            f"{KLEINROCK} §3.5",
            float(np.mean(waits > 0)),
            erlang_c(c, lam * mean_s),
            0.02,
            notes=(
                f"{measured}: −0.3, −0.7, −0.3, −0.1, −0.7, −0.3, +0.4, −0.9, +0.4, −0.1 % "
                "(s.d. 0.4 %); tolerance ≈ 5 s.d.",
            ),
        ),
    ]


def factory_md1() -> list[Case]:
    """One factory of one accelerator, Poisson training jobs of constant run time 60 s at
    ρ = 0.7 (200 000 jobs, then drained) through the whole model: M/D/1 vs P–K."""
    lam, run_s, jobs = 0.7 / 60, 60.0, 200_000
    data = mmc_factory(5, 1, lam, run_s, jobs / lam, {"dist": "constant", "value": run_s})
    waits = _factory_waits(data)
    name = f"training factory, M/D/1, ρ = 0.7, {len(waits)} jobs after warm-up"
    return [
        Case(
            GROUP,
            f"{name}: mean wait (s)",
            "Pollaczek–Khinchine: λE[S²] / 2(1 − ρ), E[S²] = (60 s)²",
            f"{KLEINROCK} §5.6",
            float(np.mean(waits)),
            pollaczek_khinchine_mean_wait(lam, run_s, run_s**2),
            0.05,
            notes=(
                "relative s.d. of the mean wait over 16 seeds of 300 000 jobs: 1.0 % (≈ 1.3 % "
                "at this size); tolerance ≈ 4 s.d.",
            ),
        ),
        Case(
            GROUP,
            f"{name}: P(wait)",
            "M/G/1 server busy on arrival (PASTA): ρ",
            f"{KLEINROCK} §5.6",
            float(np.mean(waits > 0)),
            0.7,
            0.015,
            notes=("relative s.d. at this size ≈ 0.3 %; tolerance ≈ 5 s.d.",),
        ),
    ]


def little() -> list[Case]:
    """L = λW over a whole run of two factories under EASY backfilling, from its trace."""
    with tempfile.TemporaryDirectory() as scratch:
        data = loaded_pair(3)
        run = simulate(validate_scenario(data), out=Path(scratch) / "run").open()
        jobs = run.table("jobs").to_pandas()
        samples = run.table("sites").to_pandas()
    horizon = float(data["horizon"])
    interval = float(data["telemetry"]["interval"])
    in_system = (samples["queue_length"] + samples["running_jobs"]).groupby(samples["time_s"]).sum()
    spans = np.diff(np.concatenate([[0.0], in_system.index.to_numpy()]))
    mean_in_system = float((in_system.to_numpy() * spans).sum() / horizon)
    sojourn = (jobs["end_s"] - jobs["submit_s"]).to_numpy()
    bound = interval * len(jobs) / float(sojourn.sum())
    return [
        Case(
            GROUP,
            f"Little's law, 2 factories, EASY backfill, {len(jobs)} jobs: L (jobs in system)",
            "L = λW with λ = jobs / horizon, W = mean end − submit (jobs.arrow)",
            "Little, Operations Research 9 (1961)",
            mean_in_system,
            littles_law_mean_in_system(len(jobs) / horizon, float(sojourn.mean())),
            bound,
            notes=(
                "L is the time average of queued + running jobs sampled every minute "
                "(sites.arrow). The run starts and ends empty, so L = λW holds exactly on the "
                "sample path; sampling miscounts each job's time in the system by less than "
                f"one interval, hence the tolerance n × {interval:g} s / Σ T = {bound:.2e}.",
            ),
        )
    ]
