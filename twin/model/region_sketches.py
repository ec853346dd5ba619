"""The latency sketches of a service's requests by demand region, gathered over a telemetry
interval and written with its rows of ``inference_regions.arrow`` (so that a region's
percentiles over any span are read as a site's are, :mod:`twin.trace.sketches`)."""

from __future__ import annotations

import numpy as np

from twin.kernels.sketch import BUCKETS, count_by_group, sparse
from twin.model.service_site import WindowResult


class RegionSketches:
    """Dense histograms of TTFT, TPOT, latency and scheduling delay per region since the
    last flush (and an empty one of TBT, which is counted per site: the requests of every
    region share a replica's iterations)."""

    def __init__(self, regions: int) -> None:
        self.dense = np.zeros((5, regions, BUCKETS), dtype=np.int64)

    def add(self, result: WindowResult) -> None:
        """Count a window's served requests by their region (``single``: latency only)."""
        regions = result.served_regions
        per_request = (result.ttft, result.tpot, result.latency, None, result.sched_delay)
        for m, values in enumerate(per_request):
            if values is not None and len(values) and len(values) == len(regions):
                count_by_group(values, regions, self.dense[m])

    def columns(self, region: int) -> tuple:
        """The ten sketch columns of ``region``'s row (bins, counts of each; None if empty)."""
        out: list = []
        for m in range(self.dense.shape[0]):
            pair = sparse(self.dense[m, region])
            out += pair if pair is not None else (None, None)
        return tuple(out)

    def clear(self) -> None:
        self.dense.fill(0)
