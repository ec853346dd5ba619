"""The ``fluid`` fidelity of the inference layer: one analytic step per service × site window.

``workloads.inference.fidelity: fluid`` replaces the per-request kernels of
:meth:`twin.model.service_site.ServiceSite.window` by a model whose cost per window does not
depend on the request rate, for long horizons and sweeps:

* **Arrivals** are the window's Poisson count, drawn from the service's arrival stream as
  ``request`` draws it; the uniform draws ``request`` then makes (arrival times and regions,
  two per request) are skipped by advancing the generator (:func:`skip_request_draws`), so
  both fidelities see the same counts for the same seed (common random numbers).
* **Stationary regime**: the window's routed rate goes through the kind's stationary model
  (:mod:`twin.model.fluid_models`): mean requests in the system, the waiting-time law and
  the drop share.
* **Backlog**: load above capacity is a fluid carried to the next window
  (:mod:`twin.model.fluid_backlog`, Newell's cumulative curves): it grows or drains at
  ``λ − R``, the requests served from it wait the distance between the arrival and
  departure curves (first in, first out), without the stationary wait, and what exceeds
  the queue limit or timeout is dropped.
* **Counts** are integers that conserve: dropped is the expected count rounded with a
  carried remainder, requests in the system the stationary mean (with a backlog: every
  server busy plus the backlog), rounded, and served = in system before + arrivals −
  dropped − in system after. The regions of ``inference_regions`` get them by their shares
  of the routed rate (rounded cumulative shares).
* **Percentiles** of a fixed-size sample of latency parts with the window's round trips
  (regions by their shares) and backlog waits, the stationary wait solved exactly
  (:func:`twin.model.fluid_queues.wait_quantiles`); SLO misses from the same law. Windows
  without a backlog are tabulated per load cell (:class:`FluidSite`).

It agrees with ``request`` where the queue is stable over a window, and departs at the onset
of an overload and for TTFT tails at ρ ≥ 0.9 (``tests/validation/test_fluid.py``, README).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from twin.config.schema import Service
from twin.model.fluid_backlog import Backlog, BacklogWindow
from twin.model.fluid_models import POINTS, LLMModel, Replica, SingleModel, Stationary
from twin.model.fluid_queues import WaitLaw, wait_quantiles, wait_survival
from twin.model.rng import stream

if TYPE_CHECKING:
    from twin.model.service_site import ServiceSite

_Q_TWO = np.array([0.50, 0.99])
_Q_THREE = np.array([0.50, 0.95, 0.99])


def skip_request_draws(rng: np.random.Generator, count: int) -> None:
    """Advance ``rng`` past the draws ``request`` makes after a window's count: ``count``
    arrival times and ``count`` region draws, one 64-bit output each (PCG64 doubles)."""
    rng.bit_generator.advance(2 * count)


@dataclass
class FluidWindow:
    """What one service × site did in one window, as aggregates (latencies in ms)."""

    arrivals: int
    served: int
    dropped: int
    in_system: int
    ttft_ms: list[float | None]
    tpot_ms: list[float | None]
    latency_ms: list[float | None]
    missed: int
    """Served requests that missed an SLO (dropped ones are added when recorded)."""
    mean_batch: float
    busy: float
    regions: np.ndarray
    """Per region (columns): arrived, served, dropped, missed; shape (4, regions), int64."""


class FluidService:
    """A service's fixed samples and stationary model, shared by its sites."""

    def __init__(self, service: Service, seed: int, regions: int) -> None:
        rng = stream(seed, f"inference.{service.id}.fluid")
        self.service = service
        self.model: SingleModel | LLMModel = (
            SingleModel(service, rng) if service.kind == "single" else LLMModel(service, rng)
        )
        self.levels = (np.arange(POINTS) + 0.5) / POINTS
        """Stratified uniforms, ascending: each sample point's region by the routed shares."""
        self.in_fluid = rng.permutation(self.levels)
        """Whether a point is served while the backlog lasts (below the window's share)."""
        self.along = rng.permutation(self.levels)
        """Where a point falls in the backlog's wait range."""
        self.regions = regions

    def site(self, site: ServiceSite) -> FluidSite:
        replica = None
        if isinstance(self.model, LLMModel):
            assert site.iteration is not None
            owner = site.owner
            replica = self.model.replica(site.iteration, owner.mean_prompt, owner.mean_output)
        return FluidSite(self, replica)


@dataclass(frozen=True)
class _Latencies:
    """What the waits give a window: percentiles [ms] and SLO misses."""

    ttft_ms: list[float | None]
    tpot_ms: list[float | None]
    latency_ms: list[float | None]
    miss: float
    """Share of served requests that miss an SLO."""
    miss_by_region: np.ndarray
    """The same per region (the mean where the sample holds none of a region)."""
    delay_s: float
    """Mean fluid wait on top of the stationary one."""


LOAD_STEP = 0.002
"""Width of a cell of the stationary tables in ``−ln(1 − ρ)``: neighbouring cells' waits
differ by 0.2 % (waits scale as 1 / (1 − ρ))."""

SHARE_STEPS = 4096
"""Region shares are read to 1 / SHARE_STEPS for the round-trip mixture of the tables."""

CELLS = 4096
"""Cells kept per table before it is cleared (the cells are pure functions of their keys,
so clearing changes no result)."""


class FluidSite:
    """The carried state of one service at one site under ``fluid``.

    A window of no backlog depends only on the replicas, the load and the regions' shares,
    so its stationary model and latencies are tabulated on the fly, on cells of
    :data:`LOAD_STEP` in load and :data:`SHARE_STEPS` in shares, each computed at its
    centre: a long run, whose days repeat the same loads, computes each cell once.
    """

    def __init__(self, service: FluidService, replica: Replica | None) -> None:
        self.service = service
        self.replica = replica
        self.in_system = 0
        self.backlog = Backlog()
        self._drop_carry = 0.0
        self._miss_carry = 0.0
        self._shares = np.zeros(service.regions)
        self._shares[0] = 1.0
        self._states: dict[tuple[int, int], Stationary] = {}
        self._latencies: dict[tuple[int, int, bytes], _Latencies] = {}

    def in_system_by_region(self, regions: int) -> np.ndarray:
        """The requests in the system per region (apportioned by the latest shares)."""
        return _apportion([self.in_system, 0, 0], self._shares, 0, self._shares)[0].astype(np.int64)

    def lose_all(self, regions: int) -> np.ndarray:
        """Drop every request in the system (the site went down): how many, per region
        (apportioned by the latest region shares)."""
        lost = self.in_system_by_region(regions)
        self.in_system, self.backlog = 0, Backlog()
        self._drop_carry = self._miss_carry = 0.0
        return lost

    def capacity_rps(self, replicas: int) -> float:
        model = self.service.model
        if isinstance(model, SingleModel):
            return replicas * model.service.servers_per_replica / model.mean_s
        assert self.replica is not None
        return replicas * float(self.replica.rates[-1])

    def stationary(self, replicas: int, rate: float) -> Stationary:
        """The stationary model at ``rate`` requests/s over ``replicas`` replicas."""
        model = self.service.model
        if isinstance(model, SingleModel):
            return model.stationary(replicas * model.service.servers_per_replica, rate)
        assert self.replica is not None
        return model.stationary(self.replica, replicas, rate)

    def window(
        self, site: ServiceSite, start: float, end: float, region_rps: np.ndarray, count: int
    ) -> FluidWindow:
        """The window's aggregates; ``count`` requests arrived (see the module doc)."""
        window_s = end - start
        skip_request_draws(site.owner.rng, count)
        site.recent_rps = count / window_s
        rate = float(region_rps.sum())
        if rate > 0:
            self._shares = region_rps / rate
        before = self.in_system
        if site.count == 0:  # nowhere to serve: arrivals dropped, the rest completes
            self.in_system, self.backlog = 0, Backlog()
            regions = _apportion([count, before, count], self._shares, 0, self._shares)
            return FluidWindow(
                count,
                before,
                count,
                0,
                [None] * 2,
                [None] * 2,
                [None] * 3,
                0,
                math.nan,
                0.0,
                regions,
            )
        capacity = self.capacity_rps(site.count)
        cell = (site.count, _load_cell(rate / capacity))
        state = full = self._states.get(cell)
        if state is None:  # the table keeps the scalars; the samples are made when needed
            full = self.stationary(site.count, _cell_load(cell[1]) * capacity)
            state = dataclasses.replace(full, base={}, tpot=None)
            self._states = _kept(self._states)
            self._states[cell] = state
        flow = self.backlog.step(start, end, rate, state.capacity_rps, state.backlog_cap)
        # in the backlog the queue limit drops the overflow; otherwise the stationary share
        expected = count * state.drop_share * (1 - flow.share) + flow.overflow
        dropped = min(count, math.floor(expected + self._drop_carry))
        self._drop_carry = max(0.0, expected + self._drop_carry - dropped)
        level = state.saturated + flow.end if flow.end > 0 else state.in_system
        after = min(max(0, round(level)), before + count - dropped)
        served = before + count - dropped - after
        self.in_system = after
        quantised = np.rint(self._shares * SHARE_STEPS).astype(np.int32)
        if flow.share > 0:  # waits depend on the backlog: not tabulated
            latencies = self._latency(site, self._full(full, cell, capacity), self._shares, flow)
        else:
            key = (*cell, quantised.tobytes())
            latencies = self._latencies.get(key)
            if latencies is None:
                shares = quantised / quantised.sum() if quantised.any() else self._shares
                full = self._full(full, cell, capacity)
                latencies = self._latency(site, full, shares, flow)
                self._latencies = _kept(self._latencies)
                self._latencies[key] = latencies
        missed_expected = served * latencies.miss
        missed = min(served, math.floor(missed_expected + self._miss_carry))
        self._miss_carry = max(0.0, missed_expected + self._miss_carry - missed)
        site.delay_s = state.mean_delay_s + latencies.delay_s
        if isinstance(self.service.model, SingleModel):
            work = (count - dropped) * self.service.model.mean_s
            servers = site.count * self.service.service.servers_per_replica
            busy, batch = min(1.0, work / (servers * window_s)), math.nan
        else:
            busy, batch = (1.0 if flow.share >= 1 else state.busy), state.mean_batch
        none2, none3 = [None, None], [None, None, None]
        return FluidWindow(
            count,
            served,
            dropped,
            after,
            latencies.ttft_ms if served else none2,
            latencies.tpot_ms if served else none2,
            latencies.latency_ms if served else none3,
            missed,
            batch,
            busy,
            _apportion([count, served, dropped], self._shares, missed, latencies.miss_by_region),
        )

    def _full(self, state: Stationary, cell: tuple[int, int], capacity: float) -> Stationary:
        """``state`` with its samples (recomputed if the table holds its scalars only)."""
        if state.base:
            return state
        return self.stationary(cell[0], _cell_load(cell[1]) * capacity)

    def _latency(
        self, site: ServiceSite, state: Stationary, shares: np.ndarray, flow: BacklogWindow
    ) -> _Latencies:
        """Percentiles and misses for the sample with round trips by ``shares`` (each point's
        region by its stratified level) and the backlog's waits."""
        regions_n = self.service.regions
        cumulative = np.cumsum(shares)
        levels = self.service.levels
        regions = np.minimum(np.searchsorted(cumulative, levels, "right"), regions_n - 1)
        extra = site.owner.rtt[regions, site.column]
        delay, calm = 0.0, None
        if flow.share > 0:  # served from the backlog: its wait, and no stationary one
            backlog = self.service.in_fluid < flow.share
            span = flow.wait_to_s - flow.wait_from_s
            waits = np.where(backlog, flow.wait_from_s + span * self.service.along, 0.0)
            extra = extra + waits
            calm = ~backlog
            delay = float(waits.mean()) - state.wait.mean_s * float(backlog.mean())

        def quantiles(name: str, q: np.ndarray) -> list[float | None]:
            x = state.base[name] + extra
            order = np.argsort(x)
            law = state.wait
            at = wait_quantiles(x[order], law, q, None if calm is None else calm[order])
            return [float(v) * 1000 for v in at]

        ttft: list[float | None] = [None, None]
        tpot: list[float | None] = [None, None]
        if state.tpot is None:
            latency = quantiles("latency", _Q_THREE)
        else:
            ttft, latency = quantiles("ttft", _Q_TWO), quantiles("e2e", _Q_THREE)
            finite = np.sort(state.tpot[np.isfinite(state.tpot)])
            if len(finite):
                tpot = [float(v) * 1000 for v in wait_quantiles(finite, WaitLaw(), _Q_TWO)]
        miss = self._miss(state, extra, calm)
        mean = float(miss.mean())
        per_region = np.bincount(regions, minlength=regions_n)
        by_region = np.bincount(regions, miss, minlength=regions_n)
        by_region = np.where(per_region > 0, by_region / np.maximum(per_region, 1), mean)
        return _Latencies(ttft, tpot, latency, mean, by_region, delay)

    def _miss(self, state: Stationary, extra: np.ndarray, calm: np.ndarray | None) -> np.ndarray:
        """Per sample point, the probability that a served request misses an SLO."""
        slo = self.service.service.slo
        if state.tpot is None:
            if slo.latency_s is None:
                return np.zeros(POINTS)
            return wait_survival(state.base["latency"] + extra, state.wait, slo.latency_s, calm)
        hit = np.ones(POINTS)
        if slo.ttft_s is not None:
            hit = 1 - wait_survival(state.base["ttft"] + extra, state.wait, slo.ttft_s, calm)
        if slo.tpot_s is not None:
            hit = hit * (np.nan_to_num(state.tpot) <= slo.tpot_s)
        return 1 - hit


def _load_cell(load: float) -> int:
    """The table cell of utilisation ``load`` (see :data:`LOAD_STEP`)."""
    return round(-math.log1p(-min(load, 1 - 1e-6)) / LOAD_STEP)


def _cell_load(cell: int) -> float:
    """The utilisation at the centre of a cell."""
    return -math.expm1(-cell * LOAD_STEP)


def _kept(table: dict) -> dict:
    """``table``, or a new empty one once it holds :data:`CELLS` cells."""
    return table if len(table) < CELLS else {}


def _apportion(totals: list[int], shares: np.ndarray, missed: int, miss: np.ndarray) -> np.ndarray:
    """Per region (columns): ``totals`` (arrived, served, dropped) in proportion to
    ``shares``, and ``missed`` in proportion to ``shares × miss``, as integers summing to
    them: rounded cumulative shares, differenced (each entry within one of its share)."""
    weighted = shares * miss
    total = float(weighted.sum())
    rows = np.empty((4, len(shares)))
    rows[:3] = np.cumsum(shares)
    rows[3] = np.cumsum(weighted) / total if total > 0 else rows[0]
    edges = np.rint(rows * np.array([*totals, missed], dtype=float)[:, None]).astype(np.int64)
    edges[:, 1:] -= edges[:, :-1].copy()
    return edges
