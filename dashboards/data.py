"""One run as the dashboard sees it: :class:`RunData` answers the questions the pages ask
(the state of the network at time ``t``, a site's series, a page of jobs).

Its costs depend on what is shown, not on the trace's length: the state at ``t`` is found by
binary search on the sorted time column, series are downsampled to at most ``max_points``
points (bucketed min/max), a page of jobs is a slice. Every derived value (views, summary,
series, job tables, histograms) is built once per run, single-flight under concurrency
(:class:`~twin.dashboards.memo.Memo`). What a malformed table makes pyarrow or numpy raise
becomes ``malformed: <what>: <why>`` (a :class:`RunError`), logged in one line.

Where runs come from, and their containment in the runs directory, is
:mod:`twin.dashboards.store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
from twin.dashboards.columns import (
    FAULT,
    INFERENCE,
    JOB,
    LINK,
    REGION,
    SITE,
    TRANSFER,
    check_columns,
)
from twin.dashboards.errors import MalformedError, RunError
from twin.dashboards.faults import FaultHistory
from twin.dashboards.geo import Geo, load_yaml, parse_geo
from twin.dashboards.inference_panels import ServiceSpec, service_panels, service_specs
from twin.dashboards.jobs import JobsView, transfer_histogram
from twin.dashboards.limits import MAX_TIME_S, SERIES_CACHE_SIZE
from twin.dashboards.memo import Memo
from twin.dashboards.regions import RegionTable
from twin.dashboards.snapshots import link_states, site_states
from twin.dashboards.values import (
    Histogram,
    JobFilter,
    Line,
    Panel,
    RegionState,
    Snapshot,
    Timeline,
    finite,
    kpis_in_order,
)
from twin.dashboards.views import TableView, codes, converted, downsample, group_sum

from twin.trace.reader import Run
from twin.trace.summary import Summary, summarize

MAX_POINTS = 1500
"""Default bound on the points of one line of a time series."""

T = TypeVar("T")


class RunData:
    """A run opened for the dashboard (``run`` reads only checked files of it)."""

    def __init__(
        self,
        name: str,
        run: Run,
        *,
        geo: Geo | None = None,
        config: Any = None,
        token: Any = None,
    ) -> None:
        self.name = name
        self.run = run
        self.token = token if token is not None else id(self)
        """Identifies this version of the run in caches shared between runs."""
        self._geo = geo
        self._config = config
        """The parsed ``config.yaml`` if the store has read it (else read on demand)."""
        self._parts: Memo[Any] = Memo()
        self._series: Memo[Any] = Memo(size=SERIES_CACHE_SIZE)

    def _once(self, key: Any, what: str, build: Callable[[], T], memo: Memo | None = None) -> T:
        """``build()`` once per key; what it raises on bad data becomes ``malformed: what``."""
        memo = self._parts if memo is None else memo
        return memo.get(key, lambda: converted(what, build))

    # -- metadata --------------------------------------------------------------------------

    @property
    def manifest(self) -> dict[str, Any]:
        return self.run.manifest

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def scenario(self) -> str:
        return self.run.scenario

    @property
    def geo(self) -> Geo:
        if self._geo is None:
            self._geo = parse_geo(self.run.config_text)
        return self._geo

    @cached_property
    def start(self) -> dt.datetime:
        """The scenario's start (UTC, naive), the origin of every ``time_s``."""
        try:
            start = dt.datetime.fromisoformat(str(self.manifest.get("start"))[:64])
            if start.tzinfo is not None:
                start = start.astimezone(dt.timezone.utc).replace(tzinfo=None)
        except (ValueError, OverflowError, TypeError):
            return dt.datetime(2000, 1, 1)
        return start

    def has(self, table: str) -> bool:
        return self.run.has(table)

    def view(self, table: str, time: str, key: str) -> TableView:
        """The table sorted by time with its key encoded (built once; RunError if unreadable
        or malformed)."""

        def build() -> TableView:
            data = self.run.table(table)
            check_columns(table, data.schema)
            return TableView(data, time, key, table)

        return self._once(("view", table), table, build)

    @property
    def sites(self) -> TableView:
        return self.view(SITE.table, SITE.time, SITE.site)

    @property
    def links(self) -> TableView | None:
        return self.view(LINK.table, LINK.time, LINK.link) if self.has(LINK.table) else None

    @property
    def inference(self) -> TableView | None:
        if not self.has(INFERENCE.table):
            return None
        return self.view(INFERENCE.table, INFERENCE.time, INFERENCE.site)

    @property
    def timeline(self) -> Timeline:
        return self._once("timeline", SITE.table, self._timeline)

    def _timeline(self) -> Timeline:
        stamps = self.sites.stamps
        horizon = finite(self.manifest.get("horizon_s")) or 0.0
        horizon = min(max(horizon, 0.0), MAX_TIME_S)
        if not len(stamps):
            return Timeline(0.0, horizon, max(horizon, 1.0))
        step = float(stamps[1] - stamps[0]) if len(stamps) > 1 else max(float(stamps[0]), 1.0)
        return Timeline(float(stamps[0]), float(stamps[-1]), step)

    @property
    def summary(self) -> Summary:
        """``twin summary``'s figures (RunError ``malformed: summary: …`` if the tables
        don't allow them)."""
        return self._once("summary", "summary", lambda: summarize(self.run))

    def kpis(self) -> dict[str, float]:
        """The same numbers as ``twin summary`` (:meth:`Summary.kpis`), goodput next to
        utilisation."""
        return self._once("kpis", "summary", lambda: kpis_in_order(self.summary.kpis()))

    @property
    def faults(self) -> FaultHistory | None:
        """Outages, cuts and failures (:mod:`twin.dashboards.faults`); None without faults."""
        if not self.has(FAULT.table):
            return None
        return self._once(
            "faults", FAULT.table, lambda: FaultHistory.from_table(self.run.table(FAULT.table))
        )

    # -- replay ----------------------------------------------------------------------------

    def snapshot(self, t: float) -> Snapshot:
        """Sites (and links, demand regions, when traced) at the last stamp at or before
        ``t``; the sites down and links cut at ``t`` itself.

        Cost: binary searches and the rows of one stamp, whatever the run's length.
        """
        faults = self.faults
        down, cut = (faults.down_at(t), faults.cut_at(t)) if faults is not None else (None, None)
        links = self.links
        return Snapshot(
            float(t),
            self.sites.rows_at(t)[2],
            site_states(self.sites, t),
            None
            if links is None
            else link_states(links, t, self._link_ends(LINK.a), self._link_ends(LINK.b)),
            down,
            cut,
            *self._regions_at(t),
        )

    @property
    def regions(self) -> RegionTable | None:
        """``inference_regions`` ready for the map (None: the run has none)."""
        if not self.has(REGION.table):
            return None
        return self._once(
            "regions",
            REGION.table,
            lambda: RegionTable(self.view(REGION.table, REGION.time, REGION.region)),
        )

    def _regions_at(self, t: float) -> tuple[dict[str, RegionState] | None, int]:
        """The demand regions over the interval at ``t`` and the most requests a region sent
        in any interval (None, 0: none traced, or the table is unreadable: the map still
        draws, without them)."""
        try:
            table = self.regions
            return (table.states_at(t), table.peak) if table is not None else (None, 0)
        except RunError:
            return None, 0

    def _link_ends(self, column: str) -> tuple[list[str], np.ndarray]:
        return self._once(
            ("ends", column),
            LINK.table,
            lambda: codes(self.links.table, column, LINK.table),  # type: ignore[union-attr]
        )

    # -- series ----------------------------------------------------------------------------

    def site_series(self, site: str, max_points: int = MAX_POINTS) -> list[Panel]:
        """Busy accelerators, queue, power and CO2 of one site; when it serves inference,
        each service's latencies against its SLO and the site's SLO misses."""
        return self._once(
            ("site", site, max_points),
            SITE.table,
            lambda: self._site_series(site, max_points),
            self._series,
        )

    def _site_series(self, site: str, max_points: int) -> list[Panel]:
        view = self.sites
        rows = view.rows_of(site)
        x = view.times[rows]

        def line(name: str, column: str, dash: str | None = None) -> Line:
            return Line(name, *downsample(x, view.column(column)[rows], max_points), dash=dash)

        node = self.geo.nodes.get(site)
        power = [line("power", SITE.power)]
        caps = view.column(SITE.power_cap)[rows] if view.has(SITE.power_cap) else None
        if caps is not None and len(x) and np.isfinite(caps).all():
            power.append(line("power cap", SITE.power_cap, dash="dot"))  # it may follow a schedule
        elif node is not None and node.power_mw is not None and len(x):
            power.append(Line("power cap", x[[0, -1]], np.full(2, node.power_mw), dash="dot"))
        panels = [
            Panel(
                "accelerators",
                (line("busy", SITE.busy), line("installed", SITE.total, dash="dot")),
            ),
            Panel("queue (jobs)", (line("queued jobs", SITE.queue),)),
            Panel("power (MW)", tuple(power)),
            Panel("CO2 (t per interval)", (line("CO2", SITE.co2),)),
        ]
        return panels + self._inference_panels(site, max_points)

    def _inference_panels(self, site: str, max_points: int) -> list[Panel]:
        """Each service at the site as its SLOs define it
        (:mod:`twin.dashboards.inference_panels`), then the site's SLO misses."""
        view = self.inference
        if view is None:
            return []
        rows = view.rows_of(site)
        if not len(rows):
            return []
        services, service_codes = self._once(
            "services",
            INFERENCE.table,
            lambda: codes(view.table, INFERENCE.service, INFERENCE.table),
        )
        panels = service_panels(view, rows, services, service_codes, self.services, max_points)
        x = view.times[rows]
        stamps, misses = group_sum(x, view.column(INFERENCE.slo_misses)[rows])
        return [
            *panels,
            Panel("SLO misses", (Line("SLO misses", *downsample(stamps, misses, max_points)),)),
        ]

    @property
    def services(self) -> dict[str, ServiceSpec]:
        """Each inference service's kind and SLO, from the resolved config and the manifest
        (an unreadable config: the manifest's SLOs only)."""

        def build() -> dict[str, ServiceSpec]:
            config = self._config
            if config is None:
                text = self.run.config_text
                try:
                    config = load_yaml(text) if text.strip() else {}
                except MalformedError:
                    config = {}
            return service_specs(config, self.manifest)

        return self._once("service specs", "config.yaml", build)

    def link_series(self, link: str, max_points: int = MAX_POINTS) -> list[Panel]:
        """Throughput, utilisation and active flows of one link, one line per direction."""
        return self._once(
            ("link", link, max_points),
            LINK.table,
            lambda: self._link_series(link, max_points),
            self._series,
        )

    def _link_series(self, link: str, max_points: int) -> list[Panel]:
        view = self.links
        if view is None:
            return []
        rows = view.rows_of(link)
        a_keys, a_codes = self._link_ends(LINK.a)
        b_keys, b_codes = self._link_ends(LINK.b)
        directions: dict[tuple[int, int], list[int]] = {}
        for row in rows:
            directions.setdefault((int(a_codes[row]), int(b_codes[row])), []).append(int(row))
        columns = {
            "throughput (Gbps)": LINK.throughput,
            "utilisation": LINK.utilisation,
            "flows": LINK.active_flows,
        }
        panels: dict[str, list[Line]] = {title: [] for title in columns}
        for (a, b), picked in directions.items():
            index = np.asarray(picked)
            name = f"{a_keys[a] if a >= 0 else '?'} → {b_keys[b] if b >= 0 else '?'}"
            x = view.times[index]
            for title, column in columns.items():
                y = view.column(column)[index]
                panels[title].append(Line(name, *downsample(x, y, max_points)))
        return [Panel(title, tuple(lines)) for title, lines in panels.items()]

    def totals(self, max_points: int = MAX_POINTS) -> list[Panel]:
        """Network-wide busy accelerators, power and queue over time (summed over sites), and
        the energy, CO2 and electricity cost used so far (where the run traces them)."""
        return self._once(
            ("totals", max_points), SITE.table, lambda: self._totals(max_points), self._series
        )

    def _totals(self, max_points: int) -> list[Panel]:
        view = self.sites
        panels = []
        for title, column in (
            ("busy accelerators", SITE.busy),
            ("power (MW)", SITE.power),
            ("queued jobs", SITE.queue),
        ):
            stamps, sums = group_sum(view.times, view.column(column))
            panels.append(Panel(title, (Line(self.name, *downsample(stamps, sums, max_points)),)))
        # what the network has used so far: the intervals' amounts added up
        for title, column, scale in (
            ("energy so far (MWh)", SITE.energy, 1.0),
            ("CO2 so far (t)", SITE.co2, 1.0),
            ("electricity cost so far (k€)", SITE.cost, 1e-3),
        ):
            if not view.has(column):
                continue
            stamps, sums = group_sum(view.times, view.column(column))
            so_far = np.cumsum(np.nan_to_num(sums)) * scale
            panels.append(Panel(title, (Line(self.name, *downsample(stamps, so_far, max_points)),)))
        return panels

    # -- jobs and transfers ----------------------------------------------------------------

    @property
    def jobs_view(self) -> JobsView:
        return self._once("jobs", JOB.table, lambda: JobsView(self.run.table(JOB.table)))

    @property
    def jobs(self) -> pa.Table:
        """The jobs table as shown: ``JOB_FIELDS``, times in hours (built once)."""
        return self.jobs_view.table

    def job_choices(self) -> dict[str, list[str]]:
        """Distinct sites, tenants and states (for the filter dropdowns)."""
        return self.jobs_view.choices()

    def ignored_filter_terms(self, query: str) -> list[str]:
        """The parts of a filter query that are not terms on a column of the jobs table."""
        return self.jobs_view.ignored_terms(query)

    def jobs_page(
        self,
        chosen: JobFilter | None = None,
        query: str = "",
        sort_by: Sequence[dict[str, str]] = (),
        page: int = 0,
        page_size: int = 20,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the (filtered, sorted) jobs as records, and how many rows match."""
        return self.jobs_view.page(chosen or JobFilter(), query, sort_by, page, page_size)

    def wait_histogram(self, chosen: JobFilter | None = None, bins: int = 40) -> Histogram:
        """Waits (h) of the jobs that started, among the filtered ones."""
        return self.jobs_view.wait_histogram(chosen or JobFilter(), bins)

    def transfer_histogram(self, bins: int = 40) -> Histogram | None:
        """Transfer durations (s, log bins) by kind; None when the run has no transfers."""
        if not self.has(TRANSFER.table):
            return None
        return self._once(
            ("transfers", bins),
            TRANSFER.table,
            lambda: transfer_histogram(self.run.table(TRANSFER.table), bins),
        )


__all__ = ["MAX_POINTS", "RunData"]
