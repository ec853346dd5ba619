"""Key figures of a run, computed from its trace alone (shared by ``twin summary`` and Dash)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from twin.trace.errors import RunError, first_line
from twin.trace.layout import MANIFEST
from twin.trace.reader import Run, check_manifest, check_table

TERMINAL_STATES = ("completed", "failed", "cancelled", "rejected")


@dataclass
class Summary:
    """What ``twin summary`` prints: rows of plain values, easy to render or compare."""

    scenario: str
    status: str
    horizon_s: float
    wall_time_s: float | None
    jobs_by_state: dict[str, int]
    simulated_s: float | None = None
    """The simulated span the run reached (its manifest's ``end_s``; less than the horizon
    for an incomplete run)."""
    tenants: list[dict[str, Any]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    """Per transfer kind: count, bytes moved, mean/p95 transfer time (runs with a network)."""
    busiest_links: list[dict[str, Any]] = field(default_factory=list)
    """Link directions by mean utilisation, busiest first (runs with a network)."""
    services: list[dict[str, Any]] = field(default_factory=list)
    """Per inference service: requests, drops, SLO attainment, window p99 latencies."""
    regions: list[dict[str, Any]] = field(default_factory=list)
    """Per inference service and demand region: requests and SLO attainment."""

    def kpis(self) -> dict[str, float]:
        """Flat headline numbers, for comparing runs side by side."""
        started = [t for t in self.tenants if t["started"]]
        weights = sum(t["started"] for t in started) or 1
        return {
            "jobs submitted": float(sum(self.jobs_by_state.values())),
            **{f"jobs {state}": float(n) for state, n in sorted(self.jobs_by_state.items())},
            "mean wait (h)": sum(t["wait_mean_s"] * t["started"] for t in started) / weights / 3600,
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
        }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(pc.quantile(pa.array(values, pa.float64()), q=q)[0].as_py())


def summarize(run: Run) -> Summary:
    """The summary of a run directory (complete or not); RunError, saying what is wrong, if
    its manifest or a table it needs is missing or malformed."""
    check_manifest(run.manifest, run.path / MANIFEST)
    try:
        return _summarize(run)
    except RunError:
        raise
    except (pa.ArrowException, ArithmeticError, KeyError, TypeError, ValueError) as error:
        raise RunError(f"{run.path}: cannot summarise the run: {first_line(error)}") from None


def _table(run: Run, name: str) -> pa.Table:
    return check_table(name, run.table(name), run.path)


def _summarize(run: Run) -> Summary:
    jobs = _table(run, "jobs").select(["tenant", "state", "wait_s", "start_s"]).to_pydict()
    states = Counter(jobs["state"])
    by_tenant: dict[str, list[float]] = defaultdict(list)
    submitted: Counter[str] = Counter(jobs["tenant"])
    for tenant, wait, start in zip(jobs["tenant"], jobs["wait_s"], jobs["start_s"], strict=True):
        if start is not None and wait is not None:
            by_tenant[tenant].append(wait)
    tenants = [
        {
            "tenant": tenant,
            "submitted": submitted[tenant],
            "started": len(by_tenant[tenant]),
            "wait_mean_s": sum(by_tenant[tenant]) / len(by_tenant[tenant])
            if by_tenant[tenant]
            else float("nan"),
            "wait_p95_s": _quantile(by_tenant[tenant], 0.95),
        }
        for tenant in sorted(submitted)
    ]
    sites, totals = _site_rows(_table(run, "sites"))
    transfers = _transfer_rows(_table(run, "transfers")) if run.has("transfers") else []
    links = _busiest_links(_table(run, "links")) if run.has("links") else []
    services = _service_rows(_table(run, "inference")) if run.has("inference") else []
    has_regions = run.has("inference_regions")
    regions = _region_rows(_table(run, "inference_regions")) if has_regions else []
    return Summary(
        scenario=run.scenario,
        status=run.status,
        horizon_s=float(run.manifest.get("horizon_s", 0.0)),
        wall_time_s=run.manifest.get("wall_time_s"),
        jobs_by_state=dict(sorted(states.items())),
        simulated_s=_end_s(run.manifest),
        tenants=tenants,
        sites=sites,
        totals=totals,
        transfers=transfers,
        busiest_links=links,
        services=services,
        regions=regions,
    )


def _attainment(misses: float, resolved: float) -> float:
    """Share of resolved (served or dropped) requests that met every SLO."""
    return 1.0 - misses / resolved if resolved else float("nan")


def _service_rows(table: pa.Table) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by("service").aggregate(
        [
            ("arrivals", "sum"),
            ("served", "sum"),
            ("dropped", "sum"),
            ("slo_misses", "sum"),
            ("latency_p99_ms", "max"),
            ("latency_p99_ms", "approximate_median"),
            ("ttft_p99_ms", "max"),
            ("tpot_p99_ms", "max"),
        ]
    )
    rows = []
    for row in sorted(grouped.to_pylist(), key=lambda r: r["service"]):
        resolved = row["served_sum"] + row["dropped_sum"]
        rows.append(
            {
                "service": row["service"],
                "arrivals": row["arrivals_sum"],
                "served": row["served_sum"],
                "dropped": row["dropped_sum"],
                "slo_misses": row["slo_misses_sum"],
                "attainment": _attainment(row["slo_misses_sum"], resolved),
                "latency_p99_ms_median_window": row["latency_p99_ms_approximate_median"],
                "latency_p99_ms_worst_window": row["latency_p99_ms_max"],
                "ttft_p99_ms_worst_window": row["ttft_p99_ms_max"],
                "tpot_p99_ms_worst_window": row["tpot_p99_ms_max"],
            }
        )
    return rows


def _region_rows(table: pa.Table) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(["service", "region"]).aggregate(
        [
            ("arrivals", "sum"),
            ("served", "sum"),
            ("dropped", "sum"),
            ("slo_misses", "sum"),
            ("rtt_ms", "mean"),
        ]
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
            "rtt_ms": row["rtt_ms_mean"],
        }
        for row in grouped.to_pylist()
    ]
    return sorted(rows, key=lambda r: (r["service"], r["attainment"], r["region"]))


def _transfer_rows(table: pa.Table) -> list[dict[str, Any]]:
    columns = table.select(["kind", "bytes", "duration_s", "state"]).to_pydict()
    kinds: dict[str, dict[str, Any]] = {}
    for kind, nbytes, duration, state in zip(*columns.values(), strict=True):
        row = kinds.setdefault(kind, {"kind": kind, "count": 0, "bytes": 0.0, "durations": []})
        row["count"] += 1
        if state == "delivered":
            row["bytes"] += nbytes
            row["durations"].append(duration)
    rows = []
    for kind in sorted(kinds):
        row = kinds[kind]
        durations = row.pop("durations")
        row["delivered"] = len(durations)
        row["time_mean_s"] = sum(durations) / len(durations) if durations else float("nan")
        row["time_p95_s"] = _quantile(durations, 0.95)
        rows.append(row)
    return rows


def _busiest_links(table: pa.Table, top: int = 5) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(["link", "a", "b"]).aggregate(
        [("utilisation", "mean"), ("utilisation", "max"), ("throughput_gbps", "mean")]
    )
    ordered = grouped.sort_by([("utilisation_mean", "descending"), ("link", "ascending")])
    return [
        {
            "link": row["link"],
            "direction": f"{row['a']}>{row['b']}",
            "utilisation_mean": row["utilisation_mean"],
            "utilisation_max": row["utilisation_max"],
            "throughput_gbps_mean": row["throughput_gbps_mean"],
        }
        for row in ordered.slice(0, top).to_pylist()
    ]


def _site_rows(table: pa.Table) -> tuple[list[dict[str, Any]], dict[str, float]]:
    columns = table.select(
        [
            "time_s",
            "site",
            "online",
            "total_accelerators",
            "utilisation",
            "energy_mwh",
            "co2_t",
            "cost_eur",
        ]
    ).to_pydict()
    acc: dict[str, dict[str, float]] = {}
    last_time: dict[str, float] = {}
    for time_s, site, online, total, util, energy, co2, cost in zip(*columns.values(), strict=True):
        span = time_s - last_time.get(site, 0.0)
        last_time[site] = time_s
        row = acc.setdefault(
            site,
            {
                "accelerators": 0.0,
                "busy_s": 0.0,
                "capacity_s": 0.0,
                "energy_mwh": 0.0,
                "co2_t": 0.0,
                "cost_eur": 0.0,
            },
        )
        row["accelerators"] = total
        row["busy_s"] += util * total * span
        row["capacity_s"] += total * span if online else 0.0
        row["energy_mwh"] += energy
        row["co2_t"] += co2
        row["cost_eur"] += cost
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
        "utilisation": busy / capacity if capacity else 0.0,
        "energy_mwh": sum(s["energy_mwh"] for s in sites),
        "co2_t": sum(s["co2_t"] for s in sites),
        "cost_eur": sum(s["cost_eur"] for s in sites),
    }
    return sites, totals


def _end_s(manifest: dict[str, Any]) -> float | None:
    value = manifest.get("end_s")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
