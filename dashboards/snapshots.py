"""The network at one telemetry stamp, from the sites and links tables: each site's state
and each link's (its busier direction), what the map draws."""

from __future__ import annotations

import numpy as np
from twin.dashboards.columns import LINK, SITE
from twin.dashboards.values import LinkState, SiteState
from twin.dashboards.views import TableView


def site_states(view: TableView, t: float) -> dict[str, SiteState]:
    """Each site at the last stamp at or before ``t``."""
    lo, hi, _ = view.rows_at(t)
    columns = [
        view.column(c)
        for c in (SITE.online, SITE.total, SITE.busy, SITE.queue, SITE.utilisation, SITE.power)
    ]
    online, total, busy, queue, util, power = columns
    carbon, price = (view.column(c) if view.has(c) else None for c in (SITE.carbon, SITE.price))
    sites = {}
    for row in range(lo, hi):
        site = view.key_at(row)
        if site is not None:
            sites[site] = SiteState(
                site,
                bool(online[row] > 0),
                count(total[row]),
                count(busy[row]),
                count(queue[row]),
                float(util[row]),
                float(power[row]),
                _finite_at(carbon, row),
                _finite_at(price, row),
            )
    return sites


def link_states(
    view: TableView,
    t: float,
    a_ends: tuple[list[str], np.ndarray],
    b_ends: tuple[list[str], np.ndarray],
) -> dict[str, LinkState]:
    """Each link at the last stamp at or before ``t``: its busier direction, and the flows
    of both (``a_ends``/``b_ends``: the encoded end columns)."""
    lo, hi, _ = view.rows_at(t)
    a_keys, a_codes = a_ends
    b_keys, b_codes = b_ends
    cap, thr = view.column(LINK.capacity), view.column(LINK.throughput)
    util, flows = view.column(LINK.utilisation), view.column(LINK.active_flows)
    states: dict[str, LinkState] = {}
    for row in range(lo, hi):
        link = view.key_at(row)
        if link is None:
            continue
        old = states.get(link)
        flows_here = count(flows[row]) + (old.active_flows if old else 0)
        if old is None or util[row] > old.utilisation:
            states[link] = LinkState(
                link,
                a_keys[a_codes[row]] if a_codes[row] >= 0 else "",
                b_keys[b_codes[row]] if b_codes[row] >= 0 else "",
                float(cap[row]),
                float(thr[row]),
                float(util[row]),
                flows_here,
            )
        else:
            states[link] = LinkState(
                old.link,
                old.a,
                old.b,
                old.capacity_gbps,
                old.throughput_gbps,
                old.utilisation,
                flows_here,
            )
    return states


def _finite_at(column: np.ndarray | None, row: int) -> float | None:
    """``column[row]`` if the column exists and the value is finite, else None."""
    if column is None or not np.isfinite(column[row]):
        return None
    return float(column[row])


def count(value: float) -> int:
    """A count as an int (non-finite or absurd values: 0)."""
    return int(value) if np.isfinite(value) and abs(value) < 1e15 else 0
