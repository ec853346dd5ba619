"""Inference demand: requests per second from each region by local time of day, and the
round trip from every region to every site."""

from __future__ import annotations

import math

import numpy as np

from twin.config.schema import Inference, Scenario
from twin.model.calendar import HOUR_S, Calendar
from twin.model.geo import great_circle_km
from twin.model.topology import Topology


def default_diurnal() -> list[float]:
    """Interactive demand by local hour: trough at 04:00 at a third of the 20:00 peak."""
    profile = []
    for hour in range(24):
        h = hour + 24 if hour < 4 else hour
        if h <= 20:
            rise = (1 - math.cos(math.pi * (h - 4) / 16)) / 2
        else:
            rise = (1 + math.cos(math.pi * (h - 20) / 8)) / 2
        profile.append(1 / 3 + 2 / 3 * rise)
    return profile


class Demand:
    """Requests per second from each region, following the local time of day."""

    def __init__(self, spec: Inference, calendar: Calendar) -> None:
        shares = np.array([region.share for region in spec.regions], dtype=float)
        self.shares = shares / shares.sum()
        profile = np.asarray(spec.diurnal or default_diurnal(), dtype=float)
        self.profile = profile / profile.max()
        self.offsets_h = np.array([region.utc_offset_h for region in spec.regions])
        self.calendar = calendar

    def rps(self, peak_rps: float, time_s: float) -> np.ndarray:
        """Per-region rate at ``time_s`` (the profile is linear between hour centres)."""
        utc_h = (time_s + self.calendar.offset_s) / HOUR_S
        local = (utc_h + self.offsets_h - 0.5) % 24
        low = np.floor(local).astype(int)
        frac = local - low
        level = self.profile[low] * (1 - frac) + self.profile[(low + 1) % 24] * frac
        return peak_rps * self.shares * level


def round_trips_s(scenario: Scenario, topology: Topology | None) -> np.ndarray:
    """Round-trip time from every region to every site, shape (regions, sites).

    A region reaches the network at its nearest node (site or PoP) over fibre of
    great-circle × route inflation; from there it follows the network's route.
    """
    spec = scenario.workloads.inference
    assert spec is not None
    net = scenario.network
    fibre_s_per_km = net.fibre_us_per_km * 1e-6 * net.route_inflation
    nodes = [(site.id, site.lat, site.lon) for site in scenario.sites]
    nodes += [(pop.id, pop.lat, pop.lon) for pop in scenario.pops]
    rtt = np.zeros((len(spec.regions), len(scenario.sites)))
    for r, region in enumerate(spec.regions):
        if topology is not None:  # where the region enters the network
            entry, lat, lon = min(
                nodes, key=lambda n: great_circle_km(region.lat, region.lon, n[1], n[2])
            )
            access = great_circle_km(region.lat, region.lon, lat, lon) * fibre_s_per_km
        for s, site in enumerate(scenario.sites):
            direct = great_circle_km(region.lat, region.lon, site.lat, site.lon) * fibre_s_per_km
            best = direct
            if topology is not None:
                route = topology.route(entry, site.id) if entry != site.id else None
                if entry == site.id:
                    best = access
                elif route is not None:
                    best = access + route.latency_s
            rtt[r, s] = 2 * best
    return rtt
