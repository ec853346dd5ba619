"""Data access for the dashboard, over :func:`twin.trace.reader.open_run`.

- **Where runs come from**: :class:`RunStore` lists the run directories under one runs
  directory and opens only those: a name that resolves outside it (``../``, an absolute path,
  a symlink pointing out) is refused with :class:`RunAccessError`.
- **What a run holds**: :class:`RunData` wraps a memory-mapped :class:`~twin.trace.reader.Run`
  and answers the questions the pages ask (the state of the network at time ``t``, a site's
  series, a page of jobs). Its costs depend on what is shown, not on the trace's length: the
  state at ``t`` is found by binary search on the sorted time column, series are downsampled
  to at most ``max_points`` points (bucketed min/max) and cached, a page of jobs is a slice.
- **Caching**: one :class:`RunData` per run directory, keyed by its path and its manifest's
  modification time (a rewritten run is reloaded), in a small LRU.
- **Column names** of the trace tables the dashboard reads are below, in one place. ``links``
  and ``inference`` follow the planned schemas; pages hide their panels when a run lacks them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import yaml

from twin.trace.reader import Run, RunError, open_run
from twin.trace.summary import Summary, summarize
from twin.trace.writer import MANIFEST

# ---------------------------------------------------------------------------------------------
# Column names (the one place to adjust when a schema changes)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteColumns:
    """``sites.arrow``: site × telemetry interval."""

    table: str = "sites"
    time: str = "time_s"
    site: str = "site"
    online: str = "online"
    total: str = "total_accelerators"
    busy: str = "busy_accelerators"
    queue: str = "queue_length"
    utilisation: str = "utilisation"
    power: str = "power_mw"
    co2: str = "co2_t"


@dataclass(frozen=True)
class LinkColumns:
    """``links.arrow``: link direction × telemetry interval."""

    table: str = "links"
    time: str = "time_s"
    link: str = "link"
    a: str = "a"
    b: str = "b"
    capacity: str = "capacity_gbps"
    throughput: str = "throughput_gbps"
    utilisation: str = "utilisation"
    active_flows: str = "active_flows"


@dataclass(frozen=True)
class InferenceColumns:
    """``inference.arrow``: service × site × window."""

    table: str = "inference"
    time: str = "time_s"
    service: str = "service"
    site: str = "site"
    arrivals: str = "arrivals"
    served: str = "served"
    dropped: str = "dropped"
    latency_p99: str = "latency_p99_ms"
    slo_misses: str = "slo_misses"


@dataclass(frozen=True)
class TransferColumns:
    """``transfers.arrow``: one row per transfer."""

    table: str = "transfers"
    kind: str = "kind"
    source: str = "source"
    destination: str = "destination"
    bytes: str = "bytes"
    start: str = "start_s"
    end: str = "end_s"


@dataclass(frozen=True)
class JobColumns:
    """``jobs.arrow``: one row per job."""

    table: str = "jobs"
    job: str = "job"
    tenant: str = "tenant"
    state: str = "state"
    site: str = "site"
    start: str = "start_s"
    wait: str = "wait_s"


SITE = SiteColumns()
LINK = LinkColumns()
INFERENCE = InferenceColumns()
TRANSFER = TransferColumns()
JOB = JobColumns()


def link_id(a: str, b: str) -> str:
    """The trace's id of the configured link between ``a`` and ``b``."""
    return f"{a}~{b}"


@dataclass(frozen=True)
class JobField:
    """A column of the jobs table as the Explore page shows it (times in hours)."""

    id: str
    name: str
    source: str
    scale: float = 1.0
    numeric: bool = True


JOB_FIELDS: tuple[JobField, ...] = (
    JobField("job", "job", "job"),
    JobField("tenant", "tenant", "tenant", numeric=False),
    JobField("state", "state", "state", numeric=False),
    JobField("site", "site", "site", numeric=False),
    JobField("accelerator", "type", "accelerator", numeric=False),
    JobField("accelerators", "accelerators", "accelerators"),
    JobField("submit_h", "submit (h)", "submit_s", 1 / 3600),
    JobField("start_h", "start (h)", "start_s", 1 / 3600),
    JobField("wait_h", "wait (h)", "wait_s", 1 / 3600),
    JobField("run_h", "run (h)", "run_s", 1 / 3600),
    JobField("energy_mwh", "energy (MWh)", "energy_mwh"),
    JobField("co2_t", "CO2 (t)", "co2_t"),
    JobField("reason", "reason", "reason", numeric=False),
)

REQUIRED_TABLES = (SITE.table, JOB.table)
"""Tables without which a run is shown as malformed."""

LISTING_TTL_S = 1.0
"""How long the runs list is reused before the directory is read again."""

MAX_POINTS = 1500
"""Default bound on the points of one line of a time series."""

# ---------------------------------------------------------------------------------------------
# Plain values handed to the figure builders
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A site or PoP on the map."""

    id: str
    name: str
    lat: float
    lon: float
    kind: str  # "site" or "pop"
    accelerators: int = 0
    power_mw: float | None = None


@dataclass(frozen=True)
class Edge:
    """A configured network link."""

    id: str
    a: str
    b: str
    capacity_gbps: float


@dataclass(frozen=True)
class Geo:
    """Where things are: the sites, PoPs and links of a run's resolved config."""

    sites: tuple[Node, ...] = ()
    pops: tuple[Node, ...] = ()
    links: tuple[Edge, ...] = ()

    @cached_property
    def nodes(self) -> dict[str, Node]:
        return {node.id: node for node in (*self.sites, *self.pops)}


@dataclass(frozen=True)
class SiteState:
    site: str
    online: bool
    total: int
    busy: int
    queue: int
    utilisation: float
    power_mw: float


@dataclass(frozen=True)
class LinkState:
    """A link at one telemetry stamp, both directions folded: peak direction utilisation."""

    link: str
    a: str
    b: str
    capacity_gbps: float
    throughput_gbps: float  # the busier direction
    utilisation: float  # the busier direction
    active_flows: int  # both directions


@dataclass(frozen=True)
class Snapshot:
    """The network at simulated time ``t``: the last telemetry stamp at or before it."""

    t: float
    stamp_s: float | None
    sites: dict[str, SiteState]
    links: dict[str, LinkState] | None = None  # None: the run has no links table


@dataclass(frozen=True)
class Line:
    name: str
    x: np.ndarray  # simulated seconds
    y: np.ndarray
    dash: str | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Timeline:
    """The telemetry stamps of a run: what the time slider moves over."""

    first_s: float
    last_s: float
    step_s: float


@dataclass(frozen=True)
class Histogram:
    edges: np.ndarray
    counts: dict[str, np.ndarray]  # group → counts per bin
    label: str
    log_x: bool = False


@dataclass(frozen=True)
class JobFilter:
    sites: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class KpiDelta:
    name: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def delta_pct(self) -> float | None:
        if self.delta is None or not self.a:
            return None
        return 100 * self.delta / abs(self.a)


def kpi_deltas(a: dict[str, float], b: dict[str, float]) -> list[KpiDelta]:
    """KPIs of run A next to run B, in A's order then B's extra ones."""
    names = list(a) + [name for name in b if name not in a]
    return [KpiDelta(name, _finite(a.get(name)), _finite(b.get(name))) for name in names]


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# ---------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------


def downsample(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of ``(x, y)`` keeping each bucket's min and max (peaks
    survive, unlike a stride). ``x`` is sorted; NaNs in ``y`` are ignored where possible."""
    n = len(x)
    if n <= max_points or max_points < 2:
        return x, y
    buckets = max_points // 2
    width = -(-n // buckets)
    padded = np.full(buckets * width, np.nan)
    padded[:n] = y
    grid = padded.reshape(buckets, width)
    nan = np.isnan(grid)
    low = np.where(nan, np.inf, grid).argmin(axis=1)
    high = np.where(nan, -np.inf, grid).argmax(axis=1)
    base = np.arange(buckets) * width
    index = np.sort(np.stack([base + low, base + high], axis=1), axis=1).ravel()
    index = np.unique(np.minimum(index, n - 1))
    return x[index], y[index]


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64 numpy (nulls → NaN)."""
    return pc.cast(table.column(name), pa.float64()).to_numpy()


def _codes(table: pa.Table, name: str) -> tuple[list[str], np.ndarray]:
    """Dictionary-encode a string column: (distinct values, int code per row; -1 for null)."""
    encoded = pc.dictionary_encode(table.column(name).combine_chunks())
    return encoded.dictionary.to_pylist(), pc.fill_null(encoded.indices, -1).to_numpy()


class TableView:
    """A time-stamped table sorted by time, with a key column (site, link, …) encoded.

    Building it costs one pass over the table (once per run, cached); afterwards finding the
    rows of a stamp is a binary search and a key's rows are cached.
    """

    def __init__(self, table: pa.Table, time: str, key: str) -> None:
        times = _floats(table, time)
        if len(times) > 1 and bool(np.any(np.diff(times) < 0)):
            order = np.argsort(times, kind="stable")
            table, times = table.take(pa.array(order)), times[order]
        self.table = table
        self.times = times
        self.keys, self.codes = _codes(table, key)
        self._columns: dict[str, np.ndarray] = {}
        self._rows: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.times)

    def has(self, name: str) -> bool:
        return name in self.table.column_names

    def column(self, name: str) -> np.ndarray:
        if name not in self._columns:
            values = _floats(self.table, name)
            with self._lock:
                self._columns[name] = values
        return self._columns[name]

    def rows_of(self, key: str) -> np.ndarray:
        """Row indices of ``key``, in time order."""
        if key not in self._rows:
            code = self.keys.index(key) if key in self.keys else -2
            rows = np.flatnonzero(self.codes == code)
            with self._lock:
                self._rows[key] = rows
        return self._rows[key]

    def rows_at(self, t: float) -> tuple[int, int, float | None]:
        """Rows ``[lo, hi)`` of the last stamp at or before ``t`` (the first stamp if ``t`` is
        before it) and that stamp: two binary searches."""
        times = self.times
        if not len(times):
            return 0, 0, None
        hi = int(np.searchsorted(times, t, side="right"))
        stamp = float(times[max(hi, 1) - 1])
        if hi == 0:
            hi = int(np.searchsorted(times, stamp, side="right"))
        lo = int(np.searchsorted(times, stamp, side="left"))
        return lo, hi, stamp

    @cached_property
    def stamps(self) -> np.ndarray:
        """Distinct stamps, in order."""
        if not len(self.times):
            return self.times
        return self.times[np.r_[True, np.diff(self.times) > 0]]

    def key_at(self, row: int) -> str | None:
        code = int(self.codes[row])
        return self.keys[code] if code >= 0 else None


def _group_sum(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` over equal consecutive ``times`` (sorted): (stamps, sums)."""
    if not len(times):
        return times, values
    starts = np.flatnonzero(np.r_[True, np.diff(times) > 0])
    return times[starts], np.add.reduceat(np.nan_to_num(values), starts)


# ---------------------------------------------------------------------------------------------
# One run
# ---------------------------------------------------------------------------------------------


def parse_geo(config_text: str) -> Geo:
    """Sites, PoPs and links from a resolved config's YAML (entries lacking a field are
    skipped; an unreadable config gives an empty map rather than an error)."""
    try:
        config = yaml.safe_load(config_text) or {}
    except yaml.YAMLError:
        return Geo()
    if not isinstance(config, dict):
        return Geo()

    def nodes(kind: str, entries: Any) -> tuple[Node, ...]:
        found = []
        for entry in entries if isinstance(entries, list) else []:
            try:
                pools = entry.get("pools") or []
                found.append(
                    Node(
                        id=str(entry["id"]),
                        name=str(entry.get("name") or entry["id"]),
                        lat=float(entry["lat"]),
                        lon=float(entry["lon"]),
                        kind=kind,
                        accelerators=sum(int(pool.get("count", 0)) for pool in pools),
                        power_mw=float(entry["power_mw"]) if "power_mw" in entry else None,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        return tuple(found)

    links = []
    for entry in config.get("links") or []:
        try:
            a, b = str(entry["a"]), str(entry["b"])
            links.append(Edge(link_id(a, b), a, b, float(entry["capacity_gbps"])))
        except (KeyError, TypeError, ValueError):
            continue
    return Geo(nodes("site", config.get("sites")), nodes("pop", config.get("pops")), tuple(links))


@dataclass(frozen=True)
class RunInfo:
    """One line of the runs list: read from the manifest alone (cheap)."""

    name: str
    status: str  # complete, incomplete, malformed, refused
    scenario: str = ""
    horizon_s: float | None = None
    wall_time_s: float | None = None
    tables: tuple[str, ...] = ()
    problem: str = ""

    @property
    def readable(self) -> bool:
        return self.status in ("complete", "incomplete")


class RunData:
    """A run opened for the dashboard; every derived array is computed once and cached."""

    def __init__(self, name: str, run: Run) -> None:
        self.name = name
        self.run = run
        self._views: dict[str, TableView] = {}
        self._series: OrderedDict[tuple[Any, ...], list[Panel]] = OrderedDict()
        self._lock = threading.Lock()

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

    @cached_property
    def geo(self) -> Geo:
        return parse_geo(self.run.config_text)

    @cached_property
    def start(self) -> dt.datetime:
        """The scenario's start (UTC, naive), the origin of every ``time_s``."""
        try:
            start = dt.datetime.fromisoformat(str(self.manifest["start"]))
        except (KeyError, ValueError):
            return dt.datetime(2000, 1, 1)
        if start.tzinfo is not None:
            start = start.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return start

    def has(self, table: str) -> bool:
        return self.run.has(table)

    def view(self, table: str, time: str, key: str) -> TableView:
        """The table sorted by time with its key encoded (built once; RunError if unreadable)."""
        if table not in self._views:
            built = TableView(self.run.table(table), time, key)
            with self._lock:
                self._views[table] = built
        return self._views[table]

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

    @cached_property
    def timeline(self) -> Timeline:
        stamps = self.sites.stamps
        horizon = float(self.manifest.get("horizon_s") or 0.0)
        if not len(stamps):
            return Timeline(0.0, horizon, max(horizon, 1.0))
        step = float(stamps[1] - stamps[0]) if len(stamps) > 1 else max(float(stamps[0]), 1.0)
        return Timeline(float(stamps[0]), float(stamps[-1]), step)

    @cached_property
    def summary(self) -> Summary:
        return summarize(self.run)

    def kpis(self) -> dict[str, float]:
        """The same numbers as ``twin summary`` (:meth:`Summary.kpis`)."""
        return self.summary.kpis()

    # -- replay ----------------------------------------------------------------------------

    def snapshot(self, t: float) -> Snapshot:
        """Sites (and links, when traced) at the last stamp at or before ``t``.

        Cost: binary searches and the rows of one stamp, whatever the run's length.
        """
        view = self.sites
        lo, hi, stamp = view.rows_at(t)
        online, total, busy = (
            view.column(SITE.online),
            view.column(SITE.total),
            view.column(SITE.busy),
        )
        queue, util, power = (
            view.column(SITE.queue),
            view.column(SITE.utilisation),
            view.column(SITE.power),
        )
        sites = {}
        for row in range(lo, hi):
            site = view.key_at(row)
            if site is not None:
                sites[site] = SiteState(
                    site,
                    bool(online[row] > 0),
                    _int(total[row]),
                    _int(busy[row]),
                    _int(queue[row]),
                    float(util[row]),
                    float(power[row]),
                )
        return Snapshot(float(t), stamp, sites, self._link_states(t))

    def _link_states(self, t: float) -> dict[str, LinkState] | None:
        view = self.links
        if view is None:
            return None
        lo, hi, _ = view.rows_at(t)
        a_keys, a_codes = self._link_ends
        b_keys, b_codes = self._link_ends_b
        cap, thr = view.column(LINK.capacity), view.column(LINK.throughput)
        util, flows = view.column(LINK.utilisation), view.column(LINK.active_flows)
        states: dict[str, LinkState] = {}
        for row in range(lo, hi):
            link = view.key_at(row)
            if link is None:
                continue
            old = states.get(link)
            flows_here = _int(flows[row])
            if old is None or util[row] > old.utilisation:
                states[link] = LinkState(
                    link,
                    a_keys[a_codes[row]] if a_codes[row] >= 0 else "",
                    b_keys[b_codes[row]] if b_codes[row] >= 0 else "",
                    float(cap[row]),
                    float(thr[row]),
                    float(util[row]),
                    flows_here + (old.active_flows if old else 0),
                )
            else:
                states[link] = LinkState(
                    old.link,
                    old.a,
                    old.b,
                    old.capacity_gbps,
                    old.throughput_gbps,
                    old.utilisation,
                    old.active_flows + flows_here,
                )
        return states

    @cached_property
    def _link_ends(self) -> tuple[list[str], np.ndarray]:
        return _codes(self.links.table, LINK.a)  # type: ignore[union-attr]

    @cached_property
    def _link_ends_b(self) -> tuple[list[str], np.ndarray]:
        return _codes(self.links.table, LINK.b)  # type: ignore[union-attr]

    # -- series ----------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], build: Any) -> list[Panel]:
        with self._lock:
            if key in self._series:
                self._series.move_to_end(key)
                return self._series[key]
        panels = build()
        with self._lock:
            self._series[key] = panels
            while len(self._series) > 64:
                self._series.popitem(last=False)
        return panels

    def site_series(self, site: str, max_points: int = MAX_POINTS) -> list[Panel]:
        """Busy accelerators, queue, power and CO2 of one site; inference p99 latency and SLO
        misses too when the run has them."""
        return self._cached(("site", site, max_points), lambda: self._site_series(site, max_points))

    def _site_series(self, site: str, max_points: int) -> list[Panel]:
        view = self.sites
        rows = view.rows_of(site)
        x = view.times[rows]

        def line(name: str, column: str, dash: str | None = None) -> Line:
            return Line(name, *downsample(x, view.column(column)[rows], max_points), dash=dash)

        node = self.geo.nodes.get(site)
        power = [line("power", SITE.power)]
        if node is not None and node.power_mw is not None and len(x):
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
        view = self.inference
        if view is None:
            return []
        rows = view.rows_of(site)
        if not len(rows):
            return []
        services, codes = self._services
        x, p99 = view.times[rows], view.column(INFERENCE.latency_p99)[rows]
        latency = []
        for code, service in enumerate(services):
            mine = codes[rows] == code
            if mine.any():
                latency.append(Line(service, *downsample(x[mine], p99[mine], max_points)))
        stamps, misses = _group_sum(x, view.column(INFERENCE.slo_misses)[rows])
        return [
            Panel("inference p99 latency (ms)", tuple(latency)),
            Panel("SLO misses", (Line("SLO misses", *downsample(stamps, misses, max_points)),)),
        ]

    @cached_property
    def _services(self) -> tuple[list[str], np.ndarray]:
        return _codes(self.inference.table, INFERENCE.service)  # type: ignore[union-attr]

    def link_series(self, link: str, max_points: int = MAX_POINTS) -> list[Panel]:
        """Throughput, utilisation and active flows of one link, one line per direction."""
        return self._cached(("link", link, max_points), lambda: self._link_series(link, max_points))

    def _link_series(self, link: str, max_points: int) -> list[Panel]:
        view = self.links
        if view is None:
            return []
        rows = view.rows_of(link)
        a_keys, a_codes = self._link_ends
        b_keys, b_codes = self._link_ends_b
        directions: dict[tuple[int, int], list[int]] = {}
        for row in rows:
            directions.setdefault((int(a_codes[row]), int(b_codes[row])), []).append(int(row))
        panels: dict[str, list[Line]] = {"throughput (Gbps)": [], "utilisation": [], "flows": []}
        columns = {
            "throughput (Gbps)": LINK.throughput,
            "utilisation": LINK.utilisation,
            "flows": LINK.active_flows,
        }
        for (a, b), picked in directions.items():
            index = np.asarray(picked)
            name = f"{a_keys[a] if a >= 0 else '?'} → {b_keys[b] if b >= 0 else '?'}"
            x = view.times[index]
            for title, column in columns.items():
                y = view.column(column)[index]
                panels[title].append(Line(name, *downsample(x, y, max_points)))
        return [Panel(title, tuple(lines)) for title, lines in panels.items()]

    def totals(self, max_points: int = MAX_POINTS) -> list[Panel]:
        """Network-wide busy accelerators, power and queue over time (summed over sites)."""
        return self._cached(("totals", max_points), lambda: self._totals(max_points))

    def _totals(self, max_points: int) -> list[Panel]:
        view = self.sites
        panels = []
        for title, column in (
            ("busy accelerators", SITE.busy),
            ("power (MW)", SITE.power),
            ("queued jobs", SITE.queue),
        ):
            stamps, sums = _group_sum(view.times, view.column(column))
            panels.append(Panel(title, (Line(self.name, *downsample(stamps, sums, max_points)),)))
        return panels

    # -- jobs ------------------------------------------------------------------------------

    @cached_property
    def jobs(self) -> pa.Table:
        """The jobs table as shown: :data:`JOB_FIELDS`, times in hours (built once)."""
        table = self.run.table(JOB.table)
        columns, names = [], []
        for spec in JOB_FIELDS:
            if spec.source not in table.column_names:
                continue
            column = table.column(spec.source)
            if spec.scale != 1.0:
                column = pc.multiply(pc.cast(column, pa.float64()), spec.scale)
            columns.append(column)
            names.append(spec.id)
        return pa.table(columns, names=names)

    def job_choices(self) -> dict[str, list[str]]:
        """Distinct sites, tenants and states (for the filter dropdowns)."""
        jobs = self.jobs
        return {
            name: sorted(v for v in pc.unique(jobs.column(name)).to_pylist() if v is not None)
            for name in ("site", "tenant", "state")
            if name in jobs.column_names
        }

    def _filtered_jobs(self, chosen: JobFilter, query: str = "") -> pa.Table:
        jobs = self.jobs
        masks = [
            pc.is_in(jobs.column(name), value_set=pa.array(values, pa.string()))
            for name, values in (
                ("site", chosen.sites),
                ("tenant", chosen.tenants),
                ("state", chosen.states),
            )
            if values and name in jobs.column_names
        ]
        masks += [_condition(jobs, *term) for term in parse_filter_query(query)]
        masks = [mask for mask in masks if mask is not None]
        if not masks:
            return jobs
        mask = masks[0]
        for other in masks[1:]:
            mask = pc.and_kleene(mask, other)
        return jobs.filter(pc.fill_null(mask, False))

    def jobs_page(
        self,
        chosen: JobFilter | None = None,
        query: str = "",
        sort_by: Sequence[dict[str, str]] = (),
        page: int = 0,
        page_size: int = 20,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the (filtered, sorted) jobs as records, and how many rows match."""
        table = self._filtered_jobs(chosen or JobFilter(), query)
        keys = [
            (s["column_id"], "descending" if s.get("direction") == "desc" else "ascending")
            for s in sort_by
            if s.get("column_id") in table.column_names
        ]
        if keys:
            table = table.sort_by(keys)
        page_size = max(1, int(page_size))
        page = max(0, int(page))
        return table.slice(page * page_size, page_size).to_pylist(), table.num_rows

    def wait_histogram(self, chosen: JobFilter | None = None, bins: int = 40) -> Histogram:
        """Waits (h) of the jobs that started, among the filtered ones."""
        jobs = self._filtered_jobs(chosen or JobFilter())
        waits = np.array([], dtype=float)
        if {"start_h", "wait_h"} <= set(jobs.column_names):
            started = ~np.isnan(_floats(jobs, "start_h"))
            waits = _floats(jobs, "wait_h")[started]
            waits = waits[~np.isnan(waits)]
        top = float(waits.max()) if len(waits) and waits.max() > 0 else 1.0
        counts, edges = np.histogram(waits, bins=bins, range=(0.0, top))
        return Histogram(edges, {"started jobs": counts}, "wait (h)")

    def transfer_histogram(self, bins: int = 40) -> Histogram | None:
        """Transfer durations (s, log bins) by kind; None when the run has no transfers."""
        if not self.has(TRANSFER.table):
            return None
        table = self.run.table(TRANSFER.table)
        durations = _floats(table, TRANSFER.end) - _floats(table, TRANSFER.start)
        if TRANSFER.kind in table.column_names:
            kinds, codes = _codes(table, TRANSFER.kind)
        else:
            kinds, codes = ["transfers"], np.zeros(table.num_rows, dtype=int)
        done = np.isfinite(durations) & (durations > 0)
        if not done.any():
            return Histogram(np.array([0.0, 1.0]), {}, "transfer time (s)", log_x=True)
        low, high = float(durations[done].min()), float(durations[done].max())
        if high <= low:
            low, high = low / 1.5, high * 1.5
        edges = np.geomspace(low, high, bins + 1)
        edges[0], edges[-1] = low, high  # exact ends: the extremes stay inside
        counts = {
            kind: np.histogram(durations[done & (codes == code)], bins=edges)[0]
            for code, kind in sorted(enumerate(kinds), key=lambda pair: pair[1])
            if (done & (codes == code)).any()
        }
        return Histogram(edges, counts, "transfer time (s)", log_x=True)


def _int(value: float) -> int:
    return int(value) if math.isfinite(value) else 0


# ---------------------------------------------------------------------------------------------
# DataTable's filter_query, server-side
# ---------------------------------------------------------------------------------------------

_TERM = re.compile(r"\{(?P<column>[^}]+)\}\s+(?P<op>\S+)\s+(?P<value>.+)")
_OPS = {
    "eq": "eq",
    "=": "eq",
    "ne": "ne",
    "!=": "ne",
    "lt": "lt",
    "<": "lt",
    "le": "le",
    "<=": "le",
    "gt": "gt",
    ">": "gt",
    "ge": "ge",
    ">=": "ge",
    "contains": "contains",
    "datestartswith": "contains",
}


def parse_filter_query(query: str) -> list[tuple[str, str, str]]:
    """``{col} op value && …`` (DataTable's filter syntax) as (column, op, value) terms;
    unknown operators are dropped."""
    terms = []
    for part in (query or "").split(" && "):
        match = _TERM.match(part.strip())
        if not match:
            continue
        op = match["op"].lower()
        if op[:1] in "si" and op[1:] in _OPS and op not in _OPS:
            op = op[1:]
        if op not in _OPS:
            continue
        value = match["value"].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'`":
            value = value[1:-1]
        terms.append((match["column"], _OPS[op], value))
    return terms


def _condition(table: pa.Table, column: str, op: str, value: str) -> pa.ChunkedArray | None:
    if column not in table.column_names:
        return None
    data = table.column(column)
    if op == "contains":
        return pc.match_substring(pc.cast(data, pa.string()), value, ignore_case=True)
    numeric = pa.types.is_integer(data.type) or pa.types.is_floating(data.type)
    if numeric:
        try:
            scalar: Any = float(value)
        except ValueError:
            return None
        data = pc.cast(data, pa.float64())
    else:
        scalar = value
    compare = {
        "eq": pc.equal,
        "ne": pc.not_equal,
        "lt": pc.less,
        "le": pc.less_equal,
        "gt": pc.greater,
        "ge": pc.greater_equal,
    }[op]
    return compare(data, scalar)


# ---------------------------------------------------------------------------------------------
# The runs directory
# ---------------------------------------------------------------------------------------------


class RunAccessError(RunError):
    """A run name that resolves outside the runs directory."""


class RunStore:
    """The run directories under ``runs_dir``, opened on demand and cached (bounded LRU)."""

    def __init__(self, runs_dir: str | Path, cache_size: int = 8) -> None:
        root = Path(runs_dir).expanduser()
        if not root.is_dir():
            raise RunError(f"{runs_dir} is not a directory (make a run first: twin run)")
        self.root = root.resolve()
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int], RunData] = OrderedDict()
        self._listing: tuple[float, list[RunInfo]] | None = None
        self._lock = threading.Lock()

    def resolve(self, name: str) -> Path:
        """The directory of run ``name``: refused unless it resolves inside the runs dir."""
        if not isinstance(name, str) or not name or "\x00" in name:
            raise RunAccessError(f"refused: {name!r} is not a run name")
        if PurePath(name).is_absolute():
            raise RunAccessError(f"refused: {name!r} is an absolute path, not a run name")
        path = (self.root / name).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise RunAccessError(f"refused: {name!r} is outside the runs directory")
        return path

    def names(self) -> list[str]:
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def list_runs(self) -> list[RunInfo]:
        """Every directory under the runs dir, each with its status (nothing outside opened).

        Kept for a second: one page render asks several times."""
        now = time.monotonic()
        with self._lock:
            if self._listing is not None and now - self._listing[0] < LISTING_TTL_S:
                return list(self._listing[1])
        infos = [self.info(name) for name in self.names()]
        with self._lock:
            self._listing = (now, infos)
        return list(infos)

    def info(self, name: str) -> RunInfo:
        """What the manifest says, and whether the run is readable (never raises)."""
        try:
            path = self.resolve(name)
        except RunAccessError as error:
            return RunInfo(name, "refused", problem=str(error))
        try:
            run = open_run(path)
        except RunError as error:
            return RunInfo(name, "malformed", problem=str(error))
        manifest = run.manifest
        tables = tuple(run.table_names)
        problems = [f"no {table}.arrow" for table in REQUIRED_TABLES if table not in tables]
        for table in tables:
            try:
                with pa.memory_map(str(path / f"{table}.arrow"), "r") as source:
                    ipc.open_file(source)
            except (pa.ArrowInvalid, OSError) as error:
                problems.append(f"{table}.arrow unreadable ({error})")
        status = run.status if run.status in ("complete", "incomplete") else "malformed"
        if problems:
            status = "malformed"
        elif status == "incomplete":
            problems.append(str(manifest.get("reason") or "the run did not finish"))
        elif run.status not in ("complete", "incomplete"):
            problems.append(f"unknown status {run.status!r}")
        return RunInfo(
            name,
            status,
            scenario=run.scenario,
            horizon_s=_number(manifest.get("horizon_s")),
            wall_time_s=_number(manifest.get("wall_time_s")),
            tables=tables,
            problem="; ".join(problems),
        )

    def get(self, name: str) -> RunData:
        """Run ``name`` opened (cached by path and manifest mtime); RunError if it is not
        readable, RunAccessError if it is outside the runs dir."""
        path = self.resolve(name)
        try:
            mtime = (path / MANIFEST).stat().st_mtime_ns
        except OSError:
            raise RunError(f"{name} is not a run directory (no {MANIFEST})") from None
        key = (str(path), mtime)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = RunData(name, open_run(path))
        with self._lock:
            for old in [k for k in self._cache if k[0] == key[0]]:
                del self._cache[old]
            self._cache[key] = data
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return data


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


__all__ = [
    "INFERENCE",
    "JOB",
    "JOB_FIELDS",
    "LINK",
    "MAX_POINTS",
    "SITE",
    "TRANSFER",
    "Edge",
    "Geo",
    "Histogram",
    "JobFilter",
    "KpiDelta",
    "Line",
    "LinkState",
    "Node",
    "Panel",
    "RunAccessError",
    "RunData",
    "RunError",
    "RunInfo",
    "RunStore",
    "SiteState",
    "Snapshot",
    "TableView",
    "Timeline",
    "downsample",
    "kpi_deltas",
    "parse_filter_query",
    "parse_geo",
]
