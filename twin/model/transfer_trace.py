"""Transfer list replay (``workloads.transfers.trace``): a known set of data movements
started at their (mapped) times, beside or instead of the Poisson bulk transfers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import simpy

from twin.config.data_files import trace_file
from twin.config.schema import Scenario
from twin.importers.common import MAX_ERRORS_SHOWN, TraceFormatError
from twin.importers.transfer_list import read_transfer_list, transfer_list_problems
from twin.model.network import Network
from twin.replay.clock import replay_times


class TransferTraceReplay:
    """Starts every transfer of the list that falls in the replay window and before the
    horizon, as a ``bulk`` transfer carrying its label."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, network: Network) -> None:
        transfers = scenario.workloads.transfers
        assert transfers is not None and transfers.trace is not None
        spec = transfers.trace
        path = trace_file(spec.file)
        table = read_transfer_list(path, spec.format)
        topology = network.topology
        problems = transfer_list_problems(
            table,
            set(topology.graph.nodes),
            lambda a, b: topology.route_uncut(a, b) is not None,
        )
        if problems:
            raise TraceFormatError(path, problems[:MAX_ERRORS_SHOWN], len(problems))
        kept, at_s = replay_times(table["start_s"].to_numpy(), spec, scenario.horizon)
        order = np.argsort(at_s, kind="stable")  # an Arrow list need not be in order
        rows, at_s = table.take(kept[order]), at_s[order]
        self.env = env
        self.network = network
        self.transfers = list(
            zip(
                at_s.tolist(),
                rows["source"].to_pylist(),
                rows["destination"].to_pylist(),
                rows["bytes"].to_pylist(),
                rows["label"].to_pylist(),
                strict=True,
            )
        )
        """(scenario time, source, destination, bytes, label) of each transfer replayed."""
        self.started = 0

    def run(self) -> Iterator[simpy.Event]:
        for at_s, source, destination, nbytes, label in self.transfers:
            if at_s > self.env.now:
                yield self.env.timeout(at_s - self.env.now)
            self.network.send(source, destination, nbytes, "bulk", label=label)
            self.started += 1
