"""Samplers for the config's distributions: vectorised draws from a named random stream."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from twin.config.loader import sample_file
from twin.config.samples import read_samples
from twin.config.schema import Choice, Constant, Empirical, Exponential, LogNormal, Uniform

Sampler = Callable[[int], np.ndarray]
"""``sample(n)`` returns ``n`` float64 draws."""


def make_sampler(spec: object, rng: np.random.Generator) -> Sampler:
    """A sampler for one distribution of the config, drawing from ``rng``."""
    draw = _raw_sampler(spec, rng)
    low, high = getattr(spec, "min", None), getattr(spec, "max", None)
    if low is None and high is None:
        return draw
    return lambda n: np.clip(draw(n), low, high)


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
