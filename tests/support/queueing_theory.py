"""Queueing theory the tests hold twin against, written independently of twin's code, and
the M/M/c factory scenario several of them run."""

from __future__ import annotations

import math
from typing import Any


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``offered`` = λ/μ < c
    (Erlang's C formula; Gross & Harris, *Fundamentals of Queueing Theory*, §2.3)."""
    head = sum(offered**k / math.factorial(k) for k in range(c))
    tail = offered**c / math.factorial(c) * c / (c - offered)
    return tail / (head + tail)


def erlang_c_mean_wait(c: int, lam: float, mean_s: float) -> float:
    """Stationary mean wait in queue of M/M/c: C(c, λ/μ) / (cμ − λ)."""
    return erlang_c(c, lam * mean_s) / (c / mean_s - lam)


def mmc_factory(
    seed: int, servers: int, lam_per_s: float, mean_s: float, stop_s: float
) -> dict[str, Any]:
    """One factory of ``servers`` accelerators fed Poisson jobs of one accelerator and
    exponential run times (no diurnal profile, FCFS, no binding power cap) until ``stop_s``,
    then drained for 200 mean run times: exactly an M/M/c queue."""
    return {
        "name": "mmc",
        "start": "2026-01-01",
        "horizon": stop_s + 200 * mean_s,
        "seed": seed,
        "accelerators": {"X": {"tdp_w": 500, "bf16_tflops": 1, "memory_gb": 1}},
        "sites": [
            {
                "id": "s",
                "lat": 0,
                "lon": 0,
                "pools": [{"accelerator": "X", "count": servers}],
                "power_mw": 10.0,
                "carbon_gco2_per_kwh": 100,
                "price_eur_per_mwh": 50,
            }
        ],
        "tenants": {"t": {"share": 1}},
        "workloads": {
            "training": {
                "arrivals_per_day": lam_per_s * 86400,
                "accelerators": {"dist": "constant", "value": 1},
                "duration_s": {"dist": "exponential", "mean": mean_s},
                "walltime_factor": 1.0,
                "stop_after": stop_s,
            }
        },
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": stop_s},
    }
