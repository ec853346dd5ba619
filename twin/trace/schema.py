"""The Arrow schemas of a run directory: defined here once, documented from here in the README.

Every table's schema metadata carries ``twin.schema_version`` and ``twin.table``; every column
carries a ``description``. Times are float seconds since the scenario's ``start``.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1"


def _col(name: str, kind: pa.DataType, description: str, nullable: bool = False) -> pa.Field:
    return pa.field(name, kind, nullable=nullable, metadata={"description": description})


def _table(name: str, description: str, *fields: pa.Field) -> pa.Schema:
    return pa.schema(
        list(fields),
        metadata={
            "twin.schema_version": SCHEMA_VERSION,
            "twin.table": name,
            "description": description,
        },
    )


F64, I64, I32, STR, BOOL = pa.float64(), pa.int64(), pa.int32(), pa.string(), pa.bool_()
I16 = pa.int16()

EVENTS = _table(
    "events",
    "one row per discrete event of the model",
    _col("time_s", F64, "simulated time of the event"),
    _col(
        "kind",
        STR,
        "submit, hold, place, stage, start, completed, failed, cancel, reject, site_online, "
        "transfer_start, transfer_end; under faults also interrupt_accelerator_failure and "
        "interrupt_site_outage (value: compute lost, s), move (a job placed again after an "
        "outage), site_down (value: jobs interrupted), site_up, link_down, link_up; under a "
        "start policy defer (site: the one chosen, value: the delay, s)",
    ),
    _col("site", STR, "site concerned, if any", nullable=True),
    _col("job", I64, "job concerned, if any", nullable=True),
    _col("link", STR, "link concerned, if any", nullable=True),
    _col("value", F64, "accelerators for job events, bytes for transfer events", nullable=True),
)

JOBS = _table(
    "jobs",
    "one row per training/batch job, written when it ends (or at the end of the run)",
    _col("job", I64, "job id, in order of submission"),
    _col("tenant", STR, "tenant class"),
    _col(
        "state",
        STR,
        "completed, failed, cancelled or rejected; a job still in the system when the run ends "
        "has the state it had then: submitted (held until a site that can run it opens), "
        "staging (its dataset being copied to the site), queued, held (out of the queue: its "
        "access programme's quota is spent until the next period) or running",
    ),
    _col("reason", STR, "why a job was rejected or cancelled", nullable=True),
    _col("site", STR, "site it was placed on", nullable=True),
    _col("accelerator", STR, "accelerator type it ran on", nullable=True),
    _col("accelerators", I32, "accelerators it holds while running"),
    _col("submit_s", F64, "submission time"),
    _col("start_s", F64, "start of its (first) run", nullable=True),
    _col("end_s", F64, "end of its run (or rejection/cancellation time)", nullable=True),
    _col(
        "wait_s",
        F64,
        "time waiting for a site and in its queue before its first start (not staging)",
        nullable=True,
    ),
    _col("staging_s", F64, "time waiting for its dataset to be copied to the site", nullable=True),
    _col(
        "run_s", F64, "end_s − start_s (interruptions and requeued waits included)", nullable=True
    ),
    _col("work_s", F64, "run time on a speed-1.0 accelerator"),
    _col("walltime_s", F64, "requested walltime on its accelerator", nullable=True),
    _col("dataset_gb", F64, "dataset size"),
    _col("origin", STR, "site where the dataset lives", nullable=True),
    _col("energy_mwh", F64, "facility energy of its accelerators while running (× PUE)"),
    _col("co2_t", F64, "CO2 of that energy at the site's grid intensity"),
    _col("cost_eur", F64, "electricity cost of that energy"),
    _col(
        "restarts", I32, "times it was interrupted (accelerator failure, site outage) and requeued"
    ),
    _col(
        "busy_s",
        F64,
        "time it held its accelerators, all runs: useful + lost + checkpoint + restart",
    ),
    _col("useful_s", F64, "of busy_s: compute that counted"),
    _col(
        "lost_work_s", F64, "of busy_s: compute lost to interruptions (since the last checkpoint)"
    ),
    _col("checkpoint_s", F64, "of busy_s: stalled writing checkpoints"),
    _col("restart_s", F64, "of busy_s: restart overheads after interruptions"),
    _col("goodput", F64, "useful_s / busy_s", nullable=True),
    _col(
        "trace_job",
        I64,
        "its job number in the trace it was replayed from (null: a synthetic job)",
        nullable=True,
    ),
    _col(
        "programme",
        STR,
        "the access programme its tenant belongs to (null: none, or a run written before "
        "access programmes)",
        nullable=True,
    ),
    _col(
        "preemptions",
        I32,
        "of restarts: times a programme reclaiming its reserved accelerators preempted it "
        "(null: a run written before access programmes)",
        nullable=True,
    ),
    _col(
        "spend_eur",
        F64,
        "what its runs paid: accelerator-hours × each run's price (its programme's, or the "
        "list price for an overflow run or a tenant in none); null without access pricing",
        nullable=True,
    ),
    _col(
        "deadline_s",
        F64,
        "a deferrable job's latest start (submission + slack); null: not deferrable",
        nullable=True,
    ),
    _col(
        "deferred_s",
        F64,
        "how long the start policy held it before handing it to a site (in wait_s too); "
        "null: not held",
        nullable=True,
    ),
)

SITES = _table(
    "sites",
    "one row per site and telemetry interval, stamped at the interval's end",
    _col("time_s", F64, "end of the interval"),
    _col("site", STR, "site id"),
    _col("online", BOOL, "whether the site is open"),
    _col("total_accelerators", I64, "accelerators installed"),
    _col("busy_accelerators", I64, "accelerators running jobs at time_s"),
    _col("running_jobs", I64, "jobs running at time_s"),
    _col("queue_length", I64, "jobs queued at time_s"),
    _col("queued_accelerators", I64, "accelerators requested by queued jobs at time_s"),
    _col("utilisation", F64, "busy accelerator-seconds / installed accelerator-seconds"),
    _col("power_mw", F64, "facility power at time_s"),
    _col("mean_power_mw", F64, "mean facility power over the interval"),
    _col("energy_mwh", F64, "facility energy over the interval"),
    _col("co2_t", F64, "CO2 over the interval"),
    _col("cost_eur", F64, "electricity cost over the interval"),
    _col("carbon_gco2_per_kwh", F64, "grid carbon intensity at time_s"),
    _col("price_eur_per_mwh", F64, "electricity price at time_s"),
    _col(
        "power_cap_mw",
        F64,
        "facility power cap in effect at time_s (sites[].power_mw may follow a schedule); "
        "null in runs written before it was recorded",
        nullable=True,
    ),
    _col(
        "over_cap_s",
        F64,
        "time in the interval the draw was above the cap (a cap that fell below it: see "
        "sites[].power_cap_policy); null in runs written before it was recorded",
        nullable=True,
    ),
)

TRANSFERS = _table(
    "transfers",
    "one row per data transfer, written when it is delivered (or at the end of the run)",
    _col("transfer", I64, "transfer id, in order of start"),
    _col("kind", STR, "dataset (staging for a job), checkpoint or bulk (replayed ones too)"),
    _col("job", I64, "job it serves, if any", nullable=True),
    _col("source", STR, "node the data leaves"),
    _col("destination", STR, "node the data goes to"),
    _col("bytes", F64, "bytes to move"),
    _col("start_s", F64, "when the transfer started"),
    _col("end_s", F64, "when its last byte arrived", nullable=True),
    _col("duration_s", F64, "end_s − start_s", nullable=True),
    _col("latency_s", F64, "one-way latency of its route"),
    _col(
        "mean_gbps", F64, "bytes × 8 over the sending time (start to last bit sent)", nullable=True
    ),
    _col("route", STR, "nodes crossed, joined by '>'"),
    _col("state", STR, "delivered, or in_flight at the end of the run"),
    _col("reroutes", I64, "times it moved to a new route (a cut on its route)"),
    _col("stalled_s", F64, "time it waited with no route (a cut left none)"),
    _col(
        "label",
        STR,
        "its label in the replayed transfer list (workloads.transfers.trace); null for "
        "synthetic and model transfers",
        nullable=True,
    ),
)

LINKS = _table(
    "links",
    "one row per link direction and telemetry interval, stamped at the interval's end",
    _col("time_s", F64, "end of the interval"),
    _col("link", STR, "link id 'a~b' as configured (both directions share it), or access:<site>"),
    _col("a", STR, "node the traffic of this row leaves"),
    _col("b", STR, "node the traffic of this row enters"),
    _col("capacity_gbps", F64, "capacity of this direction at time_s (0 while the link is cut)"),
    _col("throughput_gbps", F64, "mean throughput over the interval"),
    _col("utilisation", F64, "throughput / capacity (its capacity when up, for a cut link)"),
    _col("active_flows", I64, "flows crossing it at time_s"),
)


def _sketch_columns(span: str) -> tuple[pa.Field, ...]:
    """The latency sketch columns of inference (``span`` window) and inference_regions
    (interval): bins and counts of TTFT, TPOT, latency, TBT and scheduling delay."""
    return tuple(
        _col(
            f"{metric}_sketch_{part}",
            pa.list_(kind),
            f"{label} sketch: {what} (fidelity request; null: none in the {span})",
            nullable=True,
        )
        for metric, label, unit in (
            ("ttft", "TTFT (llm)", "requests"),
            ("tpot", "TPOT (llm; one-token outputs have none)", "requests"),
            ("latency", "end-to-end latency", "requests"),
            (
                "tbt",
                "time between tokens (llm; every gap between two tokens produced; counted per "
                "site, as it is a property of the replicas' iterations: null in "
                "inference_regions)",
                "gaps",
            ),
            ("sched_delay", "scheduling delay (llm)", "requests"),
        )
        for part, kind, what in (
            ("bins", I16, f"the log buckets holding a value ({unit}), ascending"),
            ("counts", I32, f"{unit} in each bucket of {metric}_sketch_bins"),
        )
    )


def _disaggregation_columns() -> tuple[pa.Field, ...]:
    """The prefill pool and KV transfers of a disaggregated llm service (null: co-located,
    or a run written before they existed); ``replicas``, ``busy`` and ``mean_batch`` are
    then the decode pool's, ``arrivals`` those at the site's prefill pool and ``served``
    the completions at its decode pool."""
    what = "disaggregated llm; null: co-located"
    return (
        _col("prefill_replicas", I64, f"prefill replicas at the site ({what})", nullable=True),
        _col(
            "prefill_busy",
            F64,
            f"share of the window the prefill replicas were working ({what})",
            nullable=True,
        ),
        _col(
            "kv_transfers",
            I64,
            f"KV caches the site's prefill pool sent to a decode pool in the window ({what})",
            nullable=True,
        ),
        _col(
            "kv_transfer_bytes",
            F64,
            f"their bytes: KV bytes per token × prompt tokens ({what})",
            nullable=True,
        ),
        _col(
            "kv_transfer_mean_ms",
            F64,
            "their mean transfer time (queue behind earlier transfers + serialisation + "
            f"latency), prefill end to KV arrival ({what})",
            nullable=True,
        ),
        _col("kv_transfer_p99_ms", F64, f"99th percentile of that time ({what})", nullable=True),
    )


SKETCHES = (
    "A sketch is a log-bucket histogram: bucket i holds (γ^(i−1), γ^i] s, γ = 1.01/0.99, i from "
    "−690 (1 µs and below) to 576 (1e5 s and above); sketches merge by adding counts, and a "
    "percentile read from merged ones is within 1 % (twin.trace.sketches)"
)


INFERENCE = _table(
    "inference",
    "one row per service, site and window; latencies include the region's network round "
    "trip. " + SKETCHES,
    _col("time_s", F64, "end of the window"),
    _col("service", STR, "service id"),
    _col("site", STR, "site id"),
    _col("replicas", I64, "replicas serving at the site"),
    _col("arrivals", I64, "requests that arrived in the window"),
    _col("served", I64, "requests completed in the window"),
    _col("dropped", I64, "requests refused in the window (queue limit, timeout, no room)"),
    _col("in_system", I64, "requests queued or in service at the window's end"),
    _col("ttft_p50_ms", F64, "median time to first token (llm)", nullable=True),
    _col("ttft_p99_ms", F64, "99th percentile time to first token (llm)", nullable=True),
    _col(
        "tpot_p50_ms",
        F64,
        "median time per output token (llm): a request's (finish − first token) / "
        "(output − 1), its mean gap after the first token; none for one-token outputs",
        nullable=True,
    ),
    _col("tpot_p99_ms", F64, "99th percentile time per output token (llm)", nullable=True),
    _col("latency_p50_ms", F64, "median end-to-end latency", nullable=True),
    _col("latency_p95_ms", F64, "95th percentile end-to-end latency", nullable=True),
    _col("latency_p99_ms", F64, "99th percentile end-to-end latency", nullable=True),
    _col("ttft_mean_ms", F64, "mean time to first token (llm; fidelity request)", nullable=True),
    _col("tpot_mean_ms", F64, "mean time per output token (llm; fidelity request)", nullable=True),
    _col("latency_mean_ms", F64, "mean end-to-end latency (fidelity request)", nullable=True),
    _col(
        "tbt_p50_ms",
        F64,
        "median time between tokens (llm; fidelity request): over every gap between two "
        "output tokens produced in the window (a vLLM prefill stall, a preemption or a swap "
        "makes one long gap), read from tbt_sketch (within 1 %); no round trip",
        nullable=True,
    ),
    _col("tbt_p99_ms", F64, "99th percentile time between tokens (as tbt_p50_ms)", nullable=True),
    _col("tbt_mean_ms", F64, "mean time between tokens (exact; as tbt_p50_ms)", nullable=True),
    _col(
        "sched_delay_p50_ms",
        F64,
        "median scheduling delay (llm; fidelity request): arrival at the replica to its "
        "first admission into a batch, of the requests served in the window; no round trip "
        "(disaggregated: the wait at the prefill pool plus the wait at the decode pool)",
        nullable=True,
    ),
    _col("sched_delay_p99_ms", F64, "99th percentile scheduling delay", nullable=True),
    _col("sched_delay_mean_ms", F64, "mean scheduling delay", nullable=True),
    *_sketch_columns("window"),
    _col("slo_misses", I64, "completed requests that missed an SLO, plus dropped ones"),
    _col("mean_batch", F64, "mean requests per iteration (llm)", nullable=True),
    _col(
        "preemptions",
        I64,
        "running requests preempted for want of KV blocks in the window (llm with "
        "kv_admission paged; null otherwise, or a run written before the column)",
        nullable=True,
    ),
    _col("busy", F64, "share of the window the replicas were working"),
    _col(
        "arrival_prompt_tokens",
        I64,
        "Σ prompt tokens of the requests that arrived in the window (llm; fidelity request)",
        nullable=True,
    ),
    _col(
        "arrival_output_tokens",
        I64,
        "Σ output tokens of the requests that arrived in the window (llm; fidelity request)",
        nullable=True,
    ),
    *_disaggregation_columns(),
)

INFERENCE_REGIONS = _table(
    "inference_regions",
    "one row per service, demand region and telemetry interval. " + SKETCHES,
    _col("time_s", F64, "end of the interval"),
    _col("service", STR, "service id"),
    _col("region", STR, "region id"),
    _col("arrivals", I64, "requests sent by the region"),
    _col("served", I64, "its requests completed"),
    _col("dropped", I64, "its requests refused"),
    _col("slo_misses", I64, "its requests that missed an SLO or were dropped"),
    _col("rtt_ms", F64, "round trip to its nearest hosting site"),
    *_sketch_columns("interval"),
    _col(
        "in_system",
        I64,
        "its requests still in the system (waiting or running) at the interval's end: "
        "arrivals − served − dropped, summed over the intervals so far",
        nullable=True,
    ),
)

FAULTS = _table(
    "faults",
    "one row per fault (accelerator failure, site outage, link cut), written when it begins",
    _col("fault", I64, "fault id, in order of start"),
    _col("kind", STR, "accelerator, site_outage or link_cut"),
    _col("target", STR, "site id, country:XX for a country's grid event, or link id a~b"),
    _col(
        "sites",
        STR,
        "the sites it took down, comma-separated (site outages; the site of a failed accelerator)",
        nullable=True,
    ),
    _col("accelerator", STR, "accelerator type that failed (accelerator faults)", nullable=True),
    _col("cause", STR, "scheduled or random"),
    _col("start_s", F64, "when it began"),
    _col("end_s", F64, "when it ends: repair or restoration (may be after the horizon)"),
    _col("duration_s", F64, "end_s − start_s"),
    _col("jobs_hit", I64, "running jobs it interrupted"),
    _col("lost_gpu_h", F64, "accelerator-hours of compute those jobs lost"),
    _col("flows_rerouted", I64, "flows moved to another route (link cuts)"),
    _col("flows_stalled", I64, "flows left with no route, waiting for one (link cuts)"),
    _col("bytes_rerouted", F64, "bytes those rerouted flows still had to send"),
    _col("bytes_stalled", F64, "bytes those stalled flows still had to send"),
)

TABLES: dict[str, pa.Schema] = {
    "events": EVENTS,
    "jobs": JOBS,
    "sites": SITES,
    "transfers": TRANSFERS,
    "links": LINKS,
    "inference": INFERENCE,
    "inference_regions": INFERENCE_REGIONS,
    "faults": FAULTS,
}
"""Every table a run directory may hold, by name (file ``<name>.arrow``)."""

# ---------------------------------------------------------------- normalised workloads
# What ``twin import`` writes and scenarios replay (``workloads.*.trace`` with format
# ``arrow``): one table per workload kind, times in float seconds from the trace's own zero
# (its first record, unless the format has an absolute origin), before any alignment to a
# scenario's start.

WORKLOAD_JOBS = _table(
    "workload_jobs",
    "a training/batch workload: one row per job of the trace, in order of submission",
    _col("job", I64, "the trace's own job number (SWF field 1; a row number where none)"),
    _col("submit_s", F64, "submission time, s from the trace's zero"),
    _col("accelerators", I64, "accelerators it asks for (after the format's size mapping)"),
    _col("duration_s", F64, "run time on a speed-1.0 accelerator, s"),
    _col(
        "requested_s",
        F64,
        "walltime it requested, s (the format's rule fills it where the trace does not say)",
    ),
    _col(
        "tenant",
        STR,
        "tenant class the trace names (csv); null: the replay's tenant mapping decides",
        nullable=True,
    ),
    _col("user", STR, "the trace's user (or group) before mapping, if it has one", nullable=True),
    _col(
        "status",
        STR,
        "how the job ended in the trace: completed, failed, cancelled or unknown",
    ),
    _col("line", I64, "the line of the trace file it came from (1 = the first line)"),
    _col(
        "accelerator_types",
        STR,
        "accelerator types it may run on, separated by | (Alibaba gpu_spec); null: any",
        nullable=True,
    ),
)

WORKLOAD_REQUESTS = _table(
    "workload_requests",
    "an inference workload: one row per request of the trace, in order of arrival",
    _col("arrival_s", F64, "arrival time, s from the trace's zero"),
    _col("prompt_tokens", I64, "prompt length, tokens (0 where the trace has none)"),
    _col("output_tokens", I64, "output length, tokens (0 where the trace has none)"),
    _col(
        "service_s",
        F64,
        "service time measured in the trace, s (the LoRA trace's execution time)",
        nullable=True,
    ),
    _col("kind", STR, "request type in the trace (e.g. TXT_2_IMG), if it has one", nullable=True),
    _col("line", I64, "the line of the trace file it came from"),
)

WORKLOAD_TRANSFERS = _table(
    "workload_transfers",
    "a list of data transfers: one row per transfer, in order of start",
    _col("start_s", F64, "when the transfer starts, s from the trace's zero"),
    _col("source", STR, "site or PoP id the bytes leave from"),
    _col("destination", STR, "site or PoP id they go to"),
    _col("bytes", F64, "bytes to move"),
    _col("label", STR, "the user's label, carried to transfers.arrow", nullable=True),
    _col("line", I64, "the line of the file it came from"),
)

WORKLOADS: dict[str, pa.Schema] = {
    "jobs": WORKLOAD_JOBS,
    "requests": WORKLOAD_REQUESTS,
    "transfers": WORKLOAD_TRANSFERS,
}
"""The normalised workload tables ``twin import`` writes, by kind (``twin.table`` in their
metadata says which one a file holds)."""
