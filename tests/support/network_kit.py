"""What the network tests build on: the accelerator catalogue, one site as config data, and a
real Network on a fresh SimPy environment for a scenario."""

from __future__ import annotations

from typing import Any

import simpy

from twin.config import validate_scenario
from twin.model.network import Network
from twin.model.recorder import Recorder
from twin.model.topology import Topology

GB = 1e9
ACCELERATORS = {"H100": {"tdp_w": 700.0, "idle_w": 100.0, "bf16_tflops": 989.0, "memory_gb": 80.0}}


def site(site_id: str, lat: float = 50.0, lon: float = 10.0, count: int = 8, **extra: Any) -> dict:
    return {
        "id": site_id,
        "lat": lat,
        "lon": lon,
        "pools": [{"accelerator": "H100", "count": count}],
        "power_mw": 10.0,
        "carbon_gco2_per_kwh": 100.0,
        "price_eur_per_mwh": 50.0,
        **extra,
    }


def make_network(data: dict) -> tuple[simpy.Environment, Network]:
    """A Network over the scenario ``data``'s topology, on a fresh environment."""
    scenario = validate_scenario(data)
    env = simpy.Environment()
    return env, Network(env, Topology(scenario), Recorder(), scenario.network.flow_cap_gbps)
