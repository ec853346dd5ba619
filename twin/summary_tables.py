"""The tables ``twin run`` and ``twin summary`` print: a run's summary rendered with rich."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.config.units import format_duration
from twin.trace.summary import Summary


def print_summary(console: Console, result: Summary) -> None:
    """Print a run's summary as tables on ``console``."""

    reached = result.simulated_s if result.simulated_s is not None else result.horizon_s
    head = f"{result.scenario}: {format_duration(reached)} simulated"
    if reached < result.horizon_s:
        head += f" of {format_duration(result.horizon_s)}"
    if result.wall_time_s is not None:
        head += f" in {result.wall_time_s:.1f} s"
    status = "" if result.status == "complete" else f"  [bold red]({result.status})[/]"
    console.print(f"[bold]{head}[/]{status}")
    made = [f"seed {result.seed}"] if result.seed is not None else []
    made += [f"what-ifs: {', '.join(result.whatifs)}"] if result.whatifs else []
    made += [f"overrides: {' '.join(result.overrides)}"] if result.overrides else []
    if made:
        console.print(escape(" · ".join(made)), highlight=False)
    states = Table(*result.jobs_by_state, title="jobs by state")
    states.add_row(*(f"{n:,}" for n in result.jobs_by_state.values()))
    console.print(states)
    _print_scheduling(console, result)
    _print_deferral(console, result)
    sites = Table(
        "site", "accelerators", "utilisation", "energy MWh", "CO2 t", "cost €", title="sites"
    )
    for row in sorted(result.sites, key=lambda r: -r["accelerators"]):
        sites.add_row(
            row["site"],
            f"{row['accelerators']:,}",
            f"{100 * row['utilisation']:.1f}%",
            f"{row['energy_mwh']:,.1f}",
            f"{row['co2_t']:,.1f}",
            f"{row['cost_eur']:,.0f}",
        )
    totals = result.totals
    sites.add_row(
        "[bold]all[/]",
        f"{sum(r['accelerators'] for r in result.sites):,}",
        f"{100 * totals['utilisation']:.1f}%",
        f"{totals['energy_mwh']:,.1f}",
        f"{totals['co2_t']:,.1f}",
        f"{totals['cost_eur']:,.0f}",
    )
    console.print(sites)
    if result.transfers:
        times = [row[f"time_{q}_s"] for row in result.transfers for q in ("mean", "p95")]
        unit, scale = ("h", 3600.0) if max(times, default=0.0) >= 360 else ("s", 1.0)
        transfers = Table(
            "kind",
            "transfers",
            "delivered",
            "TB moved",
            f"time {unit}: mean",
            "p95",
            title="data transfers",
        )
        for row in result.transfers:
            transfers.add_row(
                row["kind"],
                f"{row['count']:,}",
                f"{row['delivered']:,}",
                f"{row['bytes'] / 1e12:,.2f}",
                _in_unit(row["time_mean_s"], scale),
                _in_unit(row["time_p95_s"], scale),
            )
        console.print(transfers)
    if result.busiest_links:
        links = Table(
            "link", "direction", "mean util.", "peak util.", "mean Gbps", title="busiest links"
        )
        for row in result.busiest_links:
            links.add_row(
                row["link"],
                row["direction"],
                f"{100 * row['utilisation_mean']:.1f}%",
                f"{100 * row['utilisation_max']:.1f}%",
                f"{row['throughput_gbps_mean']:,.1f}",
            )
        console.print(links)
    if result.services:
        # runs without sketches (fluid fidelity, older runs) still have their window p99s
        windows = any(_unsketched(row) for row in result.services)
        sketched = not all(_unsketched(row) for row in result.services)
        services = Table(
            "service",
            "requests",
            "dropped",
            "SLO met",
            *(["latency p50 / p99", "TTFT p50 / p99", "TPOT p50 / p99"] if sketched else []),
            *(["p99 latency (median / worst window)"] if windows else []),
            title="inference (p50 / p99 over the whole run)" if sketched else "inference",
        )
        for row in result.services:
            services.add_row(
                row["service"],
                f"{row['arrivals']:,}",
                f"{row['dropped']:,}",
                _percent(row["attainment"]),
                *(_p50_p99(row, "latency", "ttft", "tpot") if sketched else []),
                *(
                    [
                        f"{_ms(row['latency_p99_ms_median_window'])} / "
                        f"{_ms(row['latency_p99_ms_worst_window'])}"
                    ]
                    if windows
                    else []
                ),
            )
        console.print(services)
        _print_objectives(console, result)
        _print_token_timing(console, result)
    measured = any(v == v for r in result.service_sites for k, v in r.items() if k.endswith("_ms"))
    if measured and len(result.service_sites) > len(result.services):
        by_site = Table(
            "service",
            "site",
            "latency p50 / p99",
            "TTFT p50 / p99",
            "TPOT p50 / p99",
            title="inference by site (p50 / p99 over the whole run)",
        )
        for row in result.service_sites:
            by_site.add_row(row["service"], row["site"], *_p50_p99(row, "latency", "ttft", "tpot"))
        console.print(by_site)
    if result.regions:
        regions = Table(
            "service",
            "region",
            "requests",
            "SLO met",
            "RTT",
            "latency p50 / p99",
            title="inference by region (worst 5 per service; --json for all)",
        )
        for service in sorted({row["service"] for row in result.regions}):
            for row in [r for r in result.regions if r["service"] == service][:5]:
                regions.add_row(
                    service,
                    row["region"],
                    f"{row['arrivals']:,}",
                    _percent(row["attainment"]),
                    _ms(row["rtt_ms"]),
                    *_p50_p99(row, "latency"),
                )
        console.print(regions)
    if result.faults:
        _print_faults(console, result)


LABEL = {"ttft": "TTFT", "tpot": "TPOT", "latency": "latency", "tbt": "TBT"}
ORDER = ("ttft", "tpot", "latency")


def _print_objectives(console: Console, result: Summary) -> None:
    """Each service's SLOs as defined: the metric's p50 and p99 over the run and the share
    of requests within the threshold (from the sketches, within their 1 % buckets)."""
    rows = [
        (row, metric, row["slo"][metric])
        for row in result.services
        for metric in ORDER
        if metric in row.get("slo", {})
    ]
    if not rows:
        return
    table = Table(
        "service", "objective", "p50", "p99", "within", title="SLOs (each metric on its own)"
    )
    for row, metric, threshold in rows:
        share = row.get("within_slo", {}).get(metric)
        table.add_row(
            row["service"],
            f"{LABEL[metric]} ≤ {_ms(1000 * threshold)}",
            _ms(row.get(f"{metric}_p50_ms")),
            _ms(row.get(f"{metric}_p99_ms")),
            "-" if share is None else _percent(share),
        )
    console.print(table)


def _print_token_timing(console: Console, result: Summary) -> None:
    """How the llm services' replicas pace their tokens: time between tokens and scheduling
    delay (whole-run p50 / p99 from the sketches), and whether prefill is disaggregated."""
    rows = [r for r in result.services if _measured(r, "tbt") or _measured(r, "sched_delay")]
    if not rows:
        return
    table = Table(
        "service",
        "serving",
        "TBT p50 / p99",
        "scheduling delay p50 / p99",
        title="llm token timing (p50 / p99 over the whole run)",
    )
    for row in rows:
        table.add_row(
            escape(row["service"]),
            row.get("serving", "co-located"),
            *_p50_p99(row, "tbt", "sched_delay"),
        )
    console.print(table)


def _measured(row: dict, metric: str) -> bool:
    """Whether ``row`` has a whole-run p50 of ``metric`` (NaN or absent: none)."""
    value = row.get(f"{metric}_p50_ms")
    return value is not None and value == value


def _print_scheduling(console: Console, result: Summary) -> None:
    """The standard scheduling figures per tenant and over all (waits and slowdowns of the
    jobs that started, in hours), what each tenant was granted, Jain's index, and the
    access programmes' books."""
    table = Table(
        "tenant",
        "submitted",
        "started",
        "wait h: mean",
        "p95",
        "p99",
        "max",
        "slowdown",
        title="scheduling (waits and bounded slowdowns (τ 10 s) of started jobs)",
    )
    rows = [(escape(row["tenant"]), row) for row in result.tenants]
    everyone = _all_tenants(result)
    rows += [("[bold]all[/]", everyone)] if result.waits else []
    for label, row in rows:
        table.add_row(
            label,
            f"{row['submitted']:,}",
            f"{row['started']:,}",
            *(_in_hours(row[f"wait_{q}_s"]) for q in ("mean", "p95", "p99", "max")),
            _ratio(row["bounded_slowdown_mean"]),
        )
    console.print(table)
    priced = any(row.get("spend_eur") == row.get("spend_eur") for row in result.tenants)
    grants = Table(
        "tenant",
        "accelerator-h",
        "share",
        "rejected",
        "cancelled",
        *(["spend €"] if priced else []),
        title="what each tenant was granted",
    )
    total = everyone.get("accelerator_hours", 0.0)
    for label, row in rows:
        grants.add_row(
            label,
            _amount(row["accelerator_hours"]),
            _percent(row["accelerator_hours"] / total if total else float("nan")),
            f"{row['rejected']:,}",
            f"{row['cancelled']:,}",
            *([_euros(row["spend_eur"])] if priced else []),
        )
    console.print(grants)
    if len(result.tenants) > 1:
        console.print(
            f"Jain's fairness index over tenants: {_ratio(result.jain_index)} of service per "
            f"unit of demand (accelerator-hours granted / asked), "
            f"{_ratio(result.jain_index_by_weight)} of accelerator-hours per unit of "
            "fair-share weight"
        )
    if result.programmes:
        books = Table(
            "programme",
            "tenants",
            "reserved",
            "entitled accelerator-h",
            "granted accelerator-h",
            "quota / most in a period",
            "spend €",
            title="access programmes",
        )
        for row in result.programmes:
            books.add_row(
                escape(row["programme"]),
                escape(", ".join(row["tenants"])),
                f"{row['reserved_accelerators']:,}",
                f"{row['entitled_accelerator_hours']:,.0f}",
                f"{row['granted_accelerator_hours']:,.0f}",
                f"{_whole(row['quota_accelerator_hours'])} / "
                f"{_whole(row['most_charged_in_a_period'])}",
                _euros(row["spend_eur"]),
            )
        console.print(books)


def _print_deferral(console: Console, result: Summary) -> None:
    """Deferrable jobs: held how long, deadlines missed, the grid their energy came from."""
    books = result.deferral
    if not books:
        return
    missed = f"{books['deadline_missed']:,}"
    if books["deadline_missed_unstarted"]:
        missed += f" ({books['deadline_missed_unstarted']:,} not started by the end)"
    table = Table("deferrable jobs", "", title="deferral (by the start policy)")
    for label, value in (
        ("deferrable / held by the policy", f"{books['deferrable']:,} / {books['deferred']:,}"),
        (
            "held h: mean / max",
            f"{_in_hours(books['deferred_mean_s'])} / {_in_hours(books['deferred_max_s'])}",
        ),
        ("wait h: mean (time held included)", _in_hours(books["wait_mean_s"])),
        ("deadlines missed", missed),
        ("energy MWh / CO2 t", f"{_amount(books['energy_mwh'])} / {_amount(books['co2_t'])}"),
        ("gCO2/kWh (fair across run ends)", _amount(books["gco2_per_kwh"])),
        ("€/MWh", _amount(books["eur_per_mwh"])),
    ):
        table.add_row(label, value)
    console.print(table)


def _all_tenants(result: Summary) -> dict:
    """The over-all row: the waits of every started job, the tenants' grants added up."""
    tenants = result.tenants
    spends = [row["spend_eur"] for row in tenants if row["spend_eur"] == row["spend_eur"]]
    return {
        **result.waits,
        "rejected": sum(row["rejected"] for row in tenants),
        "cancelled": sum(row["cancelled"] for row in tenants),
        "accelerator_hours": sum(row["accelerator_hours"] for row in tenants),
        "spend_eur": sum(spends) if spends else float("nan"),
    }


def _in_hours(seconds: float) -> str:
    return _in_unit(seconds, 3600.0)


def _amount(value: float) -> str:
    """Whole numbers with separators; three significant digits below 100."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _whole(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"


def _euros(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"


def _ratio(value: float) -> str:
    return "-" if value != value else f"{value:,.2f}"


def _print_faults(console: Console, result: Summary) -> None:
    """What broke and what it cost (runs with faults)."""
    faults = result.faults
    table = Table("faults", "", title="faults and what they cost")
    table.add_row(
        "accelerator failures / site outages / link cuts",
        f"{faults['accelerator_failures']:,} / {faults['site_outages']:,} / "
        f"{faults['link_cuts']:,}",
    )
    table.add_row(
        "jobs interrupted (restarts)", f"{faults['jobs_interrupted']:,} ({faults['restarts']:,})"
    )
    table.add_row("GPU-hours busy", f"{faults['busy_gpu_h']:,.1f}")
    table.add_row("  lost since the last checkpoint", f"{faults['lost_gpu_h']:,.1f}")
    table.add_row("  writing checkpoints", f"{faults['checkpoint_gpu_h']:,.1f}")
    table.add_row("  restarting", f"{faults['restart_gpu_h']:,.1f}")
    table.add_row("goodput (useful / busy)", _percent(faults["goodput"]))
    console.print(table)
    if faults["link_cuts"]:
        console.print(
            f"link cuts: {faults['flows_rerouted']:,} flows rerouted "
            f"({faults['bytes_rerouted'] / 1e12:,.3f} TB left to send), "
            f"{faults['flows_stalled']:,} stalled with no route "
            f"({faults['bytes_stalled'] / 1e12:,.3f} TB)"
        )
    if result.availability:
        sites = Table("site", "outages", "hours down", "availability", title="site availability")
        for row in result.availability:
            sites.add_row(
                escape(row["site"]),
                f"{row['outages']:,}",
                f"{row['down_h']:,.1f}",
                _percent(row["availability"]),
            )
        console.print(sites)


def _percent(share: float) -> str:
    return "-" if share != share else f"{100 * share:.2f}%"


def _ms(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _unsketched(row: dict) -> bool:
    """Whether a service row has window p99 latencies but no sketch of them."""
    sketched = row["latency_p99_ms"] == row["latency_p99_ms"]
    median = row["latency_p99_ms_median_window"]
    return not sketched and median is not None and median == median


def _p50_p99(row: dict, *metrics: str) -> list[str]:
    """``p50 / p99`` of each of ``metrics`` in ``row`` (its ``<metric>_p50_ms`` keys)."""
    return [f"{_ms(row[f'{m}_p50_ms'])} / {_ms(row[f'{m}_p99_ms'])}" for m in metrics]


def _in_unit(seconds: float, scale: float) -> str:
    """Seconds in the column's unit (hours: scale 3600), NaN as '-'."""
    if seconds != seconds:  # NaN: nothing to time
        return "-"
    return f"{seconds / scale:,.2f}" if scale > 1 else f"{seconds:,.1f}"


def print_metrics(console: Console, values: dict[str, float] | None) -> None:
    """The metric registry (``values`` None) or one run's metric values."""
    from twin.analysis import METRICS, parse_metric

    if values is None:
        table = Table("metric", "unit", "better", "selector", "what", title="run metrics")
        for family, metric in METRICS.items():
            selector = f"[{metric.selector}=…]" if metric.selector else ""
            table.add_row(
                escape(family),
                metric.unit,
                metric.better or "",
                escape(selector),
                metric.description,
            )
        console.print(table)
        return
    table = Table("metric", "value", "unit", title="metrics of the run")
    for name, value in values.items():
        table.add_row(escape(name), f"{value:.6g}", parse_metric(name).unit)
    console.print(table)
