"""Small inference scenarios written inline as dicts, and helpers to run and read them.

Sites default to a single pool of H100s with a power cap far from binding; regions default
to the coordinates of a site, so that their round trip to it is exactly zero (no links: the
round trip is great-circle distance × route inflation × fibre delay, both ways).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import simpy

from twin.config import Scenario, validate_scenario
from twin.model.job import Job
from twin.model.world import World, check_policies
from twin.simulation import simulate
from twin.trace.reader import open_run

START = "2026-03-02T00:00:00"

ACCELERATORS: dict[str, dict[str, float]] = {
    "H100": {
        "tdp_w": 700.0,
        "idle_w": 100.0,
        "bf16_tflops": 989.0,
        "memory_gb": 80.0,
        "hbm_tbps": 3.35,
    },
}

FLAT = [1.0] * 24
"""A diurnal profile without a daily cycle: Poisson demand at ``peak_rps`` all day."""


def site(
    site_id: str,
    count: int = 8,
    *,
    lat: float = 50.0,
    lon: float = 10.0,
    power_mw: float = 100.0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": site_id,
        "lat": lat,
        "lon": lon,
        "pools": [{"accelerator": "H100", "count": count}],
        "power_mw": power_mw,
        "pue": 1.2,
        "carbon_gco2_per_kwh": 100.0,
        "price_eur_per_mwh": 50.0,
        **extra,
    }


def region(
    region_id: str, *, lat: float = 50.0, lon: float = 10.0, share: float = 1.0, utc: float = 0
) -> dict[str, Any]:
    return {"id": region_id, "lat": lat, "lon": lon, "share": share, "utc_offset_h": utc}


def single(
    service_id: str = "svc",
    *,
    peak_rps: float,
    replicas: dict[str, int],
    service_s: dict[str, Any] | None = None,
    servers: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    """A ``single`` service: one request holds one of ``servers`` slots of a replica."""
    return {
        "id": service_id,
        "kind": "single",
        "peak_rps": peak_rps,
        "replicas": replicas,
        "service_s": service_s or {"dist": "exponential", "mean": 0.02},
        "servers_per_replica": servers,
        **extra,
    }


LLAMA_70B = {"parameters_b": 70, "kv_bytes_per_token": 327680}


def llm(
    service_id: str = "chat",
    *,
    peak_rps: float,
    replicas: dict[str, int],
    prompt: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An ``llm`` service: a 70B model on 8-accelerator replicas, Sarathi batching."""
    return {
        "id": service_id,
        "kind": "llm",
        "peak_rps": peak_rps,
        "replicas": replicas,
        "model": LLAMA_70B,
        "accelerators_per_replica": 8,
        "prompt_tokens": prompt or {"dist": "uniform", "low": 200, "high": 2000},
        "output_tokens": output or {"dist": "uniform", "low": 20, "high": 400},
        **extra,
    }


def scenario(
    sites: list[dict[str, Any]],
    regions: list[dict[str, Any]],
    services: list[dict[str, Any]],
    *,
    horizon: float = 3600.0,
    window: float = 10.0,
    routing: str = "nearest",
    diurnal: list[float] | None = FLAT,
    seed: int = 0,
    interval: float | None = None,
    training: dict[str, Any] | None = None,
    start: str = START,
    accelerators: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    inference: dict[str, Any] = {
        "window": window,
        "routing": routing,
        "regions": regions,
        "services": services,
    }
    if diurnal is not None:
        inference["diurnal"] = diurnal
    workloads: dict[str, Any] = {"inference": inference}
    if training is not None:
        workloads["training"] = training
    return {
        "name": "inference",
        "start": start,
        "horizon": horizon,
        "seed": seed,
        "accelerators": accelerators or ACCELERATORS,
        "sites": sites,
        "tenants": {"academia": {"share": 1.0}},
        "policies": {"scheduler": "fcfs", "placement": "least_loaded"},
        "telemetry": {"interval": interval or horizon},
        "workloads": workloads,
    }


def build(data: dict[str, Any]) -> Scenario:
    return validate_scenario(data, checks=(check_policies,))


def run_world(data: dict[str, Any]) -> World:
    world = World(build(data))
    world.run(steps=1)
    world.finish()
    return world


def run_trace(data: dict[str, Any], out: Path) -> tuple[dict[str, Any], pa.Table, pa.Table]:
    """Simulate into ``out``: (manifest, inference table, inference_regions table)."""
    simulate(build(data), out=out)
    run = open_run(out)
    return run.manifest, run.table("inference"), run.table("inference_regions")


def rtt_s(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Round trip over fibre without links: 2 × haversine km × 1.3 × 4.9 µs/km (the
    schema's defaults), written out independently of the model's geo module."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    km = 2 * 6371.0 * math.asin(math.sqrt(a))
    return 2 * km * 1.3 * 4.9e-6


def column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def rows(table: pa.Table, **equal: str) -> pa.Table:
    """The rows whose columns equal the given values (e.g. ``site="a"``)."""
    mask = np.ones(table.num_rows, dtype=bool)
    for name, value in equal.items():
        mask &= column(table, name) == value
    return table.filter(pa.array(mask))


def feed_jobs(world: World, jobs: list[tuple[float, int, float]]) -> list[Job]:
    """Submit training jobs ``(submit_s, accelerators, work_s)`` to the world's broker."""
    made: list[Job] = []

    def feed() -> Iterator[simpy.Event]:
        for number, (submit_s, accelerators, work_s) in enumerate(sorted(jobs)):
            if submit_s > world.env.now:
                yield world.env.timeout(submit_s - world.env.now)
            job = Job(
                id=number,
                tenant="academia",
                accelerators=accelerators,
                work_s=work_s,
                walltime_factor=1.0,
                submit_s=world.env.now,
            )
            made.append(job)
            world.broker.submit(job)

    world.env.process(feed())
    return made


class Kit:
    """The builders above, as one object for the ``kit`` fixture."""

    START = START
    FLAT = FLAT
    LLAMA_70B = LLAMA_70B
    site = staticmethod(site)
    region = staticmethod(region)
    single = staticmethod(single)
    llm = staticmethod(llm)
    scenario = staticmethod(scenario)
    build = staticmethod(build)
    run_world = staticmethod(run_world)
    run_trace = staticmethod(run_trace)
    rtt_s = staticmethod(rtt_s)
    column = staticmethod(column)
    rows = staticmethod(rows)
    feed_jobs = staticmethod(feed_jobs)


@pytest.fixture(scope="session")
def kit() -> type[Kit]:
    return Kit
