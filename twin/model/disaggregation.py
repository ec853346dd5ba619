"""Prefill/decode disaggregated serving of an llm service (Splitwise, Patel et al., ISCA 2024;
DistServe, Zhong et al., OSDI 2024).

A request is routed to a site with prefill replicas and prefilled there (its first token);
its KV cache (bytes per token × prompt tokens) then moves to a decode replica, at the same
site if it has decode replicas, else at the decode site nearest by route latency, over the
interconnect or the WAN (:mod:`twin.model.kv_transfer`), and the decode pool generates the
other output tokens. A request of one output token ends at the prefill pool. Every window:
the prefill pools are stepped, their completions become decode arrivals at finish +
transfer time, and the decode pools are stepped (KV caches arriving after the window's end
wait for the next one). The user sees the first token when the decode replica holds the KV:
TTFT = prefill TTFT + transfer; TPOT from the decode pool; E2E = decode finish − arrival;
the round trip is the inbound half to the prefill site and the outbound half from the decode
site. The service's rows of inference.arrow are per site: arrivals, prefill drops and the
KV transfers sent at the prefill site, completions and decode drops at the decode site;
``in_system`` counts a site's prefills, the KV caches on their way to it and its decodes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from twin.config.errors import ConfigError, ConfigIssue
from twin.config.schema import Scenario, Service
from twin.model.disaggregation_pools import (
    DecodePool,
    DecodeWindow,
    Incoming,
    PrefillSite,
    PrefillWindow,
)
from twin.model.factory import Factory
from twin.model.kv_transfer import KVSender, kv_path, site_latency_s
from twin.model.replica_placement import placement_issue, pool_and_reason
from twin.model.request_trace import TracedRequests
from twin.model.service_site import ServiceSite, WindowResult
from twin.model.topology import Topology

if TYPE_CHECKING:
    from twin.model.inference import ServiceModel

NO_POOL_COLUMNS = (None,) * 6
"""The disaggregation columns of inference.arrow for a co-located service."""


def prefill_service(service: Service) -> Service:
    """The prefill pool of a disaggregated ``service`` as a service of its own: its replicas
    and limits, the service's where the pool leaves them unset."""
    assert service.disaggregation is not None
    pool = service.disaggregation.prefill
    update = {
        key: getattr(pool, key)
        for key in (
            "accelerators_per_replica",
            "accelerator_types",
            "scheduler",
            "max_batch",
            "token_budget",
            "max_queue",
            "iteration",
        )
        if getattr(pool, key) is not None
    }
    return service.model_copy(update={**update, "replicas": pool.replicas, "disaggregation": None})


class DisaggregatedSite:
    """One site of a disaggregated service: its prefill pool, its decode pool (either may
    be absent), and the row of inference.arrow they make together."""

    def __init__(
        self,
        factory: Factory,
        column: int,
        rtt_s: np.ndarray,
        prefill: PrefillSite | None,
        decode: DecodePool | None,
    ) -> None:
        self.factory = factory
        self.column = column
        self.rtt_s = rtt_s
        self.index = 0
        """Index among the service's sites."""
        self.prefill = prefill
        self.decode = decode
        self.lost = np.zeros(len(rtt_s), dtype=np.int64)
        """Always empty: the pools' lost requests are dropped in their site's next row."""
        self.pool_columns: tuple = NO_POOL_COLUMNS
        """The disaggregation columns of the last row (see :meth:`combine`)."""
        self.target: DecodePool | None = None
        """The decode pool this site's KV caches go to."""
        self.target_feeders = 1
        """Prefill sites sending to that decode pool."""
        self._sent = (0, 0.0)
        """KV caches sent in the window, and their bytes."""
        self._transfer_s = np.zeros(0)
        """Their transfer times [s]."""

    # ------------------------------------------------------------ as routing sees it

    @property
    def count(self) -> int:
        """Prefill replicas taking arrivals here (routing sends requests only where some)."""
        return self.prefill.count if self.prefill is not None else 0

    @property
    def decode_replicas(self) -> int:
        return self.decode.site.count if self.decode is not None else 0

    @property
    def delay_s(self) -> float:
        return self.prefill.delay_s if self.prefill is not None else 0.0

    def capacity_rps(self) -> float:
        """Requests/s the site's prefill pool completes when saturated, at most its share
        of its decode site's capacity (:meth:`ServiceSite.capacity_rps`, an under-estimate:
        that counts the prefill work the decode pool does not do)."""
        if self.prefill is None:
            return 0.0
        rate = self.prefill.capacity_rps()
        if self.target is not None:
            rate = min(rate, self.target.site.capacity_rps() / self.target_feeders)
        return rate

    # ------------------------------------------------------------ replicas and outages

    def reopen(self) -> None:
        for site in self.parts():
            site.reopen()

    def lose_all(self) -> None:
        if self.prefill is not None:
            self.prefill.lose_all()
        if self.decode is not None:
            self.decode.lose_all()

    def parts(self) -> list[ServiceSite]:
        """The pools' replicas at this site."""
        pools: list[ServiceSite] = [self.prefill] if self.prefill is not None else []
        return pools + ([self.decode.site] if self.decode is not None else [])

    def in_system(self) -> int:
        held = self.prefill.in_system() if self.prefill is not None else 0
        return held + (self.decode.in_system() if self.decode is not None else 0)

    def in_system_by_region(self, regions: int) -> np.ndarray:
        counts = np.zeros(regions, dtype=np.int64)
        if self.prefill is not None:
            counts += self.prefill.in_system_by_region(regions)
        if self.decode is not None:
            counts += self.decode.in_system_by_region(regions)
        return counts

    # ------------------------------------------------------------ one window

    def send(self, window: PrefillWindow, slo_ttft_s: float) -> WindowResult:
        """Pass the prefills completed here on (those of one output token are served here,
        the others' KV caches sent to :attr:`target`), and return this site's prefill part
        of the row: arrivals, drops and one-token completions."""
        done = window.prefilled
        assert done is not None and self.prefill is not None
        one = done.output == 1
        ends = done.subset(one)
        latency = ends.finish_s - ends.origin_s + self.rtt_s[ends.regions]
        window.served_regions = ends.regions
        window.ttft = window.latency = latency
        window.tpot = np.full(len(latency), np.nan)
        window.missed = latency > slo_ttft_s
        window.sched_delay = ends.sched_s
        sent = done.subset(~one)
        sender = self.prefill.sender
        assert sender is not None and self.target is not None
        arrival = sender.send(sent.finish_s, sent.prompt, sent.slots)
        transfer_s = arrival - sent.finish_s
        front = arrival - sent.origin_s + self.rtt_s[sent.regions] / 2
        self.target.receive(
            Incoming(arrival, sent.prompt, sent.output, sent.regions, front, sent.sched_s)
        )
        self._sent = (len(sent.prompt), float(sent.prompt.sum()) * sender.bytes_per_token)
        self._transfer_s = transfer_s
        return window

    def combine(self, prefill: WindowResult | None, decode: DecodeWindow | None) -> WindowResult:
        """The site's row: the prefill part (arrivals, its drops, one-token completions)
        with the decode part (completions, its drops); lost requests of either pool are
        dropped here. Sets :attr:`pool_columns`."""
        row = prefill if prefill is not None else WindowResult()
        parts = [row.dropped_regions]
        for site in self.parts():
            if site.lost.any():
                parts.append(np.repeat(np.arange(len(site.lost)), site.lost))
                site.lost = np.zeros_like(site.lost)
        if decode is not None:
            parts.append(decode.dropped_regions)
            row.served_regions = np.concatenate([row.served_regions, decode.served_regions])
            row.ttft = np.concatenate([row.ttft, decode.ttft])
            row.tpot = np.concatenate([row.tpot, decode.tpot])
            row.latency = np.concatenate([row.latency, decode.latency])
            row.missed = np.concatenate([row.missed, decode.missed])
            row.sched_delay = np.concatenate([row.sched_delay, decode.sched_delay])
            row.tbt = decode.tbt  # prefills produce one token each: no gaps
            row.in_system += decode.in_system
        row.dropped_regions = np.concatenate(parts)
        row.dropped = len(row.dropped_regions)
        prefill_busy = row.busy
        row.mean_batch = decode.mean_batch if decode is not None else math.nan
        row.busy = decode.busy if decode is not None else 0.0
        self.pool_columns = self._columns(prefill_busy if prefill is not None else None)
        return row

    def _columns(self, prefill_busy: float | None) -> tuple:
        """prefill_replicas, prefill_busy, kv_transfers, kv_transfer_bytes, and the mean and
        p99 transfer time [ms] of the KV caches sent from here in the window."""
        if self.prefill is None:
            return (0, None, 0, 0.0, None, None)
        sent, sent_bytes = self._sent
        seconds = self._transfer_s
        mean = float(seconds.mean()) * 1000 if len(seconds) else None
        p99 = float(np.percentile(seconds, 99)) * 1000 if len(seconds) else None
        return (self.prefill.count, prefill_busy, sent, sent_bytes, mean, p99)


class Disaggregation:
    """The pools of one disaggregated service across its sites, and each window's pass
    through them."""

    def __init__(
        self,
        owner: ServiceModel,
        scenario: Scenario,
        factories: list[Factory],
        topology: Topology | None,
    ) -> None:
        service = owner.service
        spec = service.disaggregation
        assert spec is not None
        path = f"workloads.inference.services[{owner.index}]"
        prefill_spec = prefill_service(service)
        prefill = self._pools(owner, factories, prefill_spec, f"{path}.disaggregation.prefill")
        decode = self._pools(owner, factories, service, path)
        self.sites: list[DisaggregatedSite] = []
        pools: dict[str, DecodePool] = {}
        for column, factory in enumerate(factories):
            pre, dec = prefill.get(factory.id), decode.get(factory.id)
            if pre is None and dec is None:
                continue
            pool = DecodePool(dec) if dec is not None else None
            if pool is not None:
                pools[factory.id] = pool
            rtt = np.ascontiguousarray(owner.rtt[:, column])
            self.sites.append(DisaggregatedSite(factory, column, rtt, pre, pool))
        for number, site in enumerate(self.sites):
            site.index = number
        assert service.model is not None or spec.kv_transfer.bytes_per_token is not None
        bytes_per_token = spec.kv_transfer.bytes_per_token or service.model.kv_bytes_per_token
        issues = []
        for site in self.sites:
            if site.prefill is None:
                continue
            target = site.factory.id
            if target not in pools:
                target = min(
                    pools, key=lambda d: site_latency_s(scenario, topology, site.factory.id, d)
                )
            nic_gbps = prefill_spec.accelerators_per_replica * spec.kv_transfer.interconnect_gbps
            found = kv_path(
                scenario,
                topology,
                spec.kv_transfer,
                site.factory.id,
                target,
                nic_gbps,
                f"{path}.disaggregation.kv_transfer",
            )
            if isinstance(found, ConfigIssue):
                issues.append(found)
                continue
            site.prefill.sender = KVSender(found, bytes_per_token)
            site.target = pools[target]
        if issues:
            raise ConfigError(issues)
        feeders = [site.target for site in self.sites if site.target is not None]
        for site in self.sites:
            site.target_feeders = sum(pool is site.target for pool in feeders)
        self.slo_ttft_s = math.inf if service.slo.ttft_s is None else service.slo.ttft_s

    @staticmethod
    def _pools(owner: ServiceModel, factories: list[Factory], service: Service, path: str) -> dict:
        """The replicas of ``service`` (a pool) at each of its sites that can hold one; a
        config error if none can."""
        made = {}
        unplaced: dict[str, dict] = {}
        decoding = service is owner.service
        kind = ServiceSite if decoding else PrefillSite
        for column, factory in enumerate(factories):
            if factory.id not in service.replicas:
                continue
            pool, model, why = pool_and_reason(service, factory)
            if pool is None:
                unplaced[factory.id] = why
                continue
            count = service.replicas[factory.id]
            made[factory.id] = kind(
                owner,
                factory,
                column,
                count,
                pool,
                model,
                service=service,
                prefilled=decoding,
            )
        if not made:
            raise ConfigError([placement_issue(path, service, unplaced)])
        return made

    def window(
        self,
        start: float,
        end: float,
        rates: np.ndarray,
        traced: list[TracedRequests] | None,
    ) -> list[WindowResult]:
        """Serve the window [start, end) at every site: prefill, KV transfer, decode."""
        parts: list[WindowResult | None] = []
        for site in self.sites:
            if site.prefill is None:
                parts.append(None)
                continue
            part = traced[site.index] if traced is not None else None
            result = site.prefill.window(start, end, rates[:, site.index], part)
            assert isinstance(result, PrefillWindow)
            parts.append(site.send(result, self.slo_ttft_s))
        rows = []
        for site, prefill in zip(self.sites, parts, strict=True):
            decode = site.decode.serve(end) if site.decode is not None else None
            rows.append(site.combine(prefill, decode))
        return rows
