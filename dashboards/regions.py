"""Demand regions at a telemetry stamp, from ``inference_regions``: each region's requests
and SLO attainment per service over the interval ending there (what the map's region layer
shows)."""

from __future__ import annotations

from twin.dashboards.columns import REGION
from twin.dashboards.snapshots import count
from twin.dashboards.values import RegionService, RegionState
from twin.dashboards.views import TableView, codes


def region_states(view: TableView, t: float) -> dict[str, RegionState]:
    """Each region's services over the interval of the last stamp at or before ``t``."""
    lo, hi, _ = view.rows_at(t)
    services, service_codes = codes(view.table, REGION.service, REGION.table)
    arrivals, served, dropped, misses, rtt = (
        view.column(column)
        for column in (
            REGION.arrivals,
            REGION.served,
            REGION.dropped,
            REGION.slo_misses,
            REGION.rtt,
        )
    )
    found: dict[str, list[RegionService]] = {}
    for row in range(lo, hi):
        region, code = view.key_at(row), int(service_codes[row])
        if region is None or code < 0:
            continue
        found.setdefault(region, []).append(
            RegionService(
                services[code],
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
