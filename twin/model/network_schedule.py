"""Link capacities that change over time: ``links[i].capacity_schedule`` as SimPy processes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import simpy

from twin.config.schema import Link
from twin.model.network import Network
from twin.model.topology import link_id


def start_capacity_schedules(
    env: simpy.Environment, network: Network, links: Sequence[Link]
) -> int:
    """Start one process per link with a capacity schedule; returns how many started.

    Each step sets the link's capacity (both directions) at its time ``at`` after the
    start, through :meth:`Network.set_capacity` (the flows are re-solved at once).
    """
    started = 0
    for link in links:
        if link.capacity_schedule:
            env.process(_follow(env, network, link))
            started += 1
    return started


def _follow(env: simpy.Environment, network: Network, link: Link) -> Iterator[simpy.Event]:
    name = link_id(link.a, link.b)
    for step in link.capacity_schedule:  # validated: in increasing order of at
        if step.at > env.now:
            yield env.timeout(step.at - env.now)
        network.set_capacity(name, step.capacity_gbps)
