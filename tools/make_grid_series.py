"""Write the shipped grid series: SYNTHETIC hourly carbon intensity and electricity price for
2025 in FR, DE, PL, SE and ES (``configs/data/grid_2025_<cc>.csv.gz``).

No licensable hourly data is available offline, so these are synthetic but shaped like the
real thing; see ``configs/data/SOURCES.md`` for exactly what is measured and what is assumed.

* The annual (time-)mean of each series is a published figure: carbon intensity is Ember's
  2023 lifecycle gCO2e/kWh via Our World in Data, the price is the derived industrial price
  Oct-2024..Sep-2025 (both from ``europe_facts.md`` §4a, as in ``configs/europe.yaml``).
* The shape around that mean is a documented pattern per grid, with assumed amplitudes: a
  winter rise (heating demand, gas and imports at the margin), a midday dip where solar is
  large (DE, ES), morning and evening demand peaks, lower weekend demand, and multi-day
  weather (wind) swings from a seeded AR(1) process. FR is flat nuclear with a winter rise,
  SE hydro and nuclear (low, winter rise), PL coal-heavy (high, flat).
* The price is a fixed non-energy part (network fees and levies, assumed 35 % of the mean)
  plus a day-ahead-shaped energy part that follows the residual load: high in winter
  evenings and calm weather, low, and in DE and ES at times negative, at sunny windy middays.

Run from the repository root: ``python tools/make_grid_series.py``. Same seed, same bytes.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 2025
YEAR_START = np.datetime64("2025-01-01T00:00")
HOURS = 365 * 24
OUT = Path(__file__).resolve().parent.parent / "configs" / "data"
FIXED_SHARE = 0.35
"""Assumed share of the mean price that does not vary by hour (fees, levies)."""


@dataclass(frozen=True)
class Grid:
    """One country's published means and its assumed shape (amplitudes are fractions)."""

    code: str
    carbon_mean: float
    """gCO2e/kWh, Ember 2023 lifecycle via OWID (europe_facts.md §4a)."""
    price_mean: float
    """EUR/MWh, derived industrial price Oct-2024..Sep-2025 (europe_facts.md §4a)."""
    utc_offset_h: float
    """Mean solar time ahead of UTC (longitude / 15), for the diurnal shape."""
    day_swing_h: float
    """How much longer the longest day is than 12 h (latitude)."""
    winter: float
    solar: float
    peaks: float
    weekend: float
    wind: float


GRIDS = (
    Grid("fr", 56.0, 123, 0.2, 3.9, winter=0.30, solar=0.06, peaks=0.10, weekend=0.05, wind=0.10),
    Grid("de", 380.9, 178, 0.7, 4.3, winter=0.15, solar=0.35, peaks=0.10, weekend=0.08, wind=0.25),
    Grid("pl", 661.9, 171, 1.3, 4.4, winter=0.08, solar=0.12, peaks=0.05, weekend=0.04, wind=0.10),
    Grid("se", 40.7, 78, 1.1, 6.5, winter=0.45, solar=0.03, peaks=0.06, weekend=0.03, wind=0.18),
    Grid("es", 174.1, 127, -0.2, 2.6, winter=0.10, solar=0.45, peaks=0.15, weekend=0.06, wind=0.22),
)


def weather(rng: np.random.Generator, hours: int, correlation_h: float = 36.0) -> np.ndarray:
    """Standardised multi-day weather (wind) anomaly: AR(1) with this correlation time."""
    phi = np.exp(-1.0 / correlation_h)
    shocks = rng.standard_normal(hours) * np.sqrt(1 - phi**2)
    series = np.empty(hours)
    series[0] = shocks[0]
    for k in range(1, hours):
        series[k] = phi * series[k - 1] + shocks[k]
    return series


def shape(grid: Grid, wind: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relative carbon intensity, relative residual load) per hour of 2025, mean near 1."""
    hour = np.arange(HOURS)
    day = hour / 24.0
    local = (hour + grid.utc_offset_h) % 24
    season = np.cos(2 * np.pi * (day - 15) / 365)  # +1 mid-January, -1 mid-July
    length = 12 + grid.day_swing_h * np.sin(2 * np.pi * (day - 80) / 365)
    sun = np.clip(np.sin(np.pi * (local - (12.5 - length / 2)) / length), 0, None)
    sun *= 0.55 - 0.45 * season  # stronger in summer
    peaks = np.exp(-(((local - 8.5) / 1.5) ** 2)) + 1.3 * np.exp(-(((local - 19.0) / 2.0) ** 2))
    weekday = (day.astype(int) + 3) % 7  # 2025-01-01 is a Wednesday: 0 = Monday
    weekend = (weekday >= 5).astype(float)
    load = (
        1
        + grid.winter * season
        + grid.peaks * (peaks - peaks.mean())
        - grid.weekend * weekend
        - grid.solar * sun
        - grid.wind * wind
    )
    carbon = np.clip(load, 0.2, None)
    return carbon / carbon.mean(), load


def series(grid: Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(carbon gCO2e/kWh, price EUR/MWh) per hour, their means the published ones."""
    wind = weather(rng, HOURS)
    relative, load = shape(grid, wind)
    carbon = grid.carbon_mean * relative
    energy_mean = (1 - FIXED_SHARE) * grid.price_mean
    swing = 2.2 * (load - load.mean()) + 0.08 * rng.standard_normal(HOURS)
    energy = energy_mean * np.clip(1 + swing, -0.8, 3.0)
    price = FIXED_SHARE * grid.price_mean + energy
    price += grid.price_mean - price.mean()  # the published mean, exactly
    return carbon, price


def csv_bytes(carbon: np.ndarray, price: np.ndarray) -> bytes:
    stamps = YEAR_START + np.arange(HOURS).astype("timedelta64[h]")
    lines = ["time,carbon_gco2_per_kwh,price_eur_per_mwh"]
    lines += [
        f"{stamp}Z,{c:.1f},{p:.2f}" for stamp, c, p in zip(stamps, carbon, price, strict=True)
    ]
    text = "\n".join(lines) + "\n"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as handle:
        handle.write(text.encode())
    return buffer.getvalue()


def main() -> None:
    streams = np.random.SeedSequence(SEED).spawn(len(GRIDS))
    for grid, stream in zip(GRIDS, streams, strict=True):
        carbon, price = series(grid, np.random.default_rng(stream))
        path = OUT / f"grid_2025_{grid.code}.csv.gz"
        path.write_bytes(csv_bytes(carbon, price))
        print(
            f"{path.name}: carbon mean {carbon.mean():.1f} (p5 {np.percentile(carbon, 5):.0f}, "
            f"p95 {np.percentile(carbon, 95):.0f}) gCO2/kWh; price mean {price.mean():.1f} "
            f"(min {price.min():.0f}, max {price.max():.0f}, {int((price < 0).sum())} h < 0) "
            "EUR/MWh"
        )


if __name__ == "__main__":
    main()
