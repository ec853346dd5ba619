"""Config of workload trace replay: a real log of jobs, requests or transfers in place of
(or beside) the synthetic generators (``workloads.training.trace``,
``workloads.inference.services[].trace``, ``workloads.transfers.trace``).

Every trace is read through :mod:`twin.importers` into a normalised table
(:data:`twin.trace.schema.WORKLOADS`); the options here say how that table maps onto the
scenario: where its clock starts, which part of it, how fast, and to whom it belongs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from twin.config.schema_base import Duration, Identifier, StrictModel

JobFormat = Literal["swf", "alibaba_gpu_2023", "csv", "arrow"]
RequestFormat = Literal["azure_llm", "alibaba_lora", "csv", "arrow"]
TransferFormat = Literal["csv", "arrow"]


class TraceWindow(StrictModel):
    """The part of a trace replayed, in trace time from its origin (see ``align``)."""

    start: Duration = Field(0.0, description="first trace time replayed")
    end: Duration | None = Field(None, description="trace time replay stops at; default the end")

    @model_validator(mode="after")
    def _ordered(self) -> TraceWindow:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end:g} s) must be after start ({self.start:g} s)")
        return self


class _Replay(StrictModel):
    """What every trace replay shares: the file and how its clock maps onto the scenario's."""

    file: str = Field(
        description="the trace: 'builtin:NAME' for a packaged one (twin import --list), or a "
        "path relative to the config file (.gz read as gzip)"
    )
    align: Literal["first", "zero"] = Field(
        "first",
        description="first: the trace's first record at the scenario's start (+ offset); "
        "zero: trace time 0 at the scenario's start",
    )
    offset: Duration = Field(0.0, description="shift of the whole replay after the start")
    window: TraceWindow | None = Field(None, description="replay only this part of the trace")
    rate_scale: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="load factor: inter-arrival times divided by this (1.5 replays the trace "
        "at 1.5× its load, compressing its timeline)",
    )


class TrainingTrace(_Replay):
    """Training/batch jobs replayed from a log: SWF, the Alibaba 2023 GPU pod list, a CSV
    with named columns, or a normalised Arrow workload from ``twin import``."""

    format: JobFormat | None = Field(
        None, description="swf, alibaba_gpu_2023, csv or arrow; default from the file name"
    )
    per_accelerator: float = Field(
        1.0,
        gt=0,
        le=1e6,
        description="trace processors (SWF) or GPUs (Alibaba) per twin accelerator; a job "
        "asks for ceil(processors / this)",
    )
    requested_time: Literal["trace", "run_time"] = Field(
        "trace",
        description="trace: the walltime the trace requested (where it says none, the run "
        "time × requested_factor); run_time: always run time × requested_factor (1.0: "
        "perfect estimates)",
    )
    requested_factor: float = Field(
        1.0, ge=1.0, le=100, description="walltime = run time × this where the trace has none"
    )
    user_field: Literal["user", "group", "queue"] = Field(
        "user", description="SWF field that names a job's owner for the tenant mapping"
    )
    tenants: dict[str, Identifier] = Field(
        default_factory=dict,
        description="the trace's user (or QoS class, Alibaba) → tenant class",
    )
    tenant_default: Identifier | Literal["shares"] = Field(
        "shares",
        description="tenant class of users not in tenants; shares: each user drawn once into "
        "a class in proportion to the classes' shares (stable per user)",
    )
    site: Identifier | list[Identifier] | None = Field(
        None,
        description="the site that runs the whole trace (as the trace's own machine), or "
        "the sites the broker may place its jobs on; default: the broker over the network",
    )

    @property
    def sites(self) -> tuple[str, ...] | None:
        """The sites its jobs may run at (None: any)."""
        if self.site is None:
            return None
        return (self.site,) if isinstance(self.site, str) else tuple(self.site)

    statuses: list[Literal["completed", "failed", "cancelled", "unknown"]] | None = Field(
        None, description="replay only jobs that ended so in the trace; default all"
    )


class RequestTrace(_Replay):
    """Inference requests replayed from a log with timestamps, each with its own lengths
    (prompt and output tokens for ``llm``, service time for ``single``) and a region drawn
    from ``regions``; the service's routing sends it to a site (see
    :mod:`twin.model.request_trace`). No diurnal profile applies: the trace has its own."""

    format: RequestFormat | None = Field(
        None,
        description="azure_llm, alibaba_lora, csv or arrow; default from the file name",
    )
    loop: bool = Field(
        False,
        description="replay the (windowed) trace again after its end, back to back, until "
        "the horizon; one period is the window (or the span plus one mean gap)",
    )
    peak_rps: float | None = Field(
        None,
        gt=0,
        le=1e9,
        description="scale the arrival rate so the trace's busiest hour averages this many "
        "requests per second (instead of rate_scale)",
    )
    regions: dict[Identifier, float] | None = Field(
        None,
        description="region id → share of the trace's requests (each drawn once); default "
        "the regions' shares",
    )

    @model_validator(mode="after")
    def _one_rate(self) -> RequestTrace:
        if self.peak_rps is not None and "rate_scale" in self.model_fields_set:
            raise ValueError("give rate_scale or peak_rps, not both")
        if self.regions is not None and not any(share > 0 for share in self.regions.values()):
            raise ValueError("regions: expected at least one share > 0")
        if self.regions is not None and any(share < 0 for share in self.regions.values()):
            raise ValueError("regions: shares must not be negative")
        return self


class TransferTrace(_Replay):
    """An explicit list of data movements: start, source, destination, bytes, label."""

    format: TransferFormat | None = Field(
        None, description="csv or arrow; default from the file name"
    )
