"""Plain values handed from the data layer to the figure builders and pages."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.analysis.metrics import METRICS, SERVICE, Better


@dataclass(frozen=True)
class SiteState:
    site: str
    online: bool
    total: int
    busy: int
    queue: int
    utilisation: float
    power_mw: float
    carbon_g_per_kwh: float | None = None
    """Grid carbon intensity at the stamp (None in a run that does not trace it)."""
    price_eur_per_mwh: float | None = None


@dataclass(frozen=True)
class LinkState:
    """A link at one telemetry stamp, both directions folded: peak direction utilisation."""

    link: str
    a: str
    b: str
    capacity_gbps: float
    throughput_gbps: float  # the busier direction
    utilisation: float  # the busier direction
    active_flows: int  # both directions


@dataclass(frozen=True)
class FaultSpan:
    """A site down or a link cut from ``start_s`` until ``end_s`` (overlapping faults of one
    target merged): how many faults, what they named (a site, ``country:XX``, a link) and
    why (scheduled, random)."""

    start_s: float
    end_s: float
    faults: int = 1
    targets: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()


def attainment(misses: int, resolved: int) -> float | None:
    """Share of resolved (served or dropped) requests that met every SLO (None: none
    resolved), as the summary counts it."""
    return 1.0 - misses / resolved if resolved else None


@dataclass(frozen=True)
class RegionService:
    """One service's requests from a demand region over the telemetry interval."""

    service: str
    arrivals: int
    resolved: int
    """Served or dropped."""
    misses: int
    """Of those, missed an SLO or dropped."""
    rtt_ms: float

    @property
    def attainment(self) -> float | None:
        return attainment(self.misses, self.resolved)


@dataclass(frozen=True)
class RegionState:
    """A demand region over the telemetry interval ending at a stamp, its services' requests
    added up."""

    region: str
    services: tuple[RegionService, ...]

    @property
    def arrivals(self) -> int:
        return sum(s.arrivals for s in self.services)

    @property
    def attainment(self) -> float | None:
        """Share of its resolved requests that met every SLO (None: none resolved)."""
        return attainment(
            sum(s.misses for s in self.services), sum(s.resolved for s in self.services)
        )


@dataclass(frozen=True)
class Snapshot:
    """The network at simulated time ``t``: the last telemetry stamp at or before it, and
    the sites down and links cut at ``t`` (runs with faults)."""

    t: float
    stamp_s: float | None
    sites: dict[str, SiteState]
    links: dict[str, LinkState] | None = None  # None: the run has no links table
    down: dict[str, FaultSpan] | None = None  # site → its outage; None: the run has no faults
    cut: dict[str, FaultSpan] | None = None  # link → its cut
    regions: dict[str, RegionState] | None = None  # None: the run has no inference_regions
    region_peak: int = 0
    """The most requests one region sent in one interval of the run (sizes the regions)."""


@dataclass(frozen=True)
class Line:
    name: str
    x: np.ndarray  # simulated seconds
    y: np.ndarray
    dash: str | None = None
    colour: str | None = None
    """A fixed colour (a threshold's grey); None: one per line name across the figure."""


@dataclass(frozen=True)
class Panel:
    """One of a stack of series sharing a time axis, with a y axis of its own."""

    title: str
    lines: tuple[Line, ...]
    log_y: bool = False
    """A logarithmic y axis (values spanning decades, e.g. a latency's p50 and p99)."""


@dataclass(frozen=True)
class Timeline:
    """The telemetry stamps of a run: what the time slider moves over."""

    first_s: float
    last_s: float
    step_s: float

    def clamp(self, t: float) -> float:
        """``t`` moved into ``[first_s, last_s]``."""
        return min(max(t, self.first_s), self.last_s)


@dataclass(frozen=True)
class Histogram:
    edges: np.ndarray
    counts: dict[str, np.ndarray]  # group → counts per bin
    label: str
    log_x: bool = False


@dataclass(frozen=True)
class Band:
    """One line of a sweep figure: a metric's mean and interval at each x (NaN where a
    configuration has no complete point, or one: no interval)."""

    name: str
    x: list[float] | list[str]
    mean: list[float]
    low: list[float]
    high: list[float]
    n: list[int]
    """Complete points (seeds) behind each mean."""
    points: list[int]
    """All points of each configuration."""
    configs: list[str]


@dataclass(frozen=True)
class JobFilter:
    sites: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class KpiDelta:
    name: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def tone(self) -> str:
        """``better`` or ``worse`` for B against A by the KPI's direction, else ``same``
        (no change, or a KPI with no better direction)."""
        delta, better = self.delta, kpi_better(self.name)
        if not delta or better is None:
            return "same"
        return "better" if (delta > 0) == (better == "higher") else "worse"

    @property
    def delta_pct(self) -> float | None:
        if self.delta is None or not self.a:
            return None
        return 100 * self.delta / abs(self.a)


NEXT_TO_UTILISATION = ("goodput (%)", "lost GPU-hours")
"""KPIs of runs with faults, shown right after utilisation."""


def kpi_order(names: Sequence[str]) -> list[str]:
    """``names`` with :data:`NEXT_TO_UTILISATION` moved right after ``utilisation (%)``."""
    moved = [name for name in NEXT_TO_UTILISATION if name in names]
    rest = [name for name in names if name not in moved]
    if "utilisation (%)" not in rest:
        return rest + moved
    at = rest.index("utilisation (%)") + 1
    return rest[:at] + moved + rest[at:]


def kpis_in_order(kpis: dict[str, float]) -> dict[str, float]:
    """``kpis`` in :func:`kpi_order`."""
    return {name: kpis[name] for name in kpi_order(list(kpis))}


KPI_METRICS = {
    "jobs submitted": "jobs.submitted",
    "jobs completed": "jobs.completed",
    "jobs failed": "jobs.failed",
    "jobs rejected": "jobs.rejected",
    "jobs cancelled": "jobs.cancelled",
    "mean wait (h)": "jobs.wait_mean_s",
    "utilisation (%)": "sites.utilisation",
    "energy (MWh)": "energy_mwh",
    "CO2 (t)": "co2_t",
    "cost (k€)": "cost_eur",
    "data moved (TB)": "network.tb_moved",
    "goodput (%)": "faults.goodput",
    "lost GPU-hours": "faults.lost_gpu_h",
}
"""The registry metric behind each headline KPI of :meth:`Summary.kpis` (its direction)."""
SERVICE_KPI_METRICS = {
    " SLO attainment (%)": "slo_attainment",
    " requests dropped": "dropped",
}
"""The same for a service's KPIs (``<service><suffix>``: ``inference.<service>.<field>``)."""
TOTAL_KPIS = frozenset(
    {
        "jobs submitted",
        "jobs completed",
        "jobs failed",
        "jobs cancelled",
        "jobs rejected",
        "energy (MWh)",
        "CO2 (t)",
        "cost (k€)",
        "data moved (TB)",
        "lost GPU-hours",
    }
)
TOTAL_SERVICE_SUFFIXES = (" requests dropped",)
"""KPIs (of :meth:`Summary.kpis`) that add up over a run, by name (a service's by suffix,
whatever its id): shown per day when two runs' spans differ."""


def kpi_metric(name: str) -> str | None:
    """The registry metric behind the headline KPI ``name`` (None for one with none, e.g.
    the jobs still running)."""
    family = _kpi_family(name)
    if family is None:
        return None
    base, service = family
    return base if service is None else base.replace(SERVICE, service)


def kpi_better(name: str) -> Better:
    """``higher`` or ``lower`` (which is better for this KPI, by the metrics registry, as
    sweeps rank them), or None (neither). Looked up by family, so any service id will do."""
    family = _kpi_family(name)
    return None if family is None else METRICS[family[0]].better


def _kpi_family(name: str) -> tuple[str, str | None] | None:
    """The registry family behind a KPI and, for a service's, the service id."""
    if name in KPI_METRICS:
        return KPI_METRICS[name], None
    for suffix, field in SERVICE_KPI_METRICS.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return f"inference.{SERVICE}.{field}", name[: -len(suffix)]
    return None


def is_total(name: str) -> bool:
    """Whether a KPI adds up over the run (so differs with its span)."""
    return name in TOTAL_KPIS or any(
        name.endswith(suffix) and len(name) > len(suffix) for suffix in TOTAL_SERVICE_SUFFIXES
    )


def per_day(kpis: dict[str, float], span_s: float) -> dict[str, float]:
    """Totals divided by the span in days (other KPIs as they are)."""
    days = span_s / 86400.0
    return {name: value / days if is_total(name) else value for name, value in kpis.items()}


def kpi_deltas(a: dict[str, float], b: dict[str, float]) -> list[KpiDelta]:
    """KPIs of run A next to run B, in A's order then B's extra ones (goodput next to
    utilisation)."""
    names = kpi_order(list(a) + [name for name in b if name not in a])
    return [KpiDelta(name, finite(a.get(name)), finite(b.get(name))) for name in names]


def finite(value: object) -> float | None:
    """``value`` as a finite float, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


__all__ = [
    "Band",
    "FaultSpan",
    "Histogram",
    "JobFilter",
    "KpiDelta",
    "Line",
    "LinkState",
    "Panel",
    "SiteState",
    "Snapshot",
    "Timeline",
    "finite",
    "kpi_deltas",
    "kpi_order",
    "kpis_in_order",
]
