"""The two pools of a disaggregated llm service at one site: prefill replicas, whose requests
end with their first token, and decode replicas, whose requests arrive with their KV cache.

Both are :class:`~twin.model.service_site.ServiceSite` replicas (scaling, draining, outages,
the bank stepped per window); what they add is the bookkeeping between the stages: the
prefill pool remembers each request's lengths and arrival, the decode pool the latency a
request had already seen when its KV cache arrived, and holds the KV caches still on their
way (arriving after the window being served).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twin.kernels.dealing import REGION_BITS
from twin.model.kv_transfer import KVSender
from twin.model.request_ledger import RequestLedger
from twin.model.request_trace import TracedRequests
from twin.model.service_site import ServiceSite, TokenGaps, WindowResult

_MASK = (1 << REGION_BITS) - 1
_NO_TIMES = np.zeros(0)
_NO_IDS = np.zeros(0, dtype=np.int64)


@dataclass
class Prefilled:
    """Requests whose prefill completed in a window (one entry each)."""

    regions: np.ndarray
    origin_s: np.ndarray
    """When each arrived at the prefill pool [s]."""
    finish_s: np.ndarray
    """When its prefill (and first token) completed [s]."""
    prompt: np.ndarray
    output: np.ndarray
    slots: np.ndarray
    """The bank slot of the prefill replica that served it."""
    sched_s: np.ndarray
    """Its scheduling delay at the prefill pool [s]."""

    def subset(self, mask: np.ndarray) -> Prefilled:
        return Prefilled(*(values[mask] for values in vars(self).values()))


@dataclass
class PrefillWindow(WindowResult):
    """A prefill pool's window: the arrivals' books, and the prefills completed."""

    prefilled: Prefilled | None = None


class PrefillSite(ServiceSite):
    """Prefill replicas of a disaggregated service at one site: each request runs with one
    output token (the first), whose KV cache then goes to the decode pool (:attr:`sender`)."""

    sender: KVSender | None = None
    """Where this site's KV caches go (set when the service's pools are wired)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ledger = RequestLedger(3)
        """Arrival, prompt and output tokens of every request numbered here."""

    def _serve_llm(
        self,
        arrivals: np.ndarray,
        regions: np.ndarray,
        end: float,
        traced: TracedRequests | None,
    ) -> PrefillWindow:
        n = len(arrivals)
        prompt, output = self.draw_lengths(n, traced)
        self.ledger.extend(self.next_id, np.stack([arrivals, prompt, output]))
        first_token = np.ones(n, dtype=np.int64)
        step = self.step_replicas(arrivals, prompt, first_token, regions, end)
        done = step.completed
        if len(done.ttft):
            self.delay_s = float(done.ttft.mean())
        origin, done_prompt, done_output = self.ledger.take(done.ids)
        prefilled = Prefilled(
            done.ids & _MASK,
            origin,
            done.finish_s,
            done_prompt.astype(np.int64),
            done_output.astype(np.int64),
            step.slots,
            done.sched_delay,
        )
        assert self.bank is not None
        held = self.replicas + self.draining
        live = [self.bank.request_ids(r) for r in held]
        self.ledger.forget_before(np.concatenate(live) if live else _NO_IDS, step.in_system)
        return PrefillWindow(
            arrivals=n,
            dropped=len(step.dropped_regions),
            dropped_regions=step.dropped_regions,
            in_system=step.in_system,
            mean_batch=step.mean_batch,
            busy=step.busy,
            prompt_tokens=int(prompt.sum()),
            output_tokens=int(output.sum()),
            prefilled=prefilled,
        )

    def capacity_rps(self) -> float:
        """Prefills/s the active replicas complete when saturated."""
        if self.count == 0:
            return 0.0
        assert self.iteration is not None
        service = self.service
        rate = self.iteration.throughput_rps(
            service.max_batch,
            self.owner.mean_prompt,
            1.0,
            service.token_budget,
            scheduler=service.scheduler,
        )
        return self.count * rate


@dataclass
class Incoming:
    """KV caches on their way to a decode pool (not yet handed to its replicas)."""

    arrival_s: np.ndarray = field(default_factory=lambda: _NO_TIMES)
    prompt: np.ndarray = field(default_factory=lambda: _NO_IDS)
    output: np.ndarray = field(default_factory=lambda: _NO_IDS)
    regions: np.ndarray = field(default_factory=lambda: _NO_IDS)
    front_s: np.ndarray = field(default_factory=lambda: _NO_TIMES)
    """Latency seen before the KV arrived: inbound half round trip + prefill + transfer."""
    sched_s: np.ndarray = field(default_factory=lambda: _NO_TIMES)
    """Scheduling delay at the prefill pool [s]."""

    def add(self, other: Incoming) -> Incoming:
        merged = [
            np.concatenate([a, b])
            for a, b in zip(vars(self).values(), vars(other).values(), strict=True)
        ]
        order = np.argsort(merged[0], kind="stable")
        return Incoming(*(values[order] for values in merged))

    def split(self, before_s: float) -> tuple[Incoming, Incoming]:
        """Those arriving before ``before_s`` and the rest (both in arrival order)."""
        cut = int(np.searchsorted(self.arrival_s, before_s, side="left"))
        fields = list(vars(self).values())
        return Incoming(*(v[:cut] for v in fields)), Incoming(*(v[cut:] for v in fields))


@dataclass
class DecodeWindow:
    """What a decode pool did in one window: its completions with the whole request's
    latencies (round trips included), its drops and its replicas' books."""

    served_regions: np.ndarray
    ttft: np.ndarray
    tpot: np.ndarray
    latency: np.ndarray
    missed: np.ndarray
    dropped_regions: np.ndarray
    in_system: int
    mean_batch: float
    busy: float
    sched_delay: np.ndarray
    """The wait at the prefill pool plus the wait at the decode pool [s]."""
    tbt: TokenGaps


class DecodePool:
    """Decode replicas of a disaggregated service at one site (a prefilled bank) and the KV
    caches on their way to them."""

    def __init__(self, site: ServiceSite) -> None:
        self.site = site
        self.incoming = Incoming()
        self.ledger = RequestLedger(2)
        """Latency before the KV arrived and the prefill pool's scheduling delay, by the
        decode pool's request numbers."""

    def receive(self, incoming: Incoming) -> None:
        """KV caches sent here (arriving now or in a later window)."""
        if len(incoming.arrival_s):
            self.incoming = self.incoming.add(incoming)

    def serve(self, end: float) -> DecodeWindow:
        """Hand the KV caches that arrived before ``end`` to the replicas, advance them to
        ``end``, and complete the latencies of the requests they finished: TTFT = what the
        request had seen when its KV arrived, E2E = that + the decode pool's time, each with
        the outbound half of the round trip; TPOT the decode pool's."""
        site = self.site
        due, self.incoming = self.incoming.split(end)
        self.ledger.extend(site.next_id, np.stack([due.front_s, due.sched_s]))
        step = site.step_replicas(due.arrival_s, due.prompt, due.output, due.regions, end)
        done = step.completed
        regions = done.ids & _MASK
        front, prefill_sched = self.ledger.take(done.ids)
        back = site.rtt_s[regions] / 2
        ttft = front + back
        slo = site.service.slo
        missed = (ttft > (math.inf if slo.ttft_s is None else slo.ttft_s)) | (
            done.tpot > (math.inf if slo.tpot_s is None else slo.tpot_s)
        )
        assert site.bank is not None
        live = [site.bank.request_ids(r) for r in site.replicas + site.draining]
        self.ledger.forget_before(np.concatenate(live) if live else _NO_IDS, step.in_system)
        return DecodeWindow(
            regions,
            ttft,
            done.tpot,
            done.e2e + front + back,
            missed,
            step.dropped_regions,
            step.in_system + len(self.incoming.arrival_s),
            step.mean_batch,
            step.busy,
            prefill_sched + done.sched_delay,
            step.tbt,
        )

    def in_system(self) -> int:
        """Requests at the replicas, and KV caches on their way here."""
        return self.site.in_system() + len(self.incoming.arrival_s)

    def in_system_by_region(self, regions: int) -> np.ndarray:
        on_way = np.bincount(self.incoming.regions, minlength=regions)
        return self.site.in_system_by_region(regions) + on_way

    def lose_all(self) -> None:
        """The site went down: its replicas' requests are lost (the site's ``lost``), and so
        are the KV caches on their way, which find no replica."""
        self.site.lose_all()
        regions = len(self.site.lost)
        self.site.lost += np.bincount(self.incoming.regions, minlength=regions)
        self.incoming = Incoming()
