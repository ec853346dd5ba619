"""Inference requests replayed from a trace (``workloads.inference.services[].trace``).

A traced service draws nothing: every window takes the trace's requests whose replayed
time falls in it, each with its own lengths, and the service's routing sends them on.

* **Clock** (as for every trace, :func:`twin.replay.clock.replay_times`): trace time
  counts from the first record (``align: first``) or the trace's zero (``align: zero``); the
  records with ``window.start ≤ t < window.end`` are kept, at ``rel = t − window.start``.
* **Rate**: a request is replayed at ``offset + rel / scale``, ``scale`` = ``rate_scale``,
  or with ``peak_rps`` the factor that makes the trace's busiest hour average that rate
  (:func:`twin.replay.requests.busiest_rps`: the most records in an hour of trace time
  starting at a record, over an hour; over the loop period if the trace is shorter).
* **Loop**: one period is the window's length (``window.end − window.start``) if it has an
  end, else the kept span plus one mean gap (``rel[-1] + rel[-1] / (n − 1)`` for ``n``
  records from ``rel[0]``… so the seam gap is the mean inter-arrival time). Pass ``k``
  replays the kept records at ``offset + (rel + k × period) / scale``, until the horizon.
  A loop needs two records, or a window with an end.
* **Regions**: each kept record gets a region once, drawn from ``trace.regions`` shares
  (default the regions' shares) on its own random stream (``inference.<id>.trace.regions``),
  so a seed gives one mapping whatever the window or routing; a looped record keeps its
  region. The routing policy splits each region's requests among sites as it splits a
  synthetic rate; where it splits one region over several sites, each request's site is
  drawn in proportion (from the service's arrival stream).
* **Lengths**: ``llm`` requests keep their trace pair (prompt, output) together; a 0 is served
  as 1 token (an iteration handles at least one). ``single`` requests take ``service_s`` as
  their service time on a speed-1.0 replica. No diurnal profile applies.
* **Autoscaling** sizes replicas to the rate of the last window (a trace's demand is known
  as it comes, not ahead). ``fidelity: fluid`` is refused for a traced service (a config
  error): the fluid model draws counts from rates and lengths from distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from twin.config.errors import ConfigError
from twin.config.schema import Scenario, Service
from twin.config.schema_traces import RequestTrace
from twin.kernels.window_stats import categorical
from twin.model.rng import stream
from twin.replay.requests import pace_issues, read_request_trace, replay_pace

MIN_MEAN_S = 1e-6
"""Floor of the mean service time a router divides by (a trace of 0 s service times)."""


@dataclass(frozen=True)
class TracedRequests:
    """Requests of a trace in order of arrival (scenario seconds), with their lengths."""

    arrival_s: np.ndarray
    region: np.ndarray
    """Index of the request's region in ``workloads.inference.regions``."""
    prompt: np.ndarray
    """Prompt tokens (≥ 1)."""
    output: np.ndarray
    """Output tokens (≥ 1)."""
    service_s: np.ndarray
    """Service time on a speed-1.0 replica, s (NaN where the trace has none)."""

    def __len__(self) -> int:
        return len(self.arrival_s)

    def subset(self, keep: np.ndarray | slice) -> TracedRequests:
        """The requests where ``keep`` (a mask or indices) says, in their order."""
        return TracedRequests(
            self.arrival_s[keep],
            self.region[keep],
            self.prompt[keep],
            self.output[keep],
            self.service_s[keep],
        )

    @staticmethod
    def join(parts: list[TracedRequests]) -> TracedRequests:
        if len(parts) == 1:
            return parts[0]
        return TracedRequests(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in _COLUMNS)
        )


_COLUMNS = ("arrival_s", "region", "prompt", "output", "service_s")


class RequestReplay:
    """A service's trace on the scenario clock: :meth:`take` hands out its requests window
    by window (passes of a loop one after the other)."""

    def __init__(
        self,
        table: pa.Table,
        spec: RequestTrace,
        shares: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        pace = replay_pace(table, spec)
        kept, rel = pace.kept, pace.rel_s
        self.pace = pace
        self.rel_s = rel
        """Kept records' trace time from the window's start, s."""
        self.period_s = pace.period_s
        self.scale = pace.scale
        self.offset_s = spec.offset
        self.loop = spec.loop
        cumulative = np.cumsum(shares / shares.sum())
        self.requests = TracedRequests(
            self._times(0),
            categorical(cumulative, rng.random(len(rel))),
            np.maximum(1, table.column("prompt_tokens").to_numpy()[kept]),
            np.maximum(1, table.column("output_tokens").to_numpy()[kept]),
            table.column("service_s").fill_null(np.nan).to_numpy()[kept],
        )
        self.mean_prompt = float(self.requests.prompt.mean()) if len(rel) else 1.0
        self.mean_output = float(self.requests.output.mean()) if len(rel) else 1.0
        service_s = self.requests.service_s
        known = service_s[np.isfinite(service_s)]
        self.mean_service_s = max(float(known.mean()), MIN_MEAN_S) if len(known) else MIN_MEAN_S
        """Mean service time (for routing capacity), at least :data:`MIN_MEAN_S`."""
        self._pass = 0
        self._times_now = self.requests.arrival_s
        self._next = 0

    def _times(self, k: int) -> np.ndarray:
        """Scenario times of pass ``k``'s requests."""
        return self.offset_s + (self.rel_s + k * self.period_s) / self.scale

    def take(self, end_s: float) -> TracedRequests:
        """The requests replayed before ``end_s`` not yet taken, in order."""
        parts = []
        n = len(self.rel_s)
        while True:
            stop = int(np.searchsorted(self._times_now, end_s, side="left"))
            if stop > self._next:
                parts.append(self._slice(self._next, stop))
                self._next = stop
            if stop < n or not self.loop:
                break
            self._pass += 1
            self._times_now = self._times(self._pass)
            self._next = 0
        return TracedRequests.join(parts) if parts else self._slice(0, 0)

    def _slice(self, first: int, stop: int) -> TracedRequests:
        """Records ``first`` to ``stop`` of the current pass."""
        every = self.requests
        return TracedRequests(
            self._times_now[first:stop],
            every.region[first:stop],
            every.prompt[first:stop],
            every.output[first:stop],
            every.service_s[first:stop],
        )


def traced_requests(scenario: Scenario, service: Service, index: int) -> RequestReplay:
    """The replay of a traced service (``workloads.inference.services[index]``); a looped
    replay asking for more requests per window than the work bounds is a config error."""
    spec = scenario.workloads.inference
    assert spec is not None and service.trace is not None
    trace = service.trace
    path = f"workloads.inference.services[{index}].trace"
    if trace.regions is None:
        shares = np.array([region.share for region in spec.regions], dtype=float)
    else:
        shares = np.array([trace.regions.get(region.id, 0.0) for region in spec.regions])
    rng = stream(scenario.seed, f"inference.{service.id}.trace.regions")
    table = read_request_trace(trace)
    issues = pace_issues(path, trace, replay_pace(table, trace), spec.window)
    if issues:  # the loader reports them first; a scenario built without it still stops here
        raise ConfigError(issues)
    return RequestReplay(table, trace, shares, rng)
