"""Background bulk transfers between sites: a Poisson stream of flows sharing the links."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import simpy

from twin.config.schema import BulkTransfers, Scenario
from twin.model.calendar import DAY_S
from twin.model.distributions import WeightedIndex, one_by_one
from twin.model.network import Network
from twin.model.rng import stream

GB = 1e9


class BulkTransferWorkload:
    """Starts bulk transfers between weighted random site pairs until the horizon."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, network: Network) -> None:
        spec: BulkTransfers | None = scenario.workloads.transfers
        assert spec is not None
        self.env = env
        self.network = network
        self.horizon_s = scenario.horizon
        self.mean_gap_s = DAY_S / spec.arrivals_per_day
        capacity = {site.id: float(sum(p.count for p in site.pools)) for site in scenario.sites}
        self.sources, source_p = _weights(spec.sources or capacity)
        self.destinations, destination_p = _weights(spec.destinations or capacity)
        self._source, self._destination = WeightedIndex(source_p), WeightedIndex(destination_p)
        self.size_gb = one_by_one(spec.size_gb, stream(scenario.seed, "transfers.size"))
        self.rng = stream(scenario.seed, "transfers.arrivals")
        self.started = 0

    def run(self) -> Iterator[simpy.Event]:
        while True:
            gap = float(self.rng.exponential(self.mean_gap_s))
            if self.env.now + gap >= self.horizon_s:
                return
            yield self.env.timeout(gap)
            source, destination = self._pair()
            if source is None or destination is None:
                continue
            size = max(0.0, next(self.size_gb)) * GB
            self.network.send(source, destination, size, "bulk")
            self.started += 1

    def _pair(self) -> tuple[str | None, str | None]:
        """A reachable (source, destination) pair of distinct sites, drawn by weight."""
        for _ in range(32):
            source = self.sources[self._source(self.rng)]
            destination = self.destinations[self._destination(self.rng)]
            if source != destination and self.network.reachable(source, destination):
                return source, destination
        return None, None


def _weights(mapping: dict[str, float]) -> tuple[list[str], np.ndarray]:
    names = list(mapping)
    weights = np.asarray([mapping[name] for name in names], dtype=float)
    return names, weights / weights.sum()
