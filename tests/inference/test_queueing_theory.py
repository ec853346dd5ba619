"""A ``single`` service against M/M/c theory (Erlang C), through the whole inference model.

Set-up: one site, one region at the site's coordinates (round trip exactly 0, so latency =
wait + service), a flat diurnal profile (Poisson arrivals at ``peak_rps``), exponential
service times and ``c = replicas × servers_per_replica`` servers. That is an M/M/c queue
(Kleinrock, *Queueing Systems* vol. 1, §3.5), here with c = 4 from 2 replicas × 2 servers.

Two routes to the model's waits, both honest:

1. **Waits from the kernel calls.** The per-window table stores latency percentiles, not
   means, so the mean wait is taken where the model computes it: the test wraps the
   ``fcfs_multiserver_limited`` the model calls and keeps the waits of served requests. This
   checks what the model feeds the kernel (Poisson arrivals at the routed rate, service
   times of the configured mean, c servers, state carried across windows); the kernel
   itself is tested against its reference in ``tests/kernels``. The mean wait is compared
   with Erlang C, C(c, a) / (cμ − λ), and the share of requests that wait with C(c, a).
2. **Latency percentiles from inference.arrow.** The sojourn time T = W + S of M/M/c FCFS
   has P(T > t) = (1 − C) e^{−μt} + C (θ e^{−μt} − μ e^{−θt}) / (θ − μ), θ = cμ − λ. Each
   window holds ~4,200 requests, so its sample median and 95th percentile are close to
   unbiased; their mean over 480 windows is compared with the analytic quantiles.

Statistics: waits in M/M/c are autocorrelated; over ~2 million requests at ρ = 0.7 the
relative error of the mean wait measured over seeds 0–5 was −0.7 … +1.4 % (s.d. ≈ 0.8 %),
of P(wait) ±0.4 %, of the mean windowed median and p95 within ±0.6 %. Tolerances: 4 %,
1.5 % and 2 %.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from queueing_theory import erlang_c, mmc_sojourn_quantile, mmc_sojourn_survival

import twin.model.service_site as service_site

C = 4
RHO = 0.7
MEAN_S = 0.02
LAMBDA = RHO * C / MEAN_S  # 140 requests/s
HORIZON_S = 4 * 3600.0  # about 2 million requests
WINDOW_S = 30.0


def sojourn_survival(t: float) -> float:
    """P(wait + service > t) in this M/M/c FCFS."""
    return mmc_sojourn_survival(C, LAMBDA, MEAN_S, t)


def sojourn_quantile(q: float) -> float:
    """The q-quantile of the sojourn time."""
    return mmc_sojourn_quantile(C, LAMBDA, MEAN_S, q)


def test_references() -> None:
    """The formulas themselves: M/M/1 has P(wait) = ρ and exponential sojourn of rate μ − λ."""
    assert erlang_c(1, 0.6) == pytest.approx(0.6)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # textbook M/M/2, a = 1
    assert sojourn_survival(0.0) == pytest.approx(1.0)
    assert sojourn_quantile(0.5) > MEAN_S * math.log(2)  # waiting only adds


def mmc_scenario(kit, seed: int) -> dict:
    return kit.scenario(
        [kit.site("a", 8)],
        [kit.region("here")],  # at the site: round trip 0
        [
            kit.single(
                "mmc",
                peak_rps=LAMBDA,
                replicas={"a": 2},
                servers=2,
                service_s={"dist": "exponential", "mean": MEAN_S},
            )
        ],
        horizon=HORIZON_S,
        window=WINDOW_S,
        diurnal=kit.FLAT,
        seed=seed,
    )


def test_mean_wait_matches_erlang_c(kit, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = service_site.fcfs_multiserver_limited
    waits: list[np.ndarray] = []
    servers: list[int] = []

    def spy(arrivals, service, free_at, **options):
        wait, served = kernel(arrivals, service, free_at, **options)
        waits.append(wait[served].copy())
        servers.append(len(free_at))
        return wait, served

    monkeypatch.setattr(service_site, "fcfs_multiserver_limited", spy)
    world = kit.run_world(mmc_scenario(kit, seed=1))
    assert set(servers) == {C}
    sample = np.concatenate(waits)
    sample = sample[len(sample) // 100 :]  # warm-up
    assert len(sample) > 1.9e6
    expected_p = erlang_c(C, LAMBDA * MEAN_S)
    expected_wait = expected_p / (C / MEAN_S - LAMBDA)
    assert sample.mean() == pytest.approx(expected_wait, rel=0.04)
    assert (sample > 0).mean() == pytest.approx(expected_p, rel=0.015)
    # and the model's own books: everything that arrived was served or is in service
    totals = world.inference.services[0].totals
    assert totals["dropped"] == 0
    assert totals["arrivals"] == pytest.approx(LAMBDA * (HORIZON_S - WINDOW_S), rel=0.005)


def test_latency_percentiles_match_mmc_sojourn(kit, tmp_path: Path) -> None:
    _, table, regions = kit.run_trace(mmc_scenario(kit, seed=2), tmp_path / "run")
    assert float(kit.column(regions, "rtt_ms")[0]) == 0.0
    p50 = kit.column(table, "latency_p50_ms") / 1000
    p95 = kit.column(table, "latency_p95_ms") / 1000
    assert p50.mean() == pytest.approx(sojourn_quantile(0.5), rel=0.02)
    assert p95.mean() == pytest.approx(sojourn_quantile(0.95), rel=0.02)
    # busy = offered work per server-second = ρ
    assert kit.column(table, "busy").mean() == pytest.approx(RHO, rel=0.02)
    assert set(kit.column(table, "replicas")) == {2}
    # no SLO configured, nothing dropped: no misses
    assert int(kit.column(table, "slo_misses").sum()) == 0
