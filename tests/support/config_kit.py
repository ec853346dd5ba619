"""Scenario building blocks shared by the test kits (tests/model, tests/validation and the
faults tests): the accelerator catalogue and one site as config data."""

from __future__ import annotations

from typing import Any

START = "2026-03-02T00:00:00"

ACCELERATORS: dict[str, dict[str, float]] = {
    "H100": {"tdp_w": 700.0, "idle_w": 100.0, "bf16_tflops": 989.0, "memory_gb": 80.0},
    "A100": {
        "tdp_w": 400.0,
        "idle_w": 60.0,
        "bf16_tflops": 312.0,
        "memory_gb": 80.0,
        "speed": 0.5,
    },
}


def site(
    site_id: str,
    count: int = 8,
    accelerator: str = "H100",
    *,
    power_mw: float = 100.0,
    pue: float = 1.2,
    carbon: float | list[float] = 100.0,
    price: float | list[float] = 50.0,
    lat: float = 50.0,
    lon: float = 10.0,
    pools: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One site as config data: by default a single pool and a cap far from binding."""
    return {
        "id": site_id,
        "lat": lat,
        "lon": lon,
        "pools": pools or [{"accelerator": accelerator, "count": count}],
        "power_mw": power_mw,
        "pue": pue,
        "carbon_gco2_per_kwh": carbon,
        "price_eur_per_mwh": price,
        **extra,
    }
