"""The stationary window models of the ``fluid`` fidelity, one per service kind.

Each turns a window's routed arrival rate into a :class:`Stationary` description: capacity,
mean requests in the system, the waiting-time law (zero, or exponential with probability
``p_wait``: the Allen–Cunneen form), drops, and fixed-size samples of the latency parts that
do not wait (service, prefill, decode) from which :mod:`twin.model.fluid` reads percentiles.
Nothing here grows with the request rate: the samples have :data:`POINTS` entries.

The utilisation the formulas see is capped at :func:`stationary_cap`: a queue reaches its
stationary regime in about ``1 / (R (1 − √ρ)²)`` seconds at capacity ``R`` requests/s
(Morse, *Queues, Inventories and Maintenance*, 1958; Whitt, "Approximating a point process
by a renewal process", 1982, for the relaxation time), and the demand (hourly profile)
changes over hours, so the stationary wait of a utilisation whose relaxation takes longer
than :data:`RELAXATION_S` is never reached. Load above capacity is the fluid backlog of
:mod:`twin.model.fluid`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.config.schema import Service
from twin.model.distributions import make_sampler
from twin.model.fluid_queues import (
    Phase,
    WaitLaw,
    blocking,
    erlang_c,
    erlang_cdf,
    fit_phase,
    gg1_wait,
    mg1_wait_moments,
    normal_scores,
    slot_chain,
    stratified,
    stratified_pairs,
)
from twin.model.iteration import IterationModel
from twin.model.lengths import joint_sampler, pairing

POINTS = 1024
"""Sample points standing for a distribution (service time, prompt, output length)."""

DRAWS = 1 << 20
"""Random draws the sample points are read from (once per service)."""

RELAXATION_S = 3600.0
"""Longest relaxation time the stationary formulas are trusted for (see the module doc)."""


_SPREAD = normal_scores(5)
"""Standard normal scores at which the decoders' number is read (for the chunks)."""


def stationary_cap(capacity_rps: float) -> float:
    """The utilisation at which a queue of this capacity relaxes in :data:`RELAXATION_S`."""
    return (1 - 1 / math.sqrt(max(capacity_rps, 1e-9) * RELAXATION_S)) ** 2


@dataclass
class Stationary:
    """One window of a service at a site, as the stationary model sees it (times in s)."""

    capacity_rps: float
    """Requests/s the site completes when saturated (the fluid backlog drains at this)."""
    in_system: float
    """Mean requests at the site, waiting or in service."""
    saturated: float
    """Requests in service when every server (slot) is busy: the level a backlog adds to."""
    wait: WaitLaw
    """The law of a request's wait (for a slot, a server, its prefill's turn)."""
    drop_share: float
    """Share of arrivals dropped in the stationary regime (queue limit, timeout, no room)."""
    backlog_cap: float
    """Most requests the fluid backlog may hold before arrivals are dropped."""
    base: dict[str, np.ndarray]
    """Per latency column (``latency``, or ``ttft`` and ``e2e``), the sample of its part
    that does not wait, round trip excluded, shape (POINTS,)."""
    tpot: np.ndarray | None
    """Sample of the time per output token (llm), NaN for one-token outputs."""
    mean_delay_s: float
    """Mean queueing delay the routers read (wait; or TTFT beyond the round trip)."""
    mean_batch: float = math.nan
    busy: float = math.nan
    """Share of time the replicas work (llm; ``single`` counts the accepted work)."""


# ---------------------------------------------------------------- single


class SingleModel:
    """``c`` FCFS servers with Poisson arrivals: M/G/c by Erlang C with the Allen–Cunneen
    correction ``(c_a² + c_s²) / 2`` of the waits (c_a² = 1), the conditional wait
    exponential (Allen 1990, §6.4; Tijms, *A First Course in Stochastic Models*, 2003,
    §5.2 for its accuracy: a few per cent on the mean wait for c_s² ≤ 1)."""

    def __init__(self, service: Service, rng: np.random.Generator) -> None:
        assert service.service_s is not None
        sample = stratified(make_sampler(service.service_s, rng), POINTS, DRAWS)
        self.mean_s = sample.mean
        self.scv = sample.scv
        self.sample = rng.permutation(sample.points)
        self.service = service

    def stationary(self, servers: int, arrival_rps: float) -> Stationary:
        capacity = servers / self.mean_s
        rate = min(arrival_rps, stationary_cap(capacity) * capacity)
        p_wait = erlang_c(servers, rate * self.mean_s)
        mean_wait = p_wait * (1 + self.scv) / 2 / (capacity - rate)
        spread = 1.0  # conditional wait: exponential for c > 1, P-K/Takács's for c = 1
        if servers == 1 and p_wait > 0:
            p, first, second = mg1_wait_moments(rate, self.sample)
            spread = second * p / first**2 - 1
        phase = fit_phase(p_wait, mean_wait, mean_wait**2 / p_wait * (1 + spread) if p_wait else 0)
        wait = WaitLaw((phase,) if phase else ())
        service = self.service
        # drops: a full waiting room, or a wait beyond the timeout, i.e. beyond ``timeout ×
        # capacity`` requests queued (each adds 1 / capacity to a wait): the truncated queue
        # (for a deterministic patience the form of Baccelli & Hébuterne's M/M/1+D, 1981)
        room = math.inf
        if service.max_queue is not None:
            room = service.max_queue
        if service.timeout_s is not None:
            room = min(room, service.timeout_s * capacity)
        drop = 0.0
        if room < math.inf and wait.phases:
            drop = blocking(wait.p, wait.phases[0].theta / capacity, room)
        return Stationary(
            capacity_rps=capacity,
            in_system=rate * (mean_wait + self.mean_s),
            saturated=servers,
            wait=wait,
            drop_share=drop,
            backlog_cap=room,
            base={"latency": self.sample},
            tpot=None,
            mean_delay_s=mean_wait,
        )


# ---------------------------------------------------------------- llm


@dataclass(frozen=True)
class Replica:
    """The per-site tables of an llm replica (see :meth:`LLMModel.replica`)."""

    iteration: IterationModel
    rates: np.ndarray
    """Requests/s completed with 1, 2, … slots running, shape (slots,)."""
    keep: np.ndarray
    """Sample indices used for latencies: those that fit the KV cache, shape (POINTS,)."""
    no_room: float
    """Share of requests that can never fit the KV cache (dropped)."""


@dataclass(frozen=True)
class _Pace:
    """How one replica iterates at a given load (times in s)."""

    per_token_s: float
    """Mean time between two tokens of a decoding request (the TPOT)."""
    step_s: float
    """An iteration without prefill: c0 and the decoders."""
    decoding: float
    """Mean requests decoding in an iteration."""
    prefills_per_s: float
    """Prefill-only iterations per second (vLLM)."""
    load: float
    """Share of each second spent on linear work (prefill and decode tokens)."""


class LLMModel:
    """Replicas of a continuous-batching model, each at a steady-state fixed point of the
    iteration-time model ``t = c0 + c_pf·P + c_b·B + c_kv·K`` (:mod:`twin.model.iteration`).

    At ``λ`` requests/s per replica (below saturation) each second holds ``λ`` prompts, ``λ
    E[o − 1]`` decode steps and ``λ E[(o − 1)(p + o/2)]`` context tokens, i.e. ``λw``
    seconds of linear work, and ``c0`` per iteration, so the mean iteration lasts
    ``c0 / (1 − λw)`` (Sarathi: every iteration decodes; vLLM: ``λ`` of the iterations per
    second are prefills and decode nothing). That is the TPOT; the running batch is ``λ ×``
    its lifetime (Little). TTFT = the rest of the iteration under way (uniform) + the waits
    + the prompt's own prefill (Sarathi: ``⌈p / (budget − decoders)⌉`` chunk iterations,
    the last one shared with the next prompt's first chunk when it has arrived; vLLM: one
    prefill iteration). Two waits:

    * for a slot: the replica as a birth–death chain over its running batch, departures at
      the saturation rate of that batch size (:meth:`IterationModel.throughput_rps`), waits
      scaled by ``(c_a² + c_s²) / 2`` with c_a² = 1 / replicas (round-robin dispatch of
      Poisson arrivals) and c_s² that of the output length (the slot is held ∝ output);
    * for the prefill's turn: the prompt tokens as a GI/G/1 queue served at the chunk rate
      (:func:`~twin.model.fluid_queues.gg1_wait`).

    TPOT varies between requests by the prefills that run during their decodes (:func:`_tpot`).
    """

    def __init__(self, service: Service, rng: np.random.Generator) -> None:
        assert service.prompt_tokens is not None and service.output_tokens is not None
        if pairing(service) == "independent":
            prompt = stratified(make_sampler(service.prompt_tokens, rng), POINTS, DRAWS).points
            output = stratified(make_sampler(service.output_tokens, rng), POINTS, DRAWS).points
            output = rng.permutation(output)
        else:  # the pairs drawn together, one at each prompt quantile
            prompt, output = stratified_pairs(joint_sampler(service, rng), POINTS, DRAWS)
        self.prompt = np.maximum(1, np.rint(prompt))
        self.output = np.maximum(1, np.rint(output))
        self.scores = rng.permutation(normal_scores(POINTS))
        self.into = rng.permutation((np.arange(POINTS) + 0.5) / POINTS)
        """Where in the iteration under way each point arrives (its residual's share)."""
        self.service = service
        self.decodes = self.output - 1
        self.contexts = self.decodes * (self.prompt + self.output / 2)
        self.scv_output = float(self.output.var() / self.output.mean() ** 2)

    def replica(self, iteration: IterationModel, prompt: float, output: float) -> Replica:
        """What a replica on ``iteration`` needs each window: its departure rates with ``n =
        1 … slots`` requests running (the saturation rate at that batch size; slots:
        ``max_batch``, capped by the KV cache, as :meth:`IterationModel.throughput_rps`
        does), and which sample points fit its KV cache (the others are dropped, and stand
        in for by fitting ones)."""
        service = self.service
        slots = max(1, min(service.max_batch, iteration.kv_capacity_tokens // int(prompt + output)))
        rates = [
            iteration.throughput_rps(n, prompt, output, service.token_budget, service.scheduler)
            for n in range(1, slots + 1)
        ]
        fits = np.flatnonzero(self.prompt + self.output <= iteration.kv_capacity_tokens)
        keep = np.resize(fits, POINTS) if len(fits) else np.arange(POINTS)
        return Replica(iteration, np.array(rates), keep, 1 - len(fits) / POINTS)

    def stationary(self, replica: Replica, replicas: int, arrival_rps: float) -> Stationary:
        service = self.service
        m = replica.iteration
        full = float(replica.rates[-1])
        rate = min(arrival_rps / replicas, stationary_cap(full) * full)
        keep = replica.keep
        p, dec = self.prompt[keep], self.decodes[keep]
        pace = self._pace(m, rate, p, dec, self.contexts[keep])
        if service.scheduler == "sarathi":
            room = max(1.0, service.token_budget - pace.decoding)
            # chunks: the budget the decoders leave, their number Poisson around its mean
            spread = np.sqrt(pace.decoding) * _SPREAD
            rooms = np.maximum(1.0, service.token_budget - pace.decoding - spread)
            chunks = np.ceil(p[:, None] / rooms[None, :]).mean(axis=1)
            prefill = chunks * pace.step_s + m.c_pf * p
            serve = p * (pace.step_s / room + m.c_pf)  # prompt tokens through the chunk stream
            stall = m.c_pf * p
        else:
            prefill = serve = stall = m.c0 + m.c_pf * p
        chain = slot_chain(rate, replica.rates)
        scv_arrivals = 1 / replicas
        slot_theta = (full - rate) / ((scv_arrivals + self.scv_output) / 2)
        wait = _waits(rate, serve, scv_arrivals, chain.p_wait, slot_theta)
        events = rate * pace.per_token_s * dec  # prefills that arrive during the decodes
        tpot = _tpot(m.c0, pace, dec, self.scores[keep], events, stall, chain.p_wait)
        if service.scheduler == "sarathi":
            last = p - (chunks - 1) * room  # its iteration takes the next prompt's first chunk
            shared = erlang_cdf(replicas, replicas * rate * prefill)  # if it came in time
            prefill = prefill + m.c_pf * (room - last) * shared
        ttft = self.into[keep] * pace.step_s + prefill  # the iteration under way, then its own
        drop = replica.no_room
        if service.max_queue is not None:
            queue_full = blocking(chain.p_wait, slot_theta / full, service.max_queue)
            drop += (1 - replica.no_room) * queue_full
        iterations = 1 / pace.per_token_s + pace.prefills_per_s
        return Stationary(
            capacity_rps=replicas * full,
            in_system=replicas * (chain.running + rate * wait.mean_s),
            saturated=replicas * len(replica.rates),
            wait=wait,
            drop_share=min(1.0, drop),
            backlog_cap=math.inf if service.max_queue is None else replicas * service.max_queue,
            base={"ttft": ttft, "e2e": ttft + dec * np.nan_to_num(tpot)},
            tpot=tpot,
            mean_delay_s=float(ttft.mean()) + wait.mean_s,
            mean_batch=(chain.running / pace.per_token_s + pace.prefills_per_s) / iterations,
            busy=1 - chain.idle,
        )

    def _pace(
        self,
        m: IterationModel,
        rate: float,
        prompt: np.ndarray,
        decodes: np.ndarray,
        contexts: np.ndarray,
    ) -> _Pace:
        """The fixed point at ``rate`` requests/s (see the class doc). The saturation rate
        is taken at the mean lengths, and the sample's work can put the load a little above
        what that allows: it is capped short of 1."""
        work = float((m.c_pf * prompt + decodes * m.c_b + m.c_kv * contexts).mean())
        load = min(rate * work, 0.99)
        if self.service.scheduler == "sarathi":
            per_token, prefills_per_s = m.c0 / (1 - load), 0.0
        else:
            iterations_per_s = (1 - load) / m.c0
            prefills_per_s = min(rate, 0.9 * iterations_per_s)
            per_token = 1 / (iterations_per_s - prefills_per_s)
        decoding = rate * float(decodes.mean()) * per_token
        decode_s = m.c_b * decoding + m.c_kv * rate * float(contexts.mean()) * per_token
        return _Pace(per_token, m.c0 + decode_s, decoding, prefills_per_s, load)


def _waits(
    rate: float, serve: np.ndarray, scv_arrivals: float, p_slot: float, slot_theta: float
) -> WaitLaw:
    """The two waits of an llm request: its prefill's turn (GI/G/1 over the prompts'
    ``serve`` times, the spread of its conditional wait that of M/G/1, Takács), or, when
    every slot is taken (``p_slot``), an exponential of rate ``slot_theta`` and then the
    prefill's mean turn."""
    mean_serve = float(serve.mean())
    rho = min(rate * mean_serve, stationary_cap(1 / mean_serve))
    serve_scv = float(serve.var()) / mean_serve**2
    turn_p, turn_mean = gg1_wait(rho, mean_serve, scv_arrivals, serve_scv)
    pk_p, pk_mean, pk_second = mg1_wait_moments(rho / mean_serve, serve)
    turn_scv = pk_second * pk_p / pk_mean**2 - 1 if pk_mean > 0 else 1.0
    turn_second = turn_mean**2 / turn_p * (1 + turn_scv) if turn_p > 0 else 0.0
    free = 1 - p_slot
    turn = fit_phase(free * turn_p, free * turn_mean, free * turn_second)
    phases = [turn] if turn else []
    if p_slot > 0:
        phases.append(Phase(p_slot, turn_mean, slot_theta))
    return WaitLaw(tuple(phases))


def _tpot(
    floor_s: float,
    pace: _Pace,
    dec: np.ndarray,
    z: np.ndarray,
    events: np.ndarray,
    stall: np.ndarray,
    full: float,
) -> np.ndarray:
    """TPOT per sample point: the mean iteration plus the prefills of the ``events``
    requests (expected) that arrive during its decodes, each stalling it ``stall``: a
    compound Poisson sum over ``o − 1`` tokens, so its variance falls as ``1 / (o − 1)``,
    amplified by ``1 / (1 − load)`` (longer iterations gather more work) and thinned by the
    share of time the slots are ``full`` (admissions then follow departures, not Poisson
    arrivals); its skew by a Cornish–Fisher term (Johnson, Kotz & Kemp, *Univariate
    Discrete Distributions*, 2005, §9.3 for the compound Poisson's moments). NaN for
    one-token outputs, as ``request`` reports them."""
    second = float((stall**2).mean())
    skew = float((stall**3).mean()) / second**1.5 / np.sqrt(np.maximum(events, 1e-9))
    skew = np.minimum(skew, 2.0)  # the expansion stays monotone in z up to here
    spread = np.sqrt(events * second / (1 - pace.load) * (1 - full)) / np.maximum(dec, 1)
    value = pace.per_token_s + spread * (z + (z**2 - 1) * skew / 6)
    return np.where(dec > 0, np.maximum(floor_s, value), np.nan)
