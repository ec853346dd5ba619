"""Error bars over seeds: Student-t intervals of a mean, and of a paired difference.

Runs of one configuration with different seeds are independent replications; their metric
values are summarised as mean ± the t interval's half width (``n - 1`` degrees of freedom).
Two configurations run with the same seeds share their random streams (common random
numbers: twin draws each stream from a seed derived from the scenario seed and the stream's
name), so their difference is estimated per seed and the interval is over those differences:
usually much narrower than comparing two independent means. A difference is *distinguishable
from noise* when its interval excludes zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` replications with its two-sided confidence interval."""

    mean: float
    half_width: float
    """NaN for fewer than two finite values (no spread to estimate)."""
    n: int
    confidence: float = CONFIDENCE

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies wholly on one side of zero (False if it is unknown)."""
        return not math.isnan(self.half_width) and (self.low > 0 or self.high < 0)

    def __str__(self) -> str:
        if math.isnan(self.half_width):
            return f"{self.mean:.4g} (n={self.n})"
        return f"{self.mean:.4g} ± {self.half_width:.2g}"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of the finite ``values`` and its Student-t interval at ``confidence``."""
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(finite)
    if n == 0:
        return Interval(float("nan"), float("nan"), 0, confidence)
    mean = float(finite.mean())
    if n < 2:
        return Interval(mean, float("nan"), n, confidence)
    spread = float(finite.std(ddof=1))
    quantile = _t_quantile(0.5 + confidence / 2, n - 1)
    return Interval(mean, quantile * spread / math.sqrt(n), n, confidence)


def paired_difference(
    a: dict[int, float], b: dict[int, float], confidence: float = CONFIDENCE
) -> Interval:
    """Interval of the mean of ``b[seed] - a[seed]`` over the seeds both have a finite value
    for (values keyed by seed: common random numbers pair them)."""
    seeds = sorted(set(a) & set(b))
    return mean_interval([b[s] - a[s] for s in seeds], confidence)


def welch_difference(
    a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
) -> Interval:
    """Interval of ``mean(b) - mean(a)`` for independent samples (Welch's t, Welch–
    Satterthwaite degrees of freedom): the comparison of groups that share no seeds. ``n``
    is the number of finite values on both sides together."""
    left, right = mean_interval(a, confidence), mean_interval(b, confidence)
    mean = right.mean - left.mean
    n = left.n + right.n
    if left.n < 2 or right.n < 2:
        return Interval(mean, float("nan"), n, confidence)
    va, vb = _variance_of_mean(a), _variance_of_mean(b)
    if va + vb == 0:
        return Interval(mean, 0.0, n, confidence)
    df = (va + vb) ** 2 / (va**2 / (left.n - 1) + vb**2 / (right.n - 1))
    quantile = _t_quantile(0.5 + confidence / 2, df)
    return Interval(mean, quantile * math.sqrt(va + vb), n, confidence)


def _variance_of_mean(values: Sequence[float]) -> float:
    finite = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    return float(finite.var(ddof=1)) / len(finite)


def _t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """Student t's quantile (scipy is imported at the first interval: it costs ~1 s)."""
    from scipy import stats

    return float(stats.t.ppf(probability, df=degrees_of_freedom))
