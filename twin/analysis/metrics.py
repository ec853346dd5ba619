"""The registry of run metrics: name, unit, which direction is better, what it means.

A metric name is a family, for inference with the service in the middle, optionally narrowed
by one selector::

    jobs.wait_p95_s                      jobs.wait_p95_s[tenant=startup]
    co2_t                                co2_t[site=fr-paris]
    inference.chat.slo_attainment        inference.chat.slo_attainment[region=de]

Values come from a run's :class:`~twin.trace.summary.Summary` (see :mod:`twin.analysis.measure`).
"""

from __future__ import annotations

import difflib
import math
import re
import reprlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from twin.trace.summary import Summary

Better = Literal["higher", "lower"] | None
NAN = float("nan")
SERVICE = "{service}"
"""Where an inference family's name holds the service id."""
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def shorten(value: object) -> str:
    """A short repr of a (possibly huge) user value."""
    return _SHORT.repr(value)


_NAME = re.compile(r"^(?P<base>[A-Za-z0-9_.\-{}]+)(?:\[(?P<key>[a-z_]+)=(?P<value>[^\]]+)\])?$")


class MetricError(ValueError):
    """A metric name that is not in the registry, or a selector it does not take (a user
    mistake: the CLI reports it without a traceback)."""


@dataclass(frozen=True)
class MetricRef:
    """A metric name resolved against the registry."""

    name: str
    metric: Metric
    service: str | None = None
    """The service of an ``inference.{service}.…`` family."""
    selector: tuple[str, str] | None = None
    """``(key, value)`` of ``[key=value]``."""

    @property
    def unit(self) -> str:
        return self.metric.unit

    @property
    def better(self) -> Better:
        return self.metric.better

    def value(self, summary: Summary) -> float:
        """The metric of the run ``summary`` describes (NaN where it is not defined there)."""
        result = self.metric.compute(summary, self)
        return float(result) if result is not None else NAN


@dataclass(frozen=True)
class Metric:
    """A family of metrics."""

    family: str
    unit: str
    better: Better
    description: str
    compute: Callable[[Summary, MetricRef], float | None]
    selector: str | None = None
    """The key it may be narrowed by (``tenant``, ``site``, ``kind`` or ``region``)."""


def _row(rows: Iterable[dict[str, Any]], key: str, value: str | None) -> dict[str, Any] | None:
    return next((row for row in rows if row[key] == value), None)


def _get(row: dict[str, Any] | None, field: str, scale: float = 1.0) -> float | None:
    if row is None or row.get(field) is None:
        return None
    return float(row[field]) * scale


def _state(state: str) -> Callable[[Summary, MetricRef], float | None]:
    return lambda s, ref: float(s.jobs_by_state.get(state, 0))


def _jobs(field: str) -> Callable[[Summary, MetricRef], float | None]:
    def compute(s: Summary, ref: MetricRef) -> float | None:
        if ref.selector is None:
            return _get(s.waits, field)
        return _get(_row(s.tenants, "tenant", ref.selector[1]), field)

    return compute


def _granted(field: str) -> Callable[[Summary, MetricRef], float | None]:
    """A tenant's grant (``[tenant=…]``), or the tenants' added up."""

    def compute(s: Summary, ref: MetricRef) -> float | None:
        if ref.selector is not None:
            return _get(_row(s.tenants, "tenant", ref.selector[1]), field)
        values = [row[field] for row in s.tenants if row[field] == row[field]]
        return float(sum(values)) if values else None

    return compute


def _site(field: str) -> Callable[[Summary, MetricRef], float | None]:
    def compute(s: Summary, ref: MetricRef) -> float | None:
        if ref.selector is None:
            return _get(s.totals, field)
        return _get(_row(s.sites, "site", ref.selector[1]), field)

    return compute


def _transfers(field: str, scale: float = 1.0) -> Callable[[Summary, MetricRef], float | None]:
    def compute(s: Summary, ref: MetricRef) -> float | None:
        if ref.selector is None:
            return _get(s.transfer_totals, field, scale) if s.transfer_totals else None
        return _get(_row(s.transfers, "kind", ref.selector[1]), field, scale)

    return compute


def _busiest_link(s: Summary, ref: MetricRef) -> float | None:
    return s.busiest_links[0]["utilisation_mean"] if s.busiest_links else None


def _service(field: str, scale: float = 1.0) -> Callable[[Summary, MetricRef], float | None]:
    def compute(s: Summary, ref: MetricRef) -> float | None:
        if ref.selector is None:
            return _get(_row(s.services, "service", ref.service), field, scale)
        rows = [r for r in s.regions if r["service"] == ref.service]
        return _get(_row(rows, "region", ref.selector[1]), field, scale)

    return compute


def _sketched(field: str) -> Callable[[Summary, MetricRef], float | None]:
    """A whole-run percentile of a service read from its merged latency sketches; with
    ``[site=…]``, of its requests served at that site."""

    def compute(s: Summary, ref: MetricRef) -> float | None:
        if ref.selector is None:
            return _get(_row(s.services, "service", ref.service), field)
        rows = [r for r in s.service_sites if r["service"] == ref.service]
        return _get(_row(rows, "site", ref.selector[1]), field)

    return compute


_LATENCIES = {
    "ttft": "time to first token",
    "tpot": "time per output token",
    "latency": "end-to-end latency",
    "tbt": "time between tokens (every gap between two output tokens)",
    "sched_delay": "scheduling delay (arrival to first admission)",
}


def _fault(field: str) -> Callable[[Summary, MetricRef], float | None]:
    """A fault total; 0 of what a run without faults could not lose, NaN for goodput."""

    def compute(s: Summary, ref: MetricRef) -> float | None:
        return _get(s.faults, field) if s.faults else (None if field == "goodput" else 0.0)

    return compute


def _availability(s: Summary, ref: MetricRef) -> float | None:
    """A site's availability (1 if it never went down); without a site, the least available."""
    if ref.selector is None:
        return min((row["availability"] for row in s.availability), default=1.0)
    row = _row(s.availability, "site", ref.selector[1])
    if row is None:
        return 1.0 if _row(s.sites, "site", ref.selector[1]) is not None else None
    return float(row["availability"])


_UPPER = "the worst window's p99: an upper bound of the run's p99"
METRICS: dict[str, Metric] = {
    m.family: m
    for m in [
        Metric("jobs.submitted", "jobs", None, "jobs submitted", _jobs("submitted"), "tenant"),
        Metric(
            "jobs.started",
            "jobs",
            "higher",
            "jobs that got accelerators",
            _jobs("started"),
            "tenant",
        ),
        Metric("jobs.completed", "jobs", "higher", "jobs that ran to the end", _state("completed")),
        Metric("jobs.failed", "jobs", "lower", "jobs that failed", _state("failed")),
        Metric("jobs.rejected", "jobs", "lower", "jobs no site could take", _state("rejected")),
        Metric("jobs.cancelled", "jobs", "lower", "jobs cancelled", _state("cancelled")),
        Metric(
            "jobs.wait_mean_s",
            "s",
            "lower",
            "mean wait of started jobs",
            _jobs("wait_mean_s"),
            "tenant",
        ),
        Metric(
            "jobs.wait_p95_s",
            "s",
            "lower",
            "95th percentile wait of started jobs",
            _jobs("wait_p95_s"),
            "tenant",
        ),
        Metric(
            "jobs.wait_p99_s",
            "s",
            "lower",
            "99th percentile wait of started jobs",
            _jobs("wait_p99_s"),
            "tenant",
        ),
        Metric(
            "jobs.wait_max_s",
            "s",
            "lower",
            "longest wait of a started job",
            _jobs("wait_max_s"),
            "tenant",
        ),
        Metric(
            "jobs.accelerator_hours",
            "accelerator-h",
            None,
            "accelerator-hours granted: accelerators × time held, every run",
            _granted("accelerator_hours"),
            "tenant",
        ),
        Metric(
            "jobs.spend_eur",
            "€",
            "lower",
            "what jobs paid at their programme's or the list price per accelerator-hour "
            "(runs with access pricing)",
            _granted("spend_eur"),
            "tenant",
        ),
        Metric(
            "jobs.deadline_missed",
            "jobs",
            "lower",
            "deferrable jobs that started after their deadline (or still wait past it)",
            lambda s, ref: _get(s.deferral, "deadline_missed"),
        ),
        Metric(
            "jobs.deferred_mean_s",
            "s",
            "lower",
            "mean time the start policy held a deferred job",
            lambda s, ref: _get(s.deferral, "deferred_mean_s"),
        ),
        Metric(
            "jobs.deferrable_gco2_per_kwh",
            "gCO2/kWh",
            "lower",
            "CO2 per unit of the deferrable jobs' energy (fair across horizons)",
            lambda s, ref: _get(s.deferral, "gco2_per_kwh"),
        ),
        Metric(
            "jobs.deferrable_eur_per_mwh",
            "€/MWh",
            "lower",
            "electricity cost per unit of the deferrable jobs' energy",
            lambda s, ref: _get(s.deferral, "eur_per_mwh"),
        ),
        Metric(
            "jobs.jain_index",
            "ratio",
            "higher",
            "Jain's fairness index over tenants of accelerator-hours granted per "
            "accelerator-hour asked (1: every tenant got the same part of its demand)",
            lambda s, ref: s.jain_index,
        ),
        Metric(
            "jobs.jain_index_by_weight",
            "ratio",
            "higher",
            "Jain's fairness index over tenants of accelerator-hours per unit of fair-share "
            "weight (1: service follows the weights)",
            lambda s, ref: s.jain_index_by_weight,
        ),
        Metric(
            "jobs.bounded_slowdown_mean",
            "ratio",
            "lower",
            "mean bounded slowdown max(1, (wait + run) / max(run, 10 s)) of started jobs (run "
            "so far for jobs still running at the end; jobs that never started are left out)",
            _jobs("bounded_slowdown_mean"),
            "tenant",
        ),
        Metric(
            "jobs.makespan_s",
            "s",
            "lower",
            "first submission to the last end of the jobs that ended (any final state)",
            _jobs("makespan_s"),
            "tenant",
        ),
        Metric(
            "sites.accelerators",
            "accelerators",
            None,
            "accelerators at the end",
            _site("accelerators"),
            "site",
        ),
        Metric(
            "sites.utilisation",
            "fraction",
            "higher",
            "accelerator-hours busy / accelerator-hours installed while online, over the run",
            _site("utilisation"),
            "site",
        ),
        Metric(
            "sites.availability",
            "fraction",
            "higher",
            "share of the run a site was up (without [site=]: the least available site)",
            _availability,
            "site",
        ),
        Metric(
            "faults.goodput",
            "fraction",
            "higher",
            "useful share of the accelerator-hours jobs held (lost work, checkpoints and "
            "restarts excluded)",
            _fault("goodput"),
        ),
        Metric(
            "faults.lost_gpu_h",
            "GPU-h",
            "lower",
            "accelerator-hours of compute lost to interruptions",
            _fault("lost_gpu_h"),
        ),
        Metric(
            "faults.jobs_interrupted",
            "jobs",
            "lower",
            "jobs interrupted at least once",
            _fault("jobs_interrupted"),
        ),
        Metric(
            "faults.bytes_rerouted",
            "bytes",
            None,
            "bytes flows still had to send when a cut moved them to another route",
            _fault("bytes_rerouted"),
        ),
        Metric("energy_mwh", "MWh", "lower", "energy drawn", _site("energy_mwh"), "site"),
        Metric(
            "co2_t", "t", "lower", "CO2 emitted (grid intensity × energy)", _site("co2_t"), "site"
        ),
        Metric("cost_eur", "EUR", "lower", "energy cost", _site("cost_eur"), "site"),
        Metric(
            "network.tb_moved",
            "TB",
            "higher",
            "bytes of delivered transfers",
            _transfers("bytes", 1e-12),
            "kind",
        ),
        Metric(
            "network.busiest_link_utilisation",
            "fraction",
            "lower",
            "mean utilisation of the busiest link direction",
            _busiest_link,
        ),
        Metric(
            "transfers.count", "transfers", None, "transfers requested", _transfers("count"), "kind"
        ),
        Metric(
            "transfers.delivered",
            "transfers",
            "higher",
            "transfers delivered",
            _transfers("delivered"),
            "kind",
        ),
        Metric(
            "transfers.mean_s",
            "s",
            "lower",
            "mean time of delivered transfers",
            _transfers("time_mean_s"),
            "kind",
        ),
        Metric(
            "transfers.p95_s",
            "s",
            "lower",
            "95th percentile time of delivered transfers",
            _transfers("time_p95_s"),
            "kind",
        ),
        Metric(
            f"inference.{SERVICE}.arrivals",
            "requests",
            None,
            "requests that arrived",
            _service("arrivals"),
            "region",
        ),
        Metric(
            f"inference.{SERVICE}.served",
            "requests",
            "higher",
            "requests served",
            _service("served"),
        ),
        Metric(
            f"inference.{SERVICE}.dropped",
            "requests",
            "lower",
            "requests dropped",
            _service("dropped"),
            "region",
        ),
        Metric(
            f"inference.{SERVICE}.slo_attainment",
            "fraction",
            "higher",
            "share of resolved requests that met every SLO",
            _service("attainment"),
            "region",
        ),
        Metric(
            f"inference.{SERVICE}.latency_p99_s",
            "s",
            "lower",
            f"end-to-end latency, {_UPPER}",
            _service("latency_p99_ms_worst_window", 1e-3),
        ),
        Metric(
            f"inference.{SERVICE}.latency_p99_s_median_window",
            "s",
            "lower",
            "median over windows of the window p99 latency",
            _service("latency_p99_ms_median_window", 1e-3),
        ),
        Metric(
            f"inference.{SERVICE}.ttft_p99_s",
            "s",
            "lower",
            f"time to first token, {_UPPER}",
            _service("ttft_p99_ms_worst_window", 1e-3),
        ),
        Metric(
            f"inference.{SERVICE}.tpot_p99_s",
            "s",
            "lower",
            f"time per output token, {_UPPER}",
            _service("tpot_p99_ms_worst_window", 1e-3),
        ),
        *(
            Metric(
                f"inference.{SERVICE}.{metric}_{p}_ms",
                "ms",
                "lower",
                f"{what}, {p} over every request of the run (merged sketches: within 1 %)",
                _sketched(f"{metric}_{p}_ms"),
                "site",
            )
            for metric, what in _LATENCIES.items()
            for p in ("p50", "p99")
        ),
        Metric(
            f"inference.{SERVICE}.rtt_ms",
            "ms",
            "lower",
            "mean network round trip",
            _service("rtt_ms"),
            "region",
        ),
    ]
}


def parse_metric(name: str) -> MetricRef:
    """Resolve ``name`` against the registry; MetricError saying what is wrong otherwise."""
    if not isinstance(name, str):
        raise MetricError(f"a metric name must be a string, got {shorten(name)}")
    match = _NAME.match(name.strip())
    if match is None:
        raise MetricError(f"{shorten(name)} is not a metric name ({_EXAMPLE})")
    base, key, value = match["base"], match["key"], match["value"]
    service = None
    if base.startswith("inference.") and base.count(".") >= 2:
        service, field = base[len("inference.") :].rsplit(".", 1)
        base = f"inference.{SERVICE}.{field}"
    metric = METRICS.get(base)
    if metric is None:
        close = difflib.get_close_matches(base, METRICS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else "; see `twin metrics`"
        raise MetricError(f"unknown metric {shorten(name)}{hint}")
    if key is not None and key != metric.selector:
        takes = f"takes [{metric.selector}=…]" if metric.selector else "takes no selector"
        raise MetricError(f"metric {shorten(name)}: {metric.family} {takes}, not [{key}=…]")
    selector = (key, value) if key is not None else None
    return MetricRef(name.strip(), metric, service, selector)


_EXAMPLE = "e.g. jobs.wait_p95_s, co2_t[site=…], inference.<service>.slo_attainment"


def is_nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)
