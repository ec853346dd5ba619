"""The trace columns the dashboard reads, in one place (adjust here when a schema changes),
and the check that a table has them with the right kinds of values.

``links`` and ``inference`` follow the planned schemas; pages hide their panels when a run
lacks them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from twin.dashboards.errors import malformed


@dataclass(frozen=True)
class SiteColumns:
    """``sites.arrow``: site × telemetry interval."""

    table: str = "sites"
    time: str = "time_s"
    site: str = "site"
    online: str = "online"
    total: str = "total_accelerators"
    busy: str = "busy_accelerators"
    queue: str = "queue_length"
    utilisation: str = "utilisation"
    power: str = "power_mw"
    power_cap: str = "power_cap_mw"
    """The cap in effect (runs written before it was recorded lack it)."""
    co2: str = "co2_t"
    energy: str = "energy_mwh"
    cost: str = "cost_eur"
    carbon: str = "carbon_gco2_per_kwh"
    price: str = "price_eur_per_mwh"


@dataclass(frozen=True)
class LinkColumns:
    """``links.arrow``: link direction × telemetry interval."""

    table: str = "links"
    time: str = "time_s"
    link: str = "link"
    a: str = "a"
    b: str = "b"
    capacity: str = "capacity_gbps"
    throughput: str = "throughput_gbps"
    utilisation: str = "utilisation"
    active_flows: str = "active_flows"


@dataclass(frozen=True)
class InferenceColumns:
    """``inference.arrow``: service × site × window."""

    table: str = "inference"
    time: str = "time_s"
    service: str = "service"
    site: str = "site"
    arrivals: str = "arrivals"
    served: str = "served"
    dropped: str = "dropped"
    latency_p99: str = "latency_p99_ms"
    latency_sketch_bins: str = "latency_sketch_bins"
    latency_sketch_counts: str = "latency_sketch_counts"
    slo_misses: str = "slo_misses"


@dataclass(frozen=True)
class TransferColumns:
    """``transfers.arrow``: one row per transfer."""

    table: str = "transfers"
    kind: str = "kind"
    source: str = "source"
    destination: str = "destination"
    bytes: str = "bytes"
    start: str = "start_s"
    end: str = "end_s"


@dataclass(frozen=True)
class RegionColumns:
    """``inference_regions.arrow``: service × demand region × telemetry interval."""

    table: str = "inference_regions"
    time: str = "time_s"
    service: str = "service"
    region: str = "region"
    arrivals: str = "arrivals"
    served: str = "served"
    dropped: str = "dropped"
    slo_misses: str = "slo_misses"
    rtt: str = "rtt_ms"


@dataclass(frozen=True)
class JobColumns:
    """``jobs.arrow``: one row per job."""

    table: str = "jobs"
    job: str = "job"
    tenant: str = "tenant"
    state: str = "state"
    site: str = "site"
    start: str = "start_s"
    wait: str = "wait_s"


@dataclass(frozen=True)
class FaultColumns:
    """``faults.arrow``: one row per fault (accelerator, site_outage, link_cut)."""

    table: str = "faults"
    kind: str = "kind"
    target: str = "target"
    sites: str = "sites"
    accelerator: str = "accelerator"
    cause: str = "cause"
    start: str = "start_s"
    end: str = "end_s"


SITE = SiteColumns()
LINK = LinkColumns()
INFERENCE = InferenceColumns()
TRANSFER = TransferColumns()
JOB = JobColumns()
REGION = RegionColumns()
FAULT = FaultColumns()


def link_id(a: str, b: str) -> str:
    """The trace's id of the configured link between ``a`` and ``b``."""
    return f"{a}~{b}"


@dataclass(frozen=True)
class JobField:
    """A column of the jobs table as the Explore page shows it (times in hours)."""

    id: str
    name: str
    source: str
    scale: float = 1.0
    numeric: bool = True


JOB_FIELDS: tuple[JobField, ...] = (
    JobField("job", "job", "job"),
    JobField("tenant", "tenant", "tenant", numeric=False),
    JobField("state", "state", "state", numeric=False),
    JobField("site", "site", "site", numeric=False),
    JobField("accelerator", "type", "accelerator", numeric=False),
    JobField("accelerators", "accelerators", "accelerators"),
    JobField("submit_h", "submit (h)", "submit_s", 1 / 3600),
    JobField("start_h", "start (h)", "start_s", 1 / 3600),
    JobField("wait_h", "wait (h)", "wait_s", 1 / 3600),
    JobField("run_h", "run (h)", "run_s", 1 / 3600),
    JobField("energy_mwh", "energy (MWh)", "energy_mwh"),
    JobField("co2_t", "CO2 (t)", "co2_t"),
    JobField("reason", "reason", "reason", numeric=False),
)

REQUIRED_TABLES = (SITE.table, JOB.table)
"""Tables without which a run is shown as malformed."""

# ---------------------------------------------------------------------------------------------
# What each table must hold
# ---------------------------------------------------------------------------------------------

NUMBER, TEXT = "numbers", "text"

REQUIRED: dict[str, dict[str, str]] = {
    SITE.table: {
        SITE.time: NUMBER,
        SITE.site: TEXT,
        SITE.online: NUMBER,
        SITE.total: NUMBER,
        SITE.busy: NUMBER,
        SITE.queue: NUMBER,
        SITE.utilisation: NUMBER,
        SITE.power: NUMBER,
        SITE.co2: NUMBER,
    },
    JOB.table: {JOB.tenant: TEXT, JOB.state: TEXT, JOB.wait: NUMBER, JOB.start: NUMBER},
    LINK.table: {
        LINK.time: NUMBER,
        LINK.link: TEXT,
        LINK.a: TEXT,
        LINK.b: TEXT,
        LINK.capacity: NUMBER,
        LINK.throughput: NUMBER,
        LINK.utilisation: NUMBER,
        LINK.active_flows: NUMBER,
    },
    INFERENCE.table: {
        INFERENCE.time: NUMBER,
        INFERENCE.service: TEXT,
        INFERENCE.site: TEXT,
        INFERENCE.latency_p99: NUMBER,
        INFERENCE.slo_misses: NUMBER,
    },
    TRANSFER.table: {TRANSFER.start: NUMBER, TRANSFER.end: NUMBER},
    REGION.table: {
        REGION.time: NUMBER,
        REGION.service: TEXT,
        REGION.region: TEXT,
        REGION.arrivals: NUMBER,
        REGION.served: NUMBER,
        REGION.dropped: NUMBER,
        REGION.slo_misses: NUMBER,
        REGION.rtt: NUMBER,
    },
    FAULT.table: {FAULT.kind: TEXT, FAULT.target: TEXT, FAULT.start: NUMBER, FAULT.end: NUMBER},
}
"""Per table the dashboard reads: the columns it needs and the kind of their values."""

OPTIONAL: dict[str, dict[str, str]] = {
    SITE.table: {SITE.energy: NUMBER, SITE.cost: NUMBER, SITE.carbon: NUMBER, SITE.price: NUMBER},
    JOB.table: {f.source: NUMBER if f.numeric else TEXT for f in JOB_FIELDS},
    TRANSFER.table: {TRANSFER.kind: TEXT},
    FAULT.table: {FAULT.sites: TEXT, FAULT.accelerator: TEXT, FAULT.cause: TEXT},
}
"""Columns shown when present: a wrong kind is malformed, absence is not."""


def kind_of(dtype: pa.DataType) -> str | None:
    """NUMBER, TEXT, both (a column of nulls: None), or the type's name if neither."""
    if pa.types.is_null(dtype):
        return None
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype):
        return NUMBER
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return TEXT
    return str(dtype)


def check_columns(table: str, schema: pa.Schema) -> None:
    """Raise ``malformed: <table>: …`` if a column the dashboard reads is missing or holds the
    wrong kind of values (cheap: the schema only)."""
    names = set(schema.names)
    if len(names) != len(schema.names):
        raise malformed(table, "duplicate column names")
    required = REQUIRED.get(table, {})
    for column, wanted in {**OPTIONAL.get(table, {}), **required}.items():
        if column not in names:
            if column in required:
                raise malformed(table, f"no column {column!r}")
            continue
        found = kind_of(schema.field(column).type)
        if found is not None and found != wanted:
            raise malformed(table, f"column {column!r} holds {found}, expected {wanted}")


__all__ = [
    "FAULT",
    "INFERENCE",
    "JOB",
    "JOB_FIELDS",
    "LINK",
    "NUMBER",
    "REQUIRED_TABLES",
    "SITE",
    "TEXT",
    "TRANSFER",
    "JobField",
    "check_columns",
    "kind_of",
    "link_id",
]
