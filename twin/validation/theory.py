"""Closed forms of queueing theory that twin is held against, written independently of twin's
code: Erlang B and C (M/M/c), the M/M/c sojourn-time law, Pollaczek–Khinchine (M/G/1) and
Little's law. The tests and the validation report share this one copy.

References: L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley 1975 (§3.5 M/M/c, §5.6
M/G/1); D. Gross and C. M. Harris, *Fundamentals of Queueing Theory*, Wiley 1998 (§2.3);
J. D. C. Little, "A proof for the queuing formula L = λW", *Operations Research* 9, 1961.
"""

from __future__ import annotations

import math


def erlang_b(c: int, offered: float) -> float:
    """Blocking probability of M/G/c/c with offered load ``offered`` erlang (the stable
    recursion B(k) = a B(k−1) / (k + a B(k−1)), B(0) = 1)."""
    blocking = 1.0
    for k in range(1, c + 1):
        blocking = offered * blocking / (k + offered * blocking)
    return blocking


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``offered`` = λ/μ < c
    (Erlang's C formula; Gross & Harris §2.3)."""
    head = sum(offered**k / math.factorial(k) for k in range(c))
    tail = offered**c / math.factorial(c) * c / (c - offered)
    return tail / (head + tail)


def erlang_c_mean_wait(c: int, lam: float, mean_s: float) -> float:
    """Stationary mean wait in queue of M/M/c: C(c, λ/μ) / (cμ − λ)."""
    return erlang_c(c, lam * mean_s) / (c / mean_s - lam)


def mmc_sojourn_survival(c: int, lam: float, mean_s: float, t: float) -> float:
    """P(wait + service > t) in M/M/c FCFS: (1 − C) e^{−μt} + C (θ e^{−μt} − μ e^{−θt}) /
    (θ − μ), with θ = cμ − λ (the wait, when positive, is exponential of rate θ)."""
    mu = 1 / mean_s
    theta = c * mu - lam
    waits = erlang_c(c, lam * mean_s)
    both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
    return (1 - waits) * math.exp(-mu * t) + waits * both


def mmc_sojourn_quantile(c: int, lam: float, mean_s: float, q: float) -> float:
    """The q-quantile of the M/M/c FCFS sojourn time, by bisection on its survival."""
    low, high = 0.0, 100 * mean_s
    for _ in range(100):
        mid = (low + high) / 2
        if mmc_sojourn_survival(c, lam, mean_s, mid) > 1 - q:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def pollaczek_khinchine_mean_wait(lam: float, mean_s: float, second_moment_s2: float) -> float:
    """Mean wait in queue of M/G/1: λ E[S²] / (2 (1 − ρ)), ρ = λ E[S]."""
    rho = lam * mean_s
    return lam * second_moment_s2 / (2 * (1 - rho))


def littles_law_mean_in_system(arrival_rate: float, mean_time_in_system: float) -> float:
    """L = λ W: the time-average number in a system from its arrival rate and mean sojourn."""
    return arrival_rate * mean_time_in_system
