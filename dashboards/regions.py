"""Demand regions at a telemetry stamp, from ``inference_regions``: each region's requests
and SLO attainment per service over the interval ending there (what the map's region layer
shows), and the busiest interval of any region (so a region's size means the same at
every time)."""

from __future__ import annotations

from functools import cached_property

import numpy as np
from twin.dashboards.columns import REGION
from twin.dashboards.snapshots import count
from twin.dashboards.values import RegionService, RegionState
from twin.dashboards.views import TableView, codes


class RegionTable:
    """``inference_regions`` sorted by time, its services encoded once."""

    def __init__(self, view: TableView) -> None:
        self.view = view
        self.services, self.service_codes = codes(view.table, REGION.service, REGION.table)

    @cached_property
    def peak(self) -> int:
        """The most requests one region sent in one interval (its services added up)."""
        view = self.view
        if not len(view):
            return 0
        arrivals = np.nan_to_num(view.column(REGION.arrivals))
        stamps = np.unique(view.times, return_inverse=True)[1]
        keys = stamps * (len(view.keys) + 1) + (view.codes + 1)
        sums = np.bincount(keys, weights=arrivals)
        return count(float(sums.max())) if len(sums) else 0

    def states_at(self, t: float) -> dict[str, RegionState]:
        """Each region's services over the interval of the last stamp at or before ``t``
        (none before the first stamp: that interval has not ended yet)."""
        view = self.view
        lo, hi, stamp = view.rows_at(t)
        if stamp is None or stamp > t:
            return {}
        columns = (REGION.arrivals, REGION.served, REGION.dropped, REGION.slo_misses, REGION.rtt)
        arrivals, served, dropped, misses, rtt = (view.column(column) for column in columns)
        found: dict[str, list[RegionService]] = {}
        for row in range(lo, hi):
            region, code = view.key_at(row), int(self.service_codes[row])
            if region is None or code < 0:
                continue
            found.setdefault(region, []).append(
                RegionService(
                    self.services[code],
                    count(arrivals[row]),
                    count(served[row]) + count(dropped[row]),
                    count(misses[row]),
                    float(rtt[row]),
                )
            )
        return {
            region: RegionState(region, tuple(sorted(rows, key=lambda s: s.service)))
            for region, rows in found.items()
        }
