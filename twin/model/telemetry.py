"""Site telemetry: one sample per site at the end of every interval."""

from __future__ import annotations

from collections.abc import Iterator

import simpy

from twin.model.factory import J_PER_MWH, Factory
from twin.model.network import Network
from twin.model.recorder import Recorder


class Sampler:
    """A SimPy process that calls :meth:`sample` every ``interval_s``; the world calls it
    once more at the end of the run for the last, partial interval."""

    env: simpy.Environment
    interval_s: float

    def run(self) -> Iterator[simpy.Event]:
        while True:
            yield self.env.timeout(self.interval_s)
            self.sample()

    def sample(self) -> None:
        raise NotImplementedError


class SiteTelemetry(Sampler):
    """Samples every factory each ``interval_s`` and at the end of the run."""

    def __init__(
        self,
        env: simpy.Environment,
        factories: list[Factory],
        interval_s: float,
        recorder: Recorder,
    ) -> None:
        self.env = env
        self.factories = factories
        self.interval_s = interval_s
        self.recorder = recorder
        self.last_s = 0.0
        self._previous = {factory.id: (0.0, 0.0, 0.0, 0.0, 0.0) for factory in factories}

    def sample(self) -> None:
        """Record every site over (last sample, now]; called by the process and at the end."""
        now = self.env.now
        span = now - self.last_s
        if span <= 0:
            return
        for factory in self.factories:
            meter = factory.meter
            meter.advance(now)
            totals = (
                meter.energy_j,
                meter.co2_g,
                meter.cost_eur,
                meter.busy_accelerator_s,
                meter.over_cap_s,
            )
            before = self._previous[factory.id]
            energy_j, co2_g, cost_eur, busy_s, over_cap_s = (
                a - b for a, b in zip(totals, before, strict=True)
            )
            self._previous[factory.id] = totals
            self.recorder.site_sample(
                (
                    now,
                    factory.id,
                    factory.online,
                    factory.total_accelerators,
                    factory.busy_accelerators,
                    len(factory.running),
                    len(factory.queue),
                    factory.queued_accelerators,
                    busy_s / (factory.total_accelerators * span),
                    factory.power_w / 1e6,
                    energy_j / span / 1e6,
                    energy_j / J_PER_MWH,
                    co2_g / 1e6,
                    cost_eur,
                    factory.carbon_now(),
                    factory.price_now(),
                    factory.cap_mw,
                    over_cap_s,
                )
            )
        self.last_s = now


class LinkTelemetry(Sampler):
    """Samples every channel of the network each ``interval_s`` and at the end of the run."""

    def __init__(
        self, env: simpy.Environment, network: Network, interval_s: float, recorder: Recorder
    ) -> None:
        self.env = env
        self.network = network
        self.interval_s = interval_s
        self.recorder = recorder
        self.last_s = 0.0
        self._previous_bits = network.channel_bits.copy()

    def sample(self) -> None:
        now = self.env.now
        span = now - self.last_s
        if span <= 0:
            return
        network = self.network
        network.advance()
        bits = network.channel_bits.copy()
        throughput_gbps = ((bits - self._previous_bits) / span / 1e9).tolist()
        self._previous_bits = bits
        capacities = network.capacity_gbps.tolist()
        up = network.topology.channel_up.tolist()
        flows = network.channel_flows.tolist()
        record = self.recorder.link_sample
        for channel in network.topology.channels:
            i = channel.index
            capacity, throughput = capacities[i], throughput_gbps[i]
            record(
                (
                    now,
                    channel.link,
                    channel.a,
                    channel.b,
                    capacity if up[i] else 0.0,  # a cut link carries nothing now
                    throughput,
                    throughput / capacity,  # over the interval, of its capacity when up
                    flows[i],
                )
            )
        self.last_s = now
