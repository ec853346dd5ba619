"""Small scenarios, as config data, that are exactly a textbook queue: the validation cases run
them through the whole model (and the tests run the same ones)."""

from __future__ import annotations

from typing import Any

_ACCELERATOR = {"X": {"tdp_w": 500, "bf16_tflops": 1, "memory_gb": 1}}


def _site(site_id: str, count: int, lat: float = 0.0, lon: float = 0.0) -> dict[str, Any]:
    """One site of ``count`` X accelerators, its power cap far from binding."""
    return {
        "id": site_id,
        "lat": lat,
        "lon": lon,
        "pools": [{"accelerator": "X", "count": count}],
        "power_mw": 10.0,
        "carbon_gco2_per_kwh": 100,
        "price_eur_per_mwh": 50,
    }


def mmc_factory(
    seed: int,
    servers: int,
    lam_per_s: float,
    mean_s: float,
    stop_s: float,
    duration_s: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One factory of ``servers`` accelerators fed Poisson jobs of one accelerator and
    exponential run times (no diurnal profile, FCFS, no binding power cap) until ``stop_s``,
    then drained for 200 mean run times: exactly an M/M/c queue (M/G/c with ``duration_s``)."""
    return {
        "name": "mmc",
        "start": "2026-01-01",
        "horizon": stop_s + 200 * mean_s,
        "seed": seed,
        "accelerators": _ACCELERATOR,
        "sites": [_site("s", servers)],
        "tenants": {"t": {"share": 1}},
        "workloads": {
            "training": {
                "arrivals_per_day": lam_per_s * 86400,
                "accelerators": {"dist": "constant", "value": 1},
                "duration_s": duration_s or {"dist": "exponential", "mean": mean_s},
                "walltime_factor": 1.0,
                "stop_after": stop_s,
            }
        },
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": stop_s},
    }


def mmc_service(
    seed: int, replicas: int, servers: int, lam_per_s: float, mean_s: float, horizon_s: float
) -> dict[str, Any]:
    """One ``single`` inference service of ``replicas`` × ``servers`` slots at one site, fed
    from a region at the site's coordinates (round trip 0, so latency = wait + service) with
    a flat diurnal profile (Poisson at ``lam_per_s``) and exponential service: M/M/c."""
    return {
        "name": "mmc_service",
        "start": "2026-03-02",
        "horizon": horizon_s,
        "seed": seed,
        "accelerators": _ACCELERATOR,
        "sites": [_site("a", 2 * replicas, lat=50.0, lon=10.0)],
        "tenants": {"t": {"share": 1}},
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": horizon_s},
        "workloads": {
            "inference": {
                "window": 30.0,
                "routing": "nearest",
                "diurnal": [1.0] * 24,
                "regions": [
                    {"id": "here", "lat": 50.0, "lon": 10.0, "share": 1.0, "utc_offset_h": 0}
                ],
                "services": [
                    {
                        "id": "mmc",
                        "kind": "single",
                        "peak_rps": lam_per_s,
                        "replicas": {"a": replicas},
                        "service_s": {"dist": "exponential", "mean": mean_s},
                        "servers_per_replica": servers,
                    }
                ],
            }
        },
    }


def loaded_pair(seed: int) -> dict[str, Any]:
    """Two factories (32 and 64 accelerators) under EASY backfilling, fed mixed-size jobs for
    three days and then drained for one: a loaded system that starts and ends empty."""
    return {
        "name": "little",
        "start": "2026-03-02",
        "horizon": 4 * 86400.0,
        "seed": seed,
        "accelerators": _ACCELERATOR,
        "sites": [_site("a", 32, lat=48.0, lon=2.0), _site("b", 64, lat=52.0, lon=13.0)],
        "tenants": {"t": {"share": 1}},
        "workloads": {
            "training": {
                "arrivals_per_day": 350,
                "accelerators": {
                    "dist": "choice",
                    "values": [1, 2, 4, 8, 16],
                    "weights": [5, 3, 2, 2, 1],
                },
                "duration_s": {"dist": "lognormal", "median": 1800, "sigma": 1.0, "max": 6 * 3600},
                "walltime_factor": 1.5,
                "stop_after": 3 * 86400,
            }
        },
        "policies": {"scheduler": "easy_backfill", "placement": "least_loaded"},
        "telemetry": {"interval": 60.0},
    }
