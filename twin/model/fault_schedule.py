"""The run's outages and cuts, drawn before it starts: scheduled ones from the config, random
ones from their own streams (so a fault history depends only on the seed and the config,
never on what the workload did).

Random site outages alternate up times, exponential with mean ``mtbf``, and repairs drawn
from ``mttr``, per site (or per country: all its sites together, a grid event). Random
fibre cuts strike each link as a Poisson process of rate ``km × rate / 1000`` per year;
each lasts a repair drawn from ``repair``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from twin.config.schema import Scenario
from twin.config.schema_base import Constant
from twin.config.schema_faults import RandomOutages
from twin.config.validate_faults import canonical_link
from twin.model.calendar import Calendar
from twin.model.distributions import make_sampler
from twin.model.geo import great_circle_km
from twin.model.rng import stream

YEAR_S = 365.0 * 86400.0
DEFAULT_CUT_REPAIR_S = 12 * 3600.0
"""Repair time of a fibre cut when the config gives none (an assumption)."""


@dataclass(frozen=True, slots=True)
class Outage:
    """One site outage or link cut: ``targets`` are down from ``start_s`` to ``end_s``."""

    kind: str
    """``site_outage`` or ``link_cut``."""
    targets: tuple[str, ...]
    """Site ids (several for a country's grid event) or one link id ``A~B``."""
    label: str
    """What the fault row names: the site, ``country:XX`` or the link."""
    cause: str
    """``scheduled`` or ``random``."""
    start_s: float
    end_s: float


def _seconds(when: float | dt.datetime, calendar: Calendar) -> float:
    return float(when) if isinstance(when, (int, float)) else calendar.seconds_at(when)


def fault_stream(scenario: Scenario, name: str) -> np.random.Generator:
    """The random stream ``faults.NAME`` (shifted by ``faults.seed_offset``)."""
    offset = scenario.faults.seed_offset
    return stream(scenario.seed, f"faults.{name}" + (f"#{offset}" if offset else ""))


def outages(scenario: Scenario, calendar: Calendar) -> list[Outage]:
    """Every site outage and link cut that begins within the horizon, in order of start
    (ties: in the order they were configured)."""
    faults = scenario.faults
    horizon = scenario.horizon
    found: list[Outage] = []
    by_country: dict[str, tuple[str, ...]] = {}
    for site in scenario.sites:
        if site.country:
            by_country[site.country] = (*by_country.get(site.country, ()), site.id)
    if faults.sites is not None:
        for entry in faults.sites.scheduled:
            start = _seconds(entry.start, calendar)
            if entry.site is not None:
                targets, label = (entry.site,), entry.site
            else:
                assert entry.country is not None
                targets, label = by_country[entry.country], f"country:{entry.country}"
            found.append(
                Outage("site_outage", targets, label, "scheduled", start, start + entry.duration)
            )
        for k, entry in enumerate(faults.sites.random):
            found += _random_outages(scenario, entry, k, by_country)
    if faults.links is not None and scenario.links:
        ids = [f"{link.a}~{link.b}" for link in scenario.links]
        for entry in faults.links.scheduled:
            link = canonical_link(entry.link, ids)
            assert link is not None
            start = _seconds(entry.start, calendar)
            found.append(
                Outage("link_cut", (link,), link, "scheduled", start, start + entry.duration)
            )
        if faults.links.random is not None:
            found += _random_cuts(scenario, ids)
    found = [outage for outage in found if 0.0 <= outage.start_s < horizon]
    return sorted(found, key=lambda outage: outage.start_s)  # stable: config order on ties


def _random_outages(
    scenario: Scenario, entry: RandomOutages, k: int, by_country: dict[str, tuple[str, ...]]
) -> list[Outage]:
    if entry.country is not None:
        groups = [(by_country[entry.country], f"country:{entry.country}")]
    else:
        ids = entry.sites if entry.sites is not None else [site.id for site in scenario.sites]
        groups = [((site_id,), site_id) for site_id in ids]
    found = []
    for targets, label in groups:
        rng = fault_stream(scenario, f"sites.{k}.{label}")
        repair = make_sampler(entry.mttr, rng)
        now = 0.0
        while True:
            now += float(rng.exponential(entry.mtbf))
            if now >= scenario.horizon:
                break
            length = max(1.0, float(repair(1)[0]))
            found.append(Outage("site_outage", targets, label, "random", now, now + length))
            now += length
    return found


def _random_cuts(scenario: Scenario, ids: list[str]) -> list[Outage]:
    spec = scenario.faults.links.random  # type: ignore[union-attr]
    assert spec is not None
    coordinates = {site.id: (site.lat, site.lon) for site in scenario.sites}
    coordinates.update({pop.id: (pop.lat, pop.lon) for pop in scenario.pops})
    chosen = {canonical_link(name, ids) for name in spec.links} if spec.links is not None else None
    repair_spec = spec.repair or Constant(dist="constant", value=DEFAULT_CUT_REPAIR_S)
    found = []
    for link, link_id in zip(scenario.links, ids, strict=True):
        if chosen is not None and link_id not in chosen:
            continue
        km = link.km
        if km is None:
            km = great_circle_km(*coordinates[link.a], *coordinates[link.b])
            km *= scenario.network.route_inflation
        rate_per_s = km * spec.rate_per_1000km_year / 1000.0 / YEAR_S
        rng = fault_stream(scenario, f"links.{link_id}")
        repair = make_sampler(repair_spec, rng)
        now = 0.0
        while True:
            now += float(rng.exponential(1.0 / rate_per_s))
            if now >= scenario.horizon:
                break
            length = max(1.0, float(repair(1)[0]))
            found.append(Outage("link_cut", (link_id,), link_id, "random", now, now + length))
            now += length
    return found
