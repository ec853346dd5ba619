"""Samplers for the config's distributions: vectorised draws from a named random stream."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator

import numpy as np

from twin.config.loader import sample_file
from twin.config.samples import read_samples
from twin.config.schema_base import Choice, Constant, Empirical, Exponential, LogNormal, Uniform

Sampler = Callable[[int], np.ndarray]
"""``sample(n)`` returns ``n`` float64 draws."""


def make_sampler(spec: object, rng: np.random.Generator) -> Sampler:
    """A sampler for one distribution of the config, drawing from ``rng``."""
    draw = _raw_sampler(spec, rng)
    low, high = getattr(spec, "min", None), getattr(spec, "max", None)
    if low is None and high is None:
        return draw

    def clipped(n: int) -> np.ndarray:
        values = draw(n)  # a fresh array: clipped in place when it is float64
        return np.clip(values, low, high, out=values if values.dtype == np.float64 else None)

    return clipped


BLOCK = 1024
"""Draws made at once by :func:`one_by_one`."""


def one_by_one(spec: object, rng: np.random.Generator) -> Iterator[float]:
    """Successive single draws of a distribution, made ``BLOCK`` at a time: the values of
    calling ``sample(1)`` again and again, since numpy fills a block element by element from
    the bit stream (PCG64 keeps a spare 32-bit half in its own state, so bounded integers
    agree too; ``tests/model/test_distributions.py`` checks every kind). Draws left unused
    at the end are the stream's alone."""
    sample = make_sampler(spec, rng)
    while True:
        yield from sample(BLOCK).tolist()


def uniforms(rng: np.random.Generator) -> Iterator[float]:
    """Successive ``rng.random()`` draws, made ``BLOCK`` at a time (``random(n)`` fills
    from the same doubles, in the same order)."""
    while True:
        yield from rng.random(BLOCK).tolist()


class WeightedIndex:
    """Draws ``rng.choice(len(p), p=p)`` (one index) the way numpy does (a uniform draw
    placed on the normalised cumulative weights), without its per-call checks."""

    def __init__(self, p: np.ndarray) -> None:
        cdf = np.asarray(p, dtype=np.float64).cumsum()
        cdf /= cdf[-1]
        self._cdf = cdf.tolist()

    def __call__(self, rng: np.random.Generator) -> int:
        return bisect.bisect_right(self._cdf, rng.random())


def _raw_sampler(spec: object, rng: np.random.Generator) -> Sampler:
    if isinstance(spec, Constant):
        return lambda n: np.full(n, spec.value)
    if isinstance(spec, Exponential):
        return lambda n: rng.exponential(spec.mean, n)
    if isinstance(spec, LogNormal):
        return lambda n: rng.lognormal(np.log(spec.median), spec.sigma, n)
    if isinstance(spec, Uniform):
        return lambda n: rng.uniform(spec.low, spec.high, n)
    if isinstance(spec, Choice):
        values = np.asarray(spec.values, dtype=float)
        weights = np.asarray(spec.weights or [1.0] * len(values), dtype=float)
        return lambda n: rng.choice(values, size=n, p=weights / weights.sum())
    if isinstance(spec, Empirical):
        samples = load_samples(spec) * spec.scale
        return lambda n: samples[rng.integers(0, len(samples), n)]
    raise TypeError(f"no sampler for {spec!r}")


def load_samples(spec: Empirical) -> np.ndarray:
    """The samples of an empirical distribution (read and checked by ``twin.config``)."""
    return np.frombuffer(read_samples(sample_file(spec), spec.column), dtype=np.float64)
