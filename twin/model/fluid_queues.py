"""Queueing formulas of the ``fluid`` fidelity: stationary waits and latency quantiles.

Pure functions on scalars and small fixed-size arrays (none grows with the request rate):

* :func:`erlang_c`: the probability of waiting in M/M/c, in log space over the few terms of
  the Poisson sum that matter (Erlang 1917; Kleinrock, *Queueing Systems* vol. 1, §3.5);
* :func:`slot_chain`: a birth–death chain whose departure rate depends on the number of
  requests served at once (an LLM replica's running batch: Kleinrock §3.1, "state-dependent
  service"), and what an arrival sees in it;
* :func:`gg1_wait`: the GI/G/1 mean wait (Kingman 1961 with the Krämer–Langenbach-Belz
  correction) and probability of waiting (Whitt's QNA, 1983), exact (Pollaczek–Khinchine)
  for Poisson arrivals;
* :func:`wait_quantiles` and :func:`wait_survival`: quantiles and tails of ``X + W`` where
  ``X`` is a fixed sample (service, prefill, round trip …) and ``W`` a wait that is zero or,
  with probability ``p``, exponential: the Allen–Cunneen form of the M/G/c waiting time
  (Allen, *Probability, Statistics and Queueing Theory*, 1990, §6.4), solved exactly for
  the sample rather than by drawing one value per request;
* :func:`stratified`: a sample of a distribution at evenly spaced probabilities, so that a
  few hundred points stand for it without the noise of as many random draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from twin.model.distributions import Sampler
from twin.model.lengths import LengthSampler

# ---------------------------------------------------------------- fixed samples


@dataclass(frozen=True)
class Stratified:
    """A distribution as :func:`stratified` gives it."""

    points: np.ndarray
    """Values at probabilities ``(k + ½) / len(points)``, ascending."""
    mean: float
    """Mean of all the draws (the points understate a long tail's share of it)."""
    scv: float
    """Squared coefficient of variation of all the draws."""


def stratified(sampler: Sampler, points: int, draws: int) -> Stratified:
    """``points`` values of a distribution at evenly spaced probabilities, read off the
    order statistics of ``draws`` random draws, and the draws' mean and variability."""
    ranked = np.sort(sampler(draws))
    at = ((np.arange(points) + 0.5) / points * draws).astype(np.int64)
    mean = float(ranked.mean())
    return Stratified(ranked[at], mean, float(ranked.var()) / mean**2 if mean else 0.0)


def stratified_pairs(
    sampler: LengthSampler, points: int, draws: int
) -> tuple[np.ndarray, np.ndarray]:
    """``points`` pairs of a joint distribution: the draws at the evenly spaced ranks of the
    first value (so the first at its stratified quantiles, as :func:`stratified` gives
    them), each with its own second value (so the pairs keep the joint distribution)."""
    first, second = sampler(draws)
    order = np.argsort(first, kind="stable")
    at = order[((np.arange(points) + 0.5) / points * draws).astype(np.int64)]
    return first[at], second[at]


def normal_scores(points: int) -> np.ndarray:
    """Standard normal quantiles at ``(k + ½) / points`` (ascending)."""
    unit = NormalDist()
    return np.array([unit.inv_cdf((k + 0.5) / points) for k in range(points)])


# ---------------------------------------------------------------- stationary queues


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``offered`` = λ/μ.

    Erlang B is the Poisson(a) mass at ``c`` over its mass up to ``c``; the sum runs over
    ``[a − 12√a, min(c, a + 40√a)]`` (the rest is below 1e-30 of it), in log space, so its
    cost grows with √a, not with ``c``. Then C = c·B / (c − a(1 − B)); 1 when a ≥ c.
    """
    if offered <= 0:
        return 0.0
    if offered >= c:
        return 1.0
    spread = 12 * math.sqrt(offered) + 10
    low = max(0, int(offered - spread))
    high = min(c, int(offered + 40 * math.sqrt(offered) + 100))
    log_a = math.log(offered)
    start = low * log_a - math.lgamma(low + 1)
    terms = start + np.concatenate(([0.0], np.cumsum(log_a - np.log(np.arange(low + 1, high + 1)))))
    at_c = terms[-1] if high == c else c * log_a - math.lgamma(c + 1)
    top = max(float(terms.max()), at_c)
    total = float(np.exp(terms - top).sum()) + (0.0 if high == c else math.exp(at_c - top))
    blocking = math.exp(at_c - top) / total
    return c * blocking / (c - offered * (1 - blocking))


def erlang_cdf(stages: int, x: np.ndarray) -> np.ndarray:
    """``P(Gamma(stages, 1) ≤ x)``: the gap to the next of a replica's round-robin share of
    Poisson arrivals is Erlang with ``stages`` = replicas (``x`` = gap × replicas × rate)."""
    term = np.exp(-x)
    below = term.copy()
    for k in range(1, stages):
        term = term * x / k
        below += term
    return 1 - below


def gg1_wait(
    rho: float, mean_s: float, scv_arrivals: float, scv_service: float
) -> tuple[float, float]:
    """``(P(W > 0), E[W])`` in GI/G/1 at utilisation ``rho`` < 1, from the two SCVs.

    The mean is Kingman's ``ρ/(1−ρ) · (c_a² + c_s²)/2 · E[S]`` with the Krämer &
    Langenbach-Belz factor for c_a² < 1 (``exp(−2(1−ρ)(1−c_a²)² / (3ρ(c_a² + c_s²)))``);
    the probability of waiting that of Whitt's QNA (*Bell System Tech. J.* 62, 1983,
    eqs. 43–44), ``ρ + (c_a² − 1) ρ (1 − ρ) h``. Both are exact for Poisson arrivals
    (Pollaczek–Khinchine: ``P(W > 0) = ρ``).
    """
    if rho <= 0:
        return 0.0, 0.0
    ca2, cs2 = scv_arrivals, scv_service
    mean = rho / (1 - rho) * (ca2 + cs2) / 2 * mean_s
    if ca2 < 1:
        mean *= math.exp(-2 * (1 - rho) * (1 - ca2) ** 2 / (3 * rho * (ca2 + cs2)))
        h = (1 + ca2 + rho * cs2) / (1 + rho * (cs2 - 1) + rho**2 * (4 * ca2 + cs2))
    else:
        h = 4 * rho / (ca2 + rho**2 * (4 * ca2 + cs2))
    return min(1.0, max(0.0, rho + (ca2 - 1) * rho * (1 - rho) * h)), mean


@dataclass(frozen=True)
class SlotView:
    """What the stationary slot chain of one replica gives (see :func:`slot_chain`)."""

    p_wait: float
    """Probability that an arrival finds every slot taken."""
    running: float
    """Mean requests holding a slot."""
    idle: float
    """Probability that the replica holds no request."""


def slot_chain(arrival_rps: float, departure_rps: np.ndarray) -> SlotView:
    """The stationary birth–death chain of a server of ``n = len(departure_rps)`` slots.

    In state ``k`` (requests present) departures happen at ``departure_rps[min(k, n) − 1]``
    (the rate of a running batch of that size); arrivals at ``arrival_rps`` (< the full
    rate). Beyond ``n`` the requests wait and the chain is geometric. An arrival sees the
    stationary state (PASTA).
    """
    ratio = arrival_rps / departure_rps
    log_pi = np.concatenate(([0.0], np.cumsum(np.log(ratio))))  # states 0..n
    top = float(log_pi.max())
    pi = np.exp(log_pi - top)
    full = float(ratio[-1])
    tail = pi[-1] / (1 - full)  # Σ over states n, n+1, …
    total = float(pi[:-1].sum()) + tail
    n = len(departure_rps)
    running = (float(np.arange(n) @ pi[:-1]) + n * tail) / total
    return SlotView(p_wait=tail / total, running=running, idle=float(pi[0]) / total)


def blocking(p_wait: float, decay: float, room: float) -> float:
    """Share of arrivals that find ``room`` requests already waiting, for a queue whose
    unbounded version has ``P(Q ≥ n) = p_wait · r^n``, ``r = e^{−decay}``: truncating a
    birth–death chain keeps its ratios, so ``p_wait (1 − r) r^room / (1 − p_wait r^(room+1))``
    (with ``room = 0`` and ``r = ρ``, Erlang B from Erlang C)."""
    if p_wait <= 0:
        return 0.0
    r = math.exp(-decay)
    return p_wait * (1 - r) * r**room / (1 - p_wait * r ** (room + 1))


# ---------------------------------------------------------------- the waiting-time law


@dataclass(frozen=True)
class Phase:
    """With probability ``p`` a request waits ``shift_s`` plus an exponential of rate
    ``theta``."""

    p: float
    shift_s: float
    theta: float


@dataclass(frozen=True)
class WaitLaw:
    """A wait that is 0, or is one of the :class:`Phase` s (their ``p`` sum to at most 1)."""

    phases: tuple[Phase, ...] = ()

    @property
    def p(self) -> float:
        return sum(phase.p for phase in self.phases)

    @property
    def mean_s(self) -> float:
        return sum(phase.p * (phase.shift_s + 1 / phase.theta) for phase in self.phases)


def fit_phase(p: float, mean_s: float, second_s2: float) -> Phase | None:
    """The phase with ``P(W > 0) = p``, ``E[W] = mean_s`` and ``E[W²] = second_s2``: a
    shifted exponential when the conditional wait varies less than an exponential's (its
    first two moments matched), else an exponential of the conditional mean."""
    if p <= 0 or mean_s <= 0:
        return None
    given = mean_s / p
    spread = math.sqrt(max(second_s2 / p - given**2, 0.0))
    if spread >= given or spread == 0:
        return Phase(p, 0.0, 1 / given)
    return Phase(p, given - spread, 1 / spread)


def mg1_wait_moments(rate: float, service_s: np.ndarray) -> tuple[float, float, float]:
    """``(P(W > 0), E[W], E[W²])`` in M/G/1 with service times sampled by ``service_s``:
    Pollaczek–Khinchine and Takács (Kleinrock vol. 1, §5.7)."""
    s1, s2, s3 = (float((service_s**k).mean()) for k in (1, 2, 3))
    rho = rate * s1
    mean = rate * s2 / (2 * (1 - rho))
    return rho, mean, 2 * mean**2 + rate * s3 / (3 * (1 - rho))


# ---------------------------------------------------------------- X + W quantiles


def wait_quantiles(
    x: np.ndarray, law: WaitLaw, q: np.ndarray, calm: np.ndarray | None = None
) -> np.ndarray:
    """Quantiles ``q`` (in (0, 1)) of ``X + W``: ``X`` uniform over the sorted sample ``x``,
    ``W`` independent of it with the law ``law``; the points where ``calm`` is False (if
    given) do not wait.

    The points are ``x`` (weight ``1 − Σp``) and, per phase, ``x + shift`` (weight ``p``);
    the distribution function is ``F(t) = Σ_{y_k ≤ t} ω_k (1 − e^{−θ_k(t − y_k)})`` (θ = ∞
    for the points that do not wait). Between two points ``y_j ≤ t < y_{j+1}`` it is
    ``Ω_j − Σ_phases S_j e^{−θ(t − y_j)}``, ``Ω_j`` the weight up to ``j`` and ``S_j`` the
    phase's running log-sum-exp: the quantile's interval is found by a search over the
    points, then the root in it by Newton's method (convex and decreasing: monotone
    convergence; one phase needs one step, a logarithm).
    """
    k = len(x)
    phases = [phase for phase in law.phases if phase.p > 0]
    if not phases:
        return x[np.minimum(np.ceil(q * k).astype(np.int64) - 1, k - 1).clip(0)]
    y = np.concatenate([x] + [x + phase.shift_s for phase in phases])
    order = np.argsort(y, kind="stable")  # sorted runs: merges
    y = y[order]
    group = order // k
    weights = np.array([1 - sum(phase.p for phase in phases)] + [ph.p for ph in phases]) / k
    weight = weights[group]
    if calm is not None:  # the points that do not wait keep their whole weight unmoved
        calm_y = np.tile(calm, len(phases) + 1)[order]
        weight = np.where(calm_y, weight, np.where(group == 0, 1 / k, 0.0))
    below = np.cumsum(weight)
    sums = [
        _decayed_sums(y, np.where(group == number, weight, 0.0), phase.theta)
        for number, phase in enumerate(phases, start=1)
    ]
    at_points = below - np.sum(sums, axis=0)  # F at each point
    j = np.searchsorted(at_points, q, side="left")  # points with F < q
    out = np.empty(len(q))
    n = len(y)
    thetas = [phase.theta for phase in phases]
    for i, (jj, qq) in enumerate(zip(j.tolist(), q.tolist(), strict=True)):
        if jj == 0:
            out[i] = y[0]
            continue
        gap = below[jj - 1] - qq
        following = y[jj] if jj < n else math.inf
        if gap <= 0:
            out[i] = following
            continue
        weights_j = [float(s[jj - 1]) for s in sums]
        out[i] = min(following, y[jj - 1] + _decay_root(weights_j, thetas, gap))
    return out


_SPAN = 600.0
"""Largest exponent range summed in one piece (e^600 is well inside float64)."""


def _decayed_sums(y: np.ndarray, weight: np.ndarray, theta: float) -> np.ndarray:
    """``S_j = Σ_{k ≤ j} weight_k e^{−θ(y_j − y_k)}`` for ascending ``y``: cumulative sums
    of ``weight e^{θ(y − y_0)}`` over pieces where the exponent spans less than
    :data:`_SPAN`, each carried into the next (no overflow, no log-space recurrence)."""
    exponent = theta * y
    out = np.empty(len(y))
    start, carry, n = 0, 0.0, len(y)
    while start < n:
        stop = max(start + 1, int(np.searchsorted(exponent, exponent[start] + _SPAN)))
        rise = exponent[start:stop] - exponent[start]
        out[start:stop] = (carry + np.cumsum(weight[start:stop] * np.exp(rise))) * np.exp(-rise)
        if stop < n:
            carry = out[stop - 1] * math.exp(exponent[stop - 1] - exponent[stop])
        start = stop
    return out


def _decay_root(weights: list[float], thetas: list[float], level: float) -> float:
    """τ ≥ 0 with ``Σ w e^{−θτ} = level`` (0 < level < Σ w), by Newton from τ = 0."""
    if len(weights) == 1:
        return math.log(weights[0] / level) / thetas[0]
    tau = 0.0
    for _ in range(60):
        terms = [w * math.exp(-t * tau) for w, t in zip(weights, thetas, strict=True)]
        excess = sum(terms) - level
        slope = sum(t * term for t, term in zip(thetas, terms, strict=True))
        step = excess / slope
        tau += step
        if step <= 1e-12 * max(tau, 1e-9):
            break
    return tau


def wait_survival(
    x: np.ndarray, law: WaitLaw, t: float, calm: np.ndarray | None = None
) -> np.ndarray:
    """Per sample point, ``P(x_k + W > t)`` for the law of :func:`wait_quantiles`."""
    above = (x > t).astype(float)
    survival = (1 - law.p) * above
    for phase in law.phases:
        moved = x + phase.shift_s
        with np.errstate(over="ignore"):
            tail = np.where(moved > t, 1.0, np.exp(-phase.theta * np.maximum(t - moved, 0.0)))
        survival = survival + phase.p * tail
    return survival if calm is None else np.where(calm, survival, above)
