"""Key figures of a run, computed from its trace alone (shared by ``twin summary`` and Dash)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from twin.trace import sketches
from twin.trace.errors import RunError, first_line
from twin.trace.layout import MANIFEST
from twin.trace.reader import Run, check_manifest
from twin.trace.scan import column_names, grouped, scan
from twin.trace.summary_deferral import deferral_totals
from twin.trace.summary_fairness import demand_fairness, programme_rows, tenant_fairness
from twin.trace.summary_faults import fault_totals, site_availability
from twin.trace.summary_jobs import job_rows
from twin.trace.summary_stats import by_key, concat, count_values, manifest_end_s, quantile

TERMINAL_STATES = ("completed", "failed", "cancelled", "rejected")


@dataclass
class Summary:
    """What ``twin summary`` prints: rows of plain values, easy to render or compare."""

    scenario: str
    status: str
    horizon_s: float
    wall_time_s: float | None
    jobs_by_state: dict[str, int]
    seed: int | None = None
    whatifs: list[str] = field(default_factory=list)
    """The what-ifs its scenario was made with (runs of ``twin run``; older runs: none)."""
    overrides: list[str] = field(default_factory=list)
    """Its ``--set`` overrides (with ``--horizon`` and ``--seed`` as ``horizon=``, ``seed=``)."""
    simulated_s: float | None = None
    """The simulated span the run reached (its manifest's ``end_s``; less than the horizon
    for an incomplete run)."""
    waits: dict[str, float] = field(default_factory=dict)
    """Over every tenant: the standard scheduling figures (:func:`_waits`): jobs submitted
    and started, mean and p95 wait and mean bounded slowdown of started jobs, makespan."""
    tenants: list[dict[str, Any]] = field(default_factory=list)
    """The same per tenant (``tenant`` names it), with what it was granted: accelerator-hours,
    rejected and cancelled jobs, spend, its access programme."""
    jain_index: float = float("nan")
    """Jain's fairness index over tenants of service per unit of demand
    (:func:`summary_fairness.demand_fairness`)."""
    jain_index_by_weight: float = float("nan")
    """Jain's index of accelerator-hours per unit of fair-share weight
    (:func:`summary_fairness.tenant_fairness`: 1 when service follows the weights)."""
    programmes: list[dict[str, Any]] = field(default_factory=list)
    """Per access programme: reserve, entitled and granted accelerator-hours, quota, spend."""
    deferral: dict[str, Any] = field(default_factory=dict)
    """Deferrable jobs: how many, how long held, deadlines missed, their grid's CO2 and cost
    per MWh (:func:`summary_deferral.deferral_totals`; empty without deferrable jobs)."""
    sites: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    """Per transfer kind: count, bytes moved, mean/p95 transfer time (runs with a network)."""
    transfer_totals: dict[str, float] = field(default_factory=dict)
    """The same over every kind (empty for runs without a network)."""
    busiest_links: list[dict[str, Any]] = field(default_factory=list)
    """Link directions by mean utilisation, busiest first (runs with a network)."""
    services: list[dict[str, Any]] = field(default_factory=list)
    """Per inference service: requests, drops, SLO attainment, window p99 latencies, and the
    whole run's p50 and p99 TTFT, TPOT and latency (from the merged sketches)."""
    service_sites: list[dict[str, Any]] = field(default_factory=list)
    """The whole run's p50 and p99 TTFT, TPOT and latency per service and site (sketches)."""
    regions: list[dict[str, Any]] = field(default_factory=list)
    """Per inference service and demand region: requests, SLO attainment, round trip, and
    the whole run's p50 and p99 TTFT, TPOT and latency (sketches)."""
    faults: dict[str, Any] = field(default_factory=dict)
    """Faults by kind, accelerator-hours lost, goodput, bytes rerouted (runs with faults)."""
    availability: list[dict[str, Any]] = field(default_factory=list)
    """Per site that went down: outages, hours down, availability (runs with faults)."""

    def kpis(self) -> dict[str, float]:
        """Flat headline numbers, for comparing runs side by side."""
        started = [t for t in self.tenants if t["started"]]
        weights = sum(t["started"] for t in started)
        wait_h = (
            sum(t["wait_mean_s"] * t["started"] for t in started) / weights / 3600
            if weights
            else float("nan")  # no job started: no wait to speak of (not a wait of 0)
        )
        return {
            "jobs submitted": float(sum(self.jobs_by_state.values())),
            **{f"jobs {state}": float(n) for state, n in sorted(self.jobs_by_state.items())},
            "mean wait (h)": wait_h,
            "utilisation (%)": 100 * self.totals.get("utilisation", 0.0),
            "energy (MWh)": self.totals.get("energy_mwh", 0.0),
            "CO2 (t)": self.totals.get("co2_t", 0.0),
            "cost (k€)": self.totals.get("cost_eur", 0.0) / 1000,
            **(
                {"data moved (TB)": sum(t["bytes"] for t in self.transfers) / 1e12}
                if self.transfers
                else {}
            ),
            **{f"{s['service']} SLO attainment (%)": 100 * s["attainment"] for s in self.services},
            **{f"{s['service']} requests dropped": float(s["dropped"]) for s in self.services},
            **(
                {
                    "goodput (%)": 100 * self.faults["goodput"],
                    "lost GPU-hours": self.faults["lost_gpu_h"],
                }
                if self.faults
                else {}
            ),
        }


def summarize(run: Run) -> Summary:
    """The summary of a run directory (complete or not); RunError, saying what is wrong, if
    its manifest or a table it needs is missing or malformed. Tables are scanned a few
    columns and a chunk at a time: a year's trace costs no more memory than a day's."""
    check_manifest(run.manifest, run.path / MANIFEST)
    try:
        return _summarize(run)
    except RunError:
        raise
    except (pa.ArrowException, ArithmeticError, KeyError, TypeError, ValueError) as error:
        raise RunError(f"{run.path}: cannot summarise the run: {first_line(error)}") from None


def _scan(run: Run, name: str, columns: list[str]) -> Iterator[pa.Table]:
    return scan(run.path, name, columns)


def _summarize(run: Run) -> Summary:
    states, waits, tenants = job_rows(run)
    sites, totals = _site_rows(run)
    transfers, transfer_totals = _transfer_rows(run) if run.has("transfers") else ([], {})
    links = _busiest_links(run) if run.has("links") else []
    services = _service_rows(run) if run.has("inference") else []
    service_sites = _sketch_percentiles(run, services) if run.has("inference") else []
    regions = _region_rows(run) if run.has("inference_regions") else []
    faults, availability = {}, []
    if run.has("faults"):
        faults = fault_totals(run)
        end_s = manifest_end_s(run.manifest)
        span = end_s if end_s is not None else float(run.manifest.get("horizon_s", 0.0))
        availability = site_availability(run, span)
    return Summary(
        scenario=run.scenario,
        status=run.status,
        horizon_s=float(run.manifest.get("horizon_s", 0.0)),
        wall_time_s=run.manifest.get("wall_time_s"),
        jobs_by_state=dict(sorted(states.items())),
        seed=run.manifest.get("seed"),
        whatifs=[str(name) for name in run.manifest.get("whatifs") or []],
        overrides=[str(item) for item in run.manifest.get("overrides") or []],
        simulated_s=manifest_end_s(run.manifest),
        waits=waits,
        tenants=tenants,
        jain_index=demand_fairness(tenants),
        jain_index_by_weight=tenant_fairness(tenants, run.manifest),
        programmes=programme_rows(tenants, run.manifest),
        deferral=deferral_totals(run),
        sites=sites,
        totals=totals,
        transfers=transfers,
        transfer_totals=transfer_totals,
        busiest_links=links,
        services=services,
        service_sites=service_sites,
        regions=regions,
        faults=faults,
        availability=availability,
    )


def _attainment(misses: float, resolved: float) -> float:
    """Share of resolved (served or dropped) requests that met every SLO."""
    return 1.0 - misses / resolved if resolved else float("nan")


def _service_rows(run: Run) -> list[dict[str, Any]]:
    columns = ["service", "arrivals", "served", "dropped", "slo_misses"]
    columns += ["latency_p99_ms", "ttft_p99_ms", "tpot_p99_ms"]
    # a run written before disaggregated serving has no prefill columns: co-located
    pooled = "prefill_replicas" in column_names(run.path, "inference")
    columns += ["prefill_replicas"] if pooled else []
    window_p99: dict[str, list[np.ndarray]] = defaultdict(list)

    def chunks() -> Iterator[pa.Table]:
        for chunk in _scan(run, "inference", columns):
            for service, rows in by_key(chunk, "service"):
                window_p99[service].append(rows["latency_p99_ms"].drop_null().to_numpy())
            yield chunk

    grouped_rows = grouped(
        chunks(),
        ["service"],
        [
            ("arrivals", "sum"),
            ("served", "sum"),
            ("dropped", "sum"),
            ("slo_misses", "sum"),
            ("latency_p99_ms", "max"),
            ("ttft_p99_ms", "max"),
            ("tpot_p99_ms", "max"),
            *([("prefill_replicas", "max")] if pooled else []),
        ],
    )
    rows = []
    for row in sorted(grouped_rows, key=lambda r: r["service"]):
        resolved = row["served_sum"] + row["dropped_sum"]
        rows.append(
            {
                "service": row["service"],
                "serving": _serving(row.get("prefill_replicas_max")),
                "arrivals": row["arrivals_sum"],
                "served": row["served_sum"],
                "dropped": row["dropped_sum"],
                "slo_misses": row["slo_misses_sum"],
                "attainment": _attainment(row["slo_misses_sum"], resolved),
                "latency_p99_ms_median_window": quantile(concat(window_p99[row["service"]]), 0.5),
                "latency_p99_ms_worst_window": row["latency_p99_ms_max"],
                "ttft_p99_ms_worst_window": row["ttft_p99_ms_max"],
                "tpot_p99_ms_worst_window": row["tpot_p99_ms_max"],
            }
        )
    return rows


def _serving(prefill_replicas: float | None) -> str:
    """How a service is served: ``disaggregated`` (a prefill pool beside its decode pool:
    some window of it counts prefill replicas) or ``co-located``."""
    return "co-located" if prefill_replicas is None else "disaggregated"


SKETCHED = tuple(f"{m}_{p}_ms" for m in sketches.METRICS for p in ("p50", "p99"))
"""The whole-run percentiles read from the sketches, per service, site and region."""


def _sketch_percentiles(run: Run, services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the whole run's :data:`SKETCHED` percentiles to each service row (NaN where it has
    no such latencies, or the run predates the sketches); return them per service and site."""
    merged = sketches.by_service_and(run.path)
    objectives = run.manifest.get("slo") if isinstance(run.manifest.get("slo"), dict) else {}
    for row in services:
        mine = sum([h for (service, _), h in merged.items() if service == row["service"]], _NOTHING)
        row.update(_percentiles(mine))
        row["slo"] = _objectives(objectives.get(row["service"]))
        row["within_slo"] = {
            metric: sketches.share_within(mine[sketches.METRICS.index(metric)], threshold)
            for metric, threshold in row["slo"].items()
        }
    return [
        {"service": service, "site": site, **_percentiles(merged[(service, site)])}
        for service, site in sorted(merged)
    ]


_NOTHING = np.zeros((len(sketches.METRICS), sketches.BUCKETS), dtype=np.int64)


def _objectives(slo: object) -> dict[str, float]:
    """A service's SLO thresholds by sketched metric (``ttft`` → s); none for runs written
    before the manifest recorded them."""
    if not isinstance(slo, dict):
        return {}
    return {
        key.removesuffix("_s"): float(value)
        for key, value in sorted(slo.items())
        if key.removesuffix("_s") in sketches.METRICS and isinstance(value, (int, float))
    }


def _percentiles(histograms: np.ndarray) -> dict[str, float]:
    """The :data:`SKETCHED` percentiles [ms] of merged histograms (NaN where empty)."""
    values = [v for row in histograms for v in sketches.quantiles_s(row, (0.5, 0.99))]
    return {k: math.nan if v is None else v * 1000 for k, v in zip(SKETCHED, values, strict=True)}


def _region_rows(run: Run) -> list[dict[str, Any]]:
    merged = sketches.by_service_and(run.path, "region")
    columns = ["service", "region", "arrivals", "served", "dropped", "slo_misses", "rtt_ms"]
    grouped_rows = grouped(
        _scan(run, "inference_regions", columns),
        ["service", "region"],
        [
            ("arrivals", "sum"),
            ("served", "sum"),
            ("dropped", "sum"),
            ("slo_misses", "sum"),
            ("rtt_ms", "sum"),
            ("rtt_ms", "count"),
        ],
    )
    rows = [
        {
            "service": row["service"],
            "region": row["region"],
            "arrivals": row["arrivals_sum"],
            "dropped": row["dropped_sum"],
            "attainment": _attainment(
                row["slo_misses_sum"], row["served_sum"] + row["dropped_sum"]
            ),
            "rtt_ms": row["rtt_ms_sum"] / row["rtt_ms_count"]
            if row["rtt_ms_count"]
            else float("nan"),
            **_percentiles(merged.get((row["service"], row["region"]), _NOTHING)),
        }
        for row in grouped_rows
    ]
    return sorted(rows, key=lambda r: (r["service"], r["attainment"], r["region"]))


def _transfer_rows(run: Run) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Per transfer kind, and over every kind: count, delivered, bytes, mean/p95 time."""
    counts: Counter[str] = Counter()
    moved: Counter[str] = Counter()
    durations: dict[str, list[np.ndarray]] = defaultdict(list)
    for chunk in _scan(run, "transfers", ["kind", "bytes", "duration_s", "state"]):
        count_values(chunk["kind"], counts)
        delivered = chunk.filter(pc.equal(chunk["state"], "delivered"))
        for kind, rows in by_key(delivered, "kind"):
            moved[kind] += float(pc.sum(rows["bytes"]).as_py() or 0.0)
            durations[kind].append(rows["duration_s"].to_numpy())
    rows = [
        {"kind": kind, **_transfers(counts[kind], moved[kind], concat(durations[kind]))}
        for kind in sorted(counts)
    ]
    every = concat([piece for kind in sorted(durations) for piece in durations[kind]])
    totals = _transfers(sum(counts.values()), sum(moved[k] for k in sorted(moved)), every)
    return rows, totals


def _transfers(count: int, moved: float, times: np.ndarray) -> dict[str, Any]:
    return {
        "count": count,
        "bytes": moved,
        "delivered": len(times),
        "time_mean_s": float(times.mean()) if len(times) else float("nan"),
        "time_p95_s": quantile(times, 0.95),
    }


def _busiest_links(run: Run, top: int = 5) -> list[dict[str, Any]]:
    columns = ["link", "a", "b", "utilisation", "throughput_gbps"]
    grouped_rows = grouped(
        _scan(run, "links", columns),
        ["link", "a", "b"],
        [
            ("utilisation", "sum"),
            ("utilisation", "count"),
            ("utilisation", "max"),
            ("throughput_gbps", "sum"),
            ("throughput_gbps", "count"),
        ],
    )
    rows = [
        {
            "link": row["link"],
            "direction": f"{row['a']}>{row['b']}",
            "utilisation_mean": row["utilisation_sum"] / row["utilisation_count"],
            "utilisation_max": row["utilisation_max"],
            "throughput_gbps_mean": row["throughput_gbps_sum"] / row["throughput_gbps_count"],
        }
        for row in grouped_rows
        if row["utilisation_count"]
    ]
    rows.sort(key=lambda r: (-r["utilisation_mean"], r["link"], r["direction"]))
    return rows[:top]


def _site_rows(run: Run) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Per site: accelerators, utilisation over its online time, energy, CO2, cost. A row's
    utilisation holds since the site's previous row (or the start)."""
    columns = ["time_s", "site", "online", "total_accelerators", "utilisation"]
    columns += ["energy_mwh", "co2_t", "cost_eur"]
    acc: dict[str, dict[str, float]] = {}
    last_time: dict[str, float] = {}
    for chunk in _scan(run, "sites", columns):
        for site, rows in by_key(chunk, "site"):
            times = rows["time_s"].to_numpy()
            spans = np.diff(times, prepend=last_time.get(site, 0.0))
            last_time[site] = float(times[-1])
            total = rows["total_accelerators"].to_numpy().astype(np.float64)
            online = rows["online"].to_numpy(zero_copy_only=False).astype(np.float64)
            busy = rows["utilisation"].to_numpy() * total * spans
            row = acc.setdefault(site, dict.fromkeys(_SITE_SUMS, 0.0))
            row["accelerators"] = float(total[-1])
            row["busy_s"] += float(busy.sum())
            row["capacity_s"] += float((total * spans * online).sum())
            for column in ("energy_mwh", "co2_t", "cost_eur"):
                row[column] += float(pc.sum(rows[column]).as_py() or 0.0)
    sites = [
        {
            "site": site,
            "accelerators": int(row["accelerators"]),
            "utilisation": row["busy_s"] / row["capacity_s"] if row["capacity_s"] else 0.0,
            "energy_mwh": row["energy_mwh"],
            "co2_t": row["co2_t"],
            "cost_eur": row["cost_eur"],
        }
        for site, row in acc.items()
    ]
    busy = sum(row["busy_s"] for row in acc.values())
    capacity = sum(row["capacity_s"] for row in acc.values())
    totals = {
        "accelerators": sum(s["accelerators"] for s in sites),
        "utilisation": busy / capacity if capacity else 0.0,
        "energy_mwh": sum(s["energy_mwh"] for s in sites),
        "co2_t": sum(s["co2_t"] for s in sites),
        "cost_eur": sum(s["cost_eur"] for s in sites),
    }
    return sites, totals


_SITE_SUMS = ("accelerators", "busy_s", "capacity_s", "energy_mwh", "co2_t", "cost_eur")
