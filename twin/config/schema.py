"""The scenario schema: pydantic models for everything a twin run is configured by.

Every model forbids unknown keys and is frozen once validated. Quantities carry their unit in
the field name (``power_mw``, ``capacity_gbps``, ``duration_s``). Durations accept ``7d``,
``12h``, ``30m`` or plain seconds. Every number must be finite and within a physically
meaningful range (the bounds are in the fields below and in the JSON Schema); dates must be
real dates between 1900 and 2200. Cross-references (pool types, link endpoints, tenant names)
are checked in :mod:`twin.config.validate`, and the size of the run a scenario asks for in
:mod:`twin.config.budget`, so that every problem is reported with its path.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from twin.config.schema_access import Access
from twin.config.schema_base import (
    MAX_POOL,
    Distribution,
    Duration,
    Fraction,
    HourlyProfile,
    Identifier,
    Name,
    StrictModel,
    Text,
    Timestamp,
    Weight,
)
from twin.config.schema_faults import Faults
from twin.config.schema_grid import CarbonIntensity, PowerCap, Price
from twin.config.schema_traces import RequestTrace, TrainingTrace, TransferTrace
from twin.config.units import MAX_DURATION_S, parse_duration_s

# ---------------------------------------------------------------- hardware and sites


class Accelerator(StrictModel):
    """One accelerator type of the catalogue."""

    tdp_w: float = Field(gt=0, le=100_000, description="board power when busy, W")
    idle_w: float | None = Field(
        None, ge=0, le=100_000, description="power when idle, W (≤ tdp_w); default 30% of TDP"
    )
    bf16_tflops: float = Field(
        gt=0, le=1_000_000, description="dense BF16 tensor throughput, TFLOPS"
    )
    memory_gb: float = Field(gt=0, le=100_000, description="HBM capacity, GB")
    hbm_tbps: float | None = Field(None, gt=0, le=10_000, description="HBM bandwidth, TB/s")
    speed: float = Field(
        1.0,
        ge=0.001,
        le=1000,
        description="training speed relative to the reference accelerator",
    )

    @property
    def idle_power_w(self) -> float:
        return self.idle_w if self.idle_w is not None else 0.3 * self.tdp_w


class Pool(StrictModel):
    """Accelerators of one type at a site."""

    accelerator: str = Field(description="a key of the accelerator catalogue")
    count: int = Field(gt=0, le=MAX_POOL, description="how many accelerators")


class Site(StrictModel):
    """A compute site (AI factory): accelerator pools behind one facility power cap."""

    id: Identifier = Field(description="unique id, used by links, overlays and traces")
    name: Name = Field("", description="display name")
    country: str = Field("", max_length=2, description="ISO 3166 country code")
    lat: float = Field(ge=-90, le=90, description="latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="longitude, degrees")
    pools: list[Pool] = Field(min_length=1, description="accelerator pools")
    power_mw: PowerCap = Field(
        description="facility power cap, MW (IT load × PUE): a constant, a schedule "
        "[{at, power_mw}] from at 0, or a series file"
    )
    power_cap_policy: Literal["drain", "preempt"] = Field(
        "drain",
        description="when the cap falls below the draw: drain (running jobs run on, nothing "
        "starts until the draw fits) or preempt (the youngest jobs are interrupted until it fits)",
    )
    pue: float = Field(1.2, ge=1.0, le=3.0, description="power usage effectiveness")
    carbon_gco2_per_kwh: CarbonIntensity = Field(
        description="grid carbon intensity: a constant, 24 hourly values (UTC) or a series file"
    )
    price_eur_per_mwh: Price = Field(
        description="electricity price: a constant, 24 hourly values (UTC) or a series file"
    )
    online_from: Timestamp | None = Field(
        None, description="when the site opens; before the scenario start means from the start"
    )
    access_gbps: float | None = Field(
        None, gt=0, le=1e7, description="site access bandwidth cap on its flows, Gbps"
    )


class Pop(StrictModel):
    """A network point of presence: a node without accelerators."""

    id: Identifier = Field(description="unique id, used by links")
    name: Name = Field("", description="display name")
    country: str = Field("", max_length=2, description="ISO 3166 country code")
    lat: float = Field(ge=-90, le=90, description="latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="longitude, degrees")


class CapacityStep(StrictModel):
    """From ``at`` (after the scenario start) on, a link has this capacity."""

    at: Duration = Field(description="when the capacity changes, after the start")
    capacity_gbps: float = Field(gt=0, le=1e7, description="the new capacity, Gbps")


class Link(StrictModel):
    """A network link between two nodes (sites or PoPs)."""

    a: Identifier = Field(description="one end (a site or PoP id)")
    b: Identifier = Field(description="the other end")
    capacity_gbps: float = Field(gt=0, le=1e7, description="capacity, Gbps (each direction)")
    latency_ms: float | None = Field(
        None,
        ge=0,
        le=10_000,
        description="one-way latency; default from distance × route inflation",
    )
    km: float | None = Field(
        None, gt=0, le=100_000, description="fibre length; default great-circle × 1.3"
    )
    directed: bool = Field(False, description="capacity only from a to b")
    duplex: bool = Field(
        True,
        description="false: one channel both directions share (half duplex; not with directed)",
    )
    capacity_schedule: list[CapacityStep] = Field(
        default_factory=list,
        max_length=10_000,
        description="capacity changes over time: [{at, capacity_gbps}], in order of at",
    )


# ---------------------------------------------------------------- demand


class TenantClass(StrictModel):
    """A class of users (startup, academia, industry, public)."""

    share: float = Field(gt=0, le=1e12, description="relative share of submitted jobs")
    weight: float = Field(1.0, gt=0, le=1e12, description="fair-share weight")


def interval_or_rule(value: object) -> object:
    """A checkpoint interval: ``young_daly``, or a duration of at least a minute."""
    if value == "young_daly":
        return value
    seconds = parse_duration_s(value)
    if not 60.0 <= seconds <= MAX_DURATION_S:
        raise ValueError(f"expected young_daly or a duration of at least 1 minute, got {value!r}")
    return seconds


CheckpointInterval = Annotated[
    float | Literal["young_daly"],
    BeforeValidator(interval_or_rule),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 60, "maximum": MAX_DURATION_S},
                {"type": "string"},
            ],
            "description": "young_daly, or a duration of at least 1 minute (30m, 2h, seconds)",
        }
    ),
]
"""Compute seconds between checkpoints, or ``young_daly`` (each job picks τ = √(2CM))."""


def _synthetic_or_trace(
    model: Training | BulkTransfers, synthetic: tuple[str, ...], what: str
) -> None:
    """A workload is synthetic (all of ``synthetic`` given), a trace, or both; never half
    a generator."""
    given = [name for name in synthetic if getattr(model, name) is not None]
    if given and len(given) < len(synthetic):
        missing = [name for name in synthetic if name not in given]
        raise ValueError(
            f"synthetic {what} need {', '.join(synthetic)}; missing {', '.join(missing)}"
        )
    if not given and model.trace is None:
        raise ValueError(f"expected synthetic {what} ({', '.join(synthetic)}), a trace, or both")


class Deferrable(StrictModel):
    """A share of training jobs that may start later than submitted (by up to ``slack``)."""

    share: Fraction = Field(1.0, description="chance that a training job is deferrable")
    slack: Duration = Field(
        gt=0, description="how much later than its submission a deferrable job may start"
    )


class Training(StrictModel):
    """Training and batch jobs arriving as a (diurnally modulated) Poisson process."""

    enabled: bool = Field(True, description="whether training jobs are generated")
    trace: TrainingTrace | None = Field(
        None, description="jobs replayed from a log (beside the synthetic stream, if any)"
    )
    arrivals_per_day: float | None = Field(
        None,
        gt=0,
        le=1e7,
        description="mean synthetic job submissions per day (with accelerators and "
        "duration_s; omit all three to replay only the trace)",
    )
    diurnal: HourlyProfile | None = Field(
        None, description="24 relative arrival weights per UTC hour; default flat"
    )
    accelerators: Distribution | None = Field(
        None,
        description="accelerators per synthetic job (rounded, ≥ 1; above the largest pool "
        "possible, 10,000,000, taken as that)",
    )
    duration_s: Distribution | None = Field(
        None, description="run time of a synthetic job on a speed-1.0 accelerator, s"
    )
    walltime_factor: float = Field(
        1.0,
        ge=1.0,
        le=100,
        description="requested walltime = run time × this; schedulers plan with it",
    )
    dataset_gb: Distribution | None = Field(None, description="dataset size, GB")
    datasets: int | None = Field(
        None,
        gt=0,
        le=10_000_000,
        description="size of a shared dataset catalogue jobs draw from (sites cache what "
        "they staged); default: every job brings its own dataset",
    )
    dataset_popularity: float = Field(
        1.0, ge=0, le=100, description="Zipf exponent of dataset popularity in the catalogue"
    )
    dataset_origins: dict[str, Weight] | None = Field(
        None, description="site id → weight of datasets living there; default by capacity"
    )
    tenant_mix: dict[str, Weight] | None = Field(
        None, description="tenant class → share of these jobs; default the tenants' shares"
    )
    accelerator_types: list[str] | None = Field(
        None, description="accelerator types the jobs may run on; default any"
    )
    failure_probability: Fraction = Field(
        0.0, description="chance that a job fails part-way through its run"
    )
    patience_s: Distribution | None = Field(
        None, description="queued jobs are cancelled after waiting this long"
    )
    stop_after: Duration | None = Field(
        None, description="no submissions after this time (lets the system drain)"
    )
    checkpoint_gb: Distribution | None = Field(
        None, description="checkpoint size; replicated to a second site every interval"
    )
    checkpoint_interval: CheckpointInterval | None = Field(
        None,
        description="compute time between checkpoints of a running job (≥ 1 minute), or "
        "young_daly: √(2 · C · M) from the checkpoint's cost C and the job's MTBF M",
    )
    checkpoint_write_gbps: float | None = Field(
        None,
        gt=0,
        le=1e7,
        description="storage write bandwidth of one job, GB/s: a checkpoint stalls the job "
        "checkpoint_gb / this; default no stall",
    )
    deferrable: Deferrable | None = Field(
        None,
        description="jobs (synthetic and replayed) that may start later: each must start "
        "within its slack; the start policy (policies.start) picks when and where",
    )

    @model_validator(mode="after")
    def _synthetic_or_trace(self) -> Training:
        _synthetic_or_trace(self, ("arrivals_per_day", "accelerators", "duration_s"), "jobs")
        return self

    @property
    def synthetic(self) -> bool:
        """Whether the Poisson generator runs (it does when its rate is given)."""
        return self.arrivals_per_day is not None


class BulkTransfers(StrictModel):
    """Background bulk data transfers between sites (replication, ingest, model shipping)."""

    enabled: bool = Field(True, description="whether bulk transfers are generated")
    trace: TransferTrace | None = Field(
        None, description="an explicit list of transfers replayed (beside the synthetic ones)"
    )
    arrivals_per_day: float | None = Field(
        None,
        gt=0,
        le=1e7,
        description="mean synthetic transfers started per day (with size_gb; omit both to "
        "replay only the trace)",
    )
    size_gb: Distribution | None = Field(None, description="bytes of a synthetic transfer, GB")
    sources: dict[str, Weight] | None = Field(
        None, description="site id → weight as a source; default by accelerator count"
    )
    destinations: dict[str, Weight] | None = Field(
        None, description="site id → weight as a destination; default by accelerator count"
    )

    @model_validator(mode="after")
    def _synthetic_or_trace(self) -> BulkTransfers:
        _synthetic_or_trace(self, ("arrivals_per_day", "size_gb"), "transfers")
        return self

    @property
    def synthetic(self) -> bool:
        """Whether the Poisson generator runs (it does when its rate is given)."""
        return self.arrivals_per_day is not None


class Region(StrictModel):
    """A European demand centre for real-time inference."""

    id: Identifier = Field(description="unique id")
    country: str = Field("", max_length=2, description="ISO 3166 country code")
    lat: float = Field(ge=-90, le=90, description="latitude, degrees")
    lon: float = Field(ge=-180, le=180, description="longitude, degrees")
    share: float = Field(gt=0, le=1e12, description="relative share of demand (e.g. population)")
    utc_offset_h: float = Field(0.0, ge=-12, le=14, description="local time − UTC, hours")


class LLMModel(StrictModel):
    """The served model, as the iteration-time model needs it."""

    parameters_b: float = Field(gt=0, le=100_000, description="parameters, billions")
    weight_bytes: float | None = Field(
        None, gt=0, le=1e16, description="bytes of weights; default 2 × parameters (BF16)"
    )
    kv_bytes_per_token: float = Field(
        gt=0,
        le=1e9,
        description="KV-cache bytes per token (2 × layers × KV heads × head dim × bytes)",
    )


class Roofline(StrictModel):
    """Iteration time from the accelerator's roofline (see twin/model/iteration.py)."""

    model: Literal["roofline"] = "roofline"
    compute_efficiency: float = Field(0.5, gt=0, le=1, description="share of BF16 peak reached")
    memory_efficiency: float = Field(0.7, gt=0, le=1, description="share of HBM bandwidth")
    overhead_s: float = Field(
        0.004, ge=0, le=10, description="fixed time per iteration (scheduling)"
    )
    memory_fraction: float = Field(
        0.9, gt=0, le=1, description="share of HBM usable for weights and KV cache"
    )


class Calibrated(StrictModel):
    """Measured iteration-time coefficients: t = c0 + c_pf·P + c_b·B + c_kv·K, plus a
    prefill intercept, a quadratic prefill term and tensor-parallel communication
    (``twin fit-iteration PROFILE`` fits them)."""

    model: Literal["calibrated"]
    c0_s: float = Field(ge=1e-6, le=10, description="fixed time per iteration, s (at least 1 µs)")
    prefill_s_per_token: float = Field(ge=0, le=10, description="per prompt token prefilled, s")
    decode_s_per_request: float = Field(ge=0, le=10, description="per decoding request B, s")
    decode_s_per_context_token: float = Field(
        ge=0, le=10, description="per context token K of the decoding requests, s"
    )
    prefill_c0_s: float = Field(
        0.0, ge=0, le=10, description="fixed time of an iteration that prefills anything, s"
    )
    prefill_s_per_token_squared: float = Field(
        0.0,
        ge=0,
        le=1,
        description="attention's quadratic prefill term, s per token²: a chunk of c tokens "
        "after d of its prompt costs c·(2d + c) of them (a whole prompt p²)",
    )
    tp_comm_s_per_token: float = Field(
        0.0,
        ge=0,
        le=10,
        description="tensor-parallel communication per token computed (prefill and decode), s",
    )
    kv_capacity_tokens: int = Field(
        ge=2, le=10**12, description="KV-cache capacity of a replica, tokens"
    )


class Profile(StrictModel):
    """Iteration time interpolated from a table of measured iterations (prefill by prompt
    tokens, decode by batch and context, mixed iterations by chunk and decodes; see
    twin/importers/iteration_profile.py for the columns)."""

    model: Literal["profile"]
    file: str = Field(
        description="the profile: 'builtin:NAME' for a packaged one (e.g. "
        "builtin:a100_llama3_8b_tp1_iterations.csv.gz) or a path relative to the config file"
    )
    kv_capacity_tokens: int | None = Field(
        None,
        ge=2,
        le=10**12,
        description="KV-cache capacity of a replica, tokens; default what the accelerators' "
        "memory holds beyond the model's weights (needs the service's model)",
    )
    memory_fraction: float = Field(
        0.9,
        gt=0,
        le=1,
        description="share of HBM usable for weights and KV cache (default capacity only)",
    )


class SLO(StrictModel):
    """Latency objectives, network round trip included."""

    ttft_s: float | None = Field(None, gt=0, le=1e6, description="time to first token (llm)")
    tpot_s: float | None = Field(None, gt=0, le=1e6, description="time per output token (llm)")
    latency_s: float | None = Field(None, gt=0, le=1e6, description="end-to-end latency (single)")


class Autoscale(StrictModel):
    """Replicas per site follow demand, taking accelerators from (and giving them back to)
    the training pool."""

    min_replicas: int = Field(0, ge=0, le=1_000_000, description="replicas kept per hosting site")
    max_replicas: int = Field(gt=0, le=1_000_000, description="most replicas per site")
    target_utilisation: float = Field(0.7, gt=0, le=1, description="load per replica aimed at")
    interval: Duration = Field(300.0, ge=1, description="time between scaling decisions (≥ 1 s)")


class PrefillPool(StrictModel):
    """The prefill pool of a disaggregated llm service: replicas that only prefill prompts
    (producing each request's first token) and send the KV cache to the decode pool. Unset
    fields take the service's own value (the decode pool's)."""

    replicas: dict[str, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        description="site id → prefill replicas"
    )
    accelerators_per_replica: int | None = Field(
        None, gt=0, le=100_000, description="accelerators one prefill replica holds"
    )
    accelerator_types: list[str] | None = Field(
        None, description="accelerator types prefill replicas may use"
    )
    scheduler: Literal["vllm", "sarathi"] | None = Field(None, description="batching scheduler")
    max_batch: int | None = Field(
        None, gt=0, le=1_000_000, description="most requests prefilling at once"
    )
    token_budget: int | None = Field(
        None, ge=0, le=10**9, description="tokens per iteration (sarathi); prefill cap (vllm)"
    )
    max_queue: int | None = Field(
        None, ge=1, le=10**9, description="waiting requests per prefill replica before drops"
    )
    iteration: Roofline | Calibrated | Profile | None = Field(
        None, discriminator="model", description="iteration-time model of a prefill replica"
    )


class KVTransfer(StrictModel):
    """How a prefilled request's KV cache moves to its decode replica: latency + bytes /
    bandwidth, first in first out behind the earlier transfers on the path's bottleneck
    (the sending replica's NICs within a site; the route between two sites)."""

    bytes_per_token: float | None = Field(
        None,
        gt=0,
        le=1e9,
        description="KV-cache bytes per prompt token; default the model's kv_bytes_per_token",
    )
    interconnect_gbps: float = Field(
        400.0,
        gt=0,
        le=1e6,
        description="within a site: bandwidth per accelerator of the sending prefill replica, "
        "Gbps (InfiniBand NDR, one 400 Gb/s ConnectX-7 per GPU as in a DGX H100)",
    )
    interconnect_latency_s: float = Field(
        1e-5,
        ge=0,
        le=10,
        description="within a site: latency of one transfer, s (RDMA write and switch hops)",
    )
    wan_gbps: float | None = Field(
        None,
        gt=0,
        le=1e7,
        description="between two sites: bandwidth all transfers of the site pair share, Gbps; "
        "default the capacity of the bottleneck link of the route between them",
    )


class Disaggregation(StrictModel):
    """Prefill/decode disaggregation (Splitwise, DistServe): a request is prefilled in the
    prefill pool, its KV cache moved to a decode replica (the same site's if it has any,
    else the nearest decode site's), which generates the other output tokens. The service's
    own replicas, iteration model and limits are the decode pool."""

    prefill: PrefillPool = Field(description="the prefill pool")
    kv_transfer: KVTransfer = Field(
        default_factory=KVTransfer, description="how KV caches move from prefill to decode"
    )


class Service(StrictModel):
    """A real-time inference service."""

    id: Identifier = Field(description="unique id")
    kind: Literal["single", "llm"] = Field(
        description="single: one request holds one server; llm: continuous batching"
    )
    peak_rps: float | None = Field(
        None,
        gt=0,
        le=10_000_000,
        description="requests/s at the continental peak hour (required without a trace)",
    )
    accelerators_per_replica: int = Field(
        1, gt=0, le=100_000, description="accelerators one replica holds"
    )
    accelerator_types: list[str] | None = Field(
        None, description="accelerator types replicas may use; default any that fits"
    )
    replicas: dict[str, Annotated[int, Field(ge=0, le=1_000_000)]] = Field(
        default_factory=dict, description="site id → replicas (the start count if autoscaled)"
    )
    autoscale: Autoscale | None = Field(None, description="scale replicas with demand")
    trace: RequestTrace | None = Field(
        None,
        description="requests replayed from a log with their own lengths, in place of "
        "peak_rps and the length distributions",
    )
    slo: SLO = Field(default_factory=SLO, description="latency objectives")
    max_queue: int | None = Field(
        None,
        ge=0,
        le=10**9,
        description="waiting requests before arrivals are dropped: per site for single; per "
        "replica for llm, counting those not yet admitted to the batch (>= 1)",
    )
    timeout_s: float | None = Field(
        None, gt=0, le=1e7, description="a request waiting longer is dropped (single)"
    )
    # single
    service_s: Distribution | None = Field(None, description="service time (single)")
    servers_per_replica: int = Field(
        1, gt=0, le=1_000_000, description="concurrent requests per replica (single)"
    )
    # llm
    model: LLMModel | None = Field(None, description="the served model (llm)")
    prompt_tokens: Distribution | None = Field(None, description="prompt length (llm)")
    output_tokens: Distribution | None = Field(None, description="output length (llm)")
    lengths_pairing: Literal["auto", "rows", "independent"] = Field(
        "auto",
        description="how prompt and output lengths are drawn together (llm). rows: a line of "
        "their sample file each time, so the file's own pairs (both empirical from the same "
        "file); independent: each length on its own; auto: rows when both are empirical from "
        "the same file, else independent, or the copula of lengths_rank_correlation when set",
    )
    lengths_rank_correlation: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="Spearman rank correlation of prompt and output lengths (llm), kept by a "
        "Gaussian copula over the two marginals of any kind (each through its quantiles); "
        "with lengths_pairing auto",
    )
    scheduler: Literal["vllm", "sarathi"] = Field("sarathi", description="batching scheduler (llm)")
    max_batch: int = Field(
        64, gt=0, le=1_000_000, description="most requests running at once (llm)"
    )
    kv_admission: Literal["reserve", "paged"] = Field(
        "reserve",
        description="KV-cache admission (llm). reserve: a request holds its prompt + output "
        "tokens from admission on, never preempted; paged (vLLM): blocks allocated as tokens "
        "are produced, the latest admitted running request preempted when they run out",
    )
    kv_block_tokens: int = Field(
        16, ge=1, le=1_000_000, description="tokens per KV block (paged; vLLM's default 16)"
    )
    preemption: Literal["recompute", "swap"] = Field(
        "recompute",
        description="paged: a preempted request's KV is dropped and its prompt and tokens so "
        "far prefilled again (recompute), or moved to host memory and back (swap)",
    )
    swap_gbps: float = Field(
        200.0,
        gt=0,
        le=1e6,
        description="host link of swapped KV (paged, swap), Gbps each way; default 200 = "
        "25 GB/s, what PCIe 4.0 x16 (32 GB/s raw) carries in practice",
    )
    token_budget: int = Field(
        512,
        ge=0,
        le=10**9,
        description="tokens per iteration (sarathi); prefill cap (vllm, 0 = none)",
    )
    iteration: Roofline | Calibrated | Profile = Field(
        default_factory=Roofline, discriminator="model", description="iteration-time model (llm)"
    )
    disaggregation: Disaggregation | None = Field(
        None,
        description="a separate prefill pool (llm): the service's replicas then only decode",
    )


class Inference(StrictModel):
    """Real-time inference: services, demand regions, routing, windows."""

    enabled: bool = Field(True, description="whether inference is simulated")
    window: Duration = Field(
        5.0, ge=0.001, le=86400, description="simulated time per kernel call (1 ms to 1 d)"
    )
    routing: Name = Field("slo_aware", description="nearest, least_latency or slo_aware")
    fidelity: Literal["request", "fluid"] = Field(
        "request",
        description="request: every request through the queueing kernels; fluid: an "
        "analytic model per window (cost independent of the request rate, for long horizons)",
    )
    diurnal: HourlyProfile | None = Field(
        None,
        description="24 relative demand weights per local hour; default trough at 04:00 at a "
        "third of the evening peak",
    )
    regions: list[Region] = Field(min_length=1, description="demand centres")
    services: list[Service] = Field(min_length=1, description="the services")


class Workloads(StrictModel):
    training: Training | None = Field(None, description="training and batch jobs")
    transfers: BulkTransfers | None = Field(None, description="background bulk transfers")
    inference: Inference | None = Field(None, description="real-time inference")


class Network(StrictModel):
    """How links turn into latencies and how flows share them."""

    fibre_us_per_km: float = Field(
        4.9, gt=0, le=1000, description="propagation delay of fibre, µs per km (n ≈ 1.47)"
    )
    route_inflation: float = Field(
        1.3, ge=1.0, le=10, description="fibre km per great-circle km when a link gives no km"
    )
    flow_cap_gbps: float | None = Field(
        None, gt=0, le=1e7, description="per-flow rate cap (end-host limit); default none"
    )
    stage_datasets: bool = Field(
        True, description="jobs placed away from their dataset wait for it to be copied"
    )
    routing: Literal["latency", "km", "hops"] = Field(
        "latency",
        description="route metric (ties: fewest hops, then the smallest node-id sequence)",
    )
    sharing: Literal["maxmin", "rtt_weighted"] = Field(
        "maxmin",
        description="bandwidth sharing: max-min fair, or weighted by 1 / round-trip time",
    )
    tcp_window_bytes: float | None = Field(
        None, gt=0, le=1e12, description="per-flow TCP window: rate ≤ window / RTT; default none"
    )


# ---------------------------------------------------------------- policies and telemetry


class Policies(StrictModel):
    scheduler: Name = Field("easy_backfill", description="per-factory scheduler")
    placement: Name = Field("least_loaded", description="broker placement across factories")
    start: Name = Field(
        "immediate",
        description="when (and where) deferrable jobs start: immediate, carbon_aware "
        "(least forecast CO2 within their slack) or price_aware (least forecast cost)",
    )
    forecast_error: float = Field(
        0.0,
        ge=0.0,
        le=5.0,
        description="relative error (log-normal sigma) of the grid forecast the start "
        "policy plans with, drawn per site and hour; 0: the forecast is the grid itself",
    )


class Telemetry(StrictModel):
    interval: Duration = Field(
        900.0, ge=1, description="sampling interval of site and link telemetry (≥ 1 s)"
    )


# ---------------------------------------------------------------- the scenario


class Scenario(StrictModel):
    """A complete scenario: hardware, sites, network, demand, policies."""

    name: Identifier = Field(description="scenario name, used to name runs")
    description: Text = Field("", description="one or two sentences on what it models")
    start: Timestamp = Field(description="ISO date or date-time the simulation clock starts at")
    horizon: Duration = Field(
        7 * 86400.0, gt=0, description="simulated time span (at most 10 years)"
    )
    seed: int = Field(0, ge=0, le=2**63 - 1, description="seed of every random stream")
    accelerators: dict[str, Accelerator] = Field(min_length=1, description="type → spec")
    sites: list[Site] = Field(min_length=1, description="compute sites (factories)")
    pops: list[Pop] = Field(default_factory=list, description="network points of presence")
    links: list[Link] = Field(default_factory=list, description="network links")
    tenants: dict[str, TenantClass] = Field(min_length=1, description="class → share")
    workloads: Workloads = Field(default_factory=Workloads, description="demand")
    policies: Policies = Field(default_factory=Policies, description="policy names")
    network: Network = Field(default_factory=Network, description="network model")
    telemetry: Telemetry = Field(default_factory=Telemetry, description="sampling")
    faults: Faults = Field(default_factory=Faults, description="what breaks, and how often")
    access: Access | None = Field(
        None, description="access programmes: reserved shares, quotas, tiers, prices"
    )

    def site(self, site_id: str) -> Site:
        """The site with this id (KeyError if absent)."""
        for site in self.sites:
            if site.id == site_id:
                return site
        raise KeyError(site_id)
