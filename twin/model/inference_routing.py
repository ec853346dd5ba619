"""Inference routing policies, chosen by name (``workloads.inference.routing``): where each
region's requests go among the sites hosting a service, window by window."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.config.schema import Service
from twin.kernels.routing import fill_nearest_first


@dataclass
class SiteView:
    """What a router knows of one hosting site at a window."""

    column: int
    """Index of the site in the scenario's site list."""
    capacity_rps: float
    """Requests/s the site's replicas complete when saturated."""
    delay_s: float
    """Mean queueing delay (wait, or TTFT beyond a prefill) seen in the last window."""


Router = Callable[[np.ndarray, np.ndarray, list[SiteView], Service], np.ndarray]
"""(region rps, rtt matrix (regions × sites), hosting sites, service) → rps per region × view."""


def nearest(
    demand: np.ndarray, rtt: np.ndarray, views: list[SiteView], service: Service
) -> np.ndarray:
    """Each region's requests go to the hosting site with the shortest round trip."""
    columns = [view.column for view in views]
    choice = np.argmin(rtt[:, columns], axis=1)
    flows = np.zeros((len(demand), len(views)))
    flows[np.arange(len(demand)), choice] = demand
    return flows


def least_latency(
    demand: np.ndarray, rtt: np.ndarray, views: list[SiteView], service: Service
) -> np.ndarray:
    """Each region's requests go where round trip + last window's queueing delay is least."""
    columns = [view.column for view in views]
    delays = np.array([view.delay_s for view in views])
    choice = np.argmin(rtt[:, columns] + delays[None, :], axis=1)
    flows = np.zeros((len(demand), len(views)))
    flows[np.arange(len(demand)), choice] = demand
    return flows


SLO_AWARE_HEADROOM = 0.9
"""slo_aware fills a site to this share of its saturation rate before spilling."""


def slo_aware(
    demand: np.ndarray, rtt: np.ndarray, views: list[SiteView], service: Service
) -> np.ndarray:
    """Fill the nearest sites first, up to their capacity, then spill to the next nearest
    whose round trip still leaves room in the latency SLO; what no site can take goes to the
    region's nearest site."""
    budget = service.slo.ttft_s or service.slo.latency_s or math.inf
    columns = [view.column for view in views]
    room = np.array([view.capacity_rps * SLO_AWARE_HEADROOM for view in views])
    return fill_nearest_first(demand, rtt[:, columns], room, budget)


ROUTINGS: dict[str, Router] = {
    "nearest": nearest,
    "least_latency": least_latency,
    "slo_aware": slo_aware,
}
"""Routing policies by the name used in ``workloads.inference.routing``."""
