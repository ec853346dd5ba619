"""Samplers for the config's distributions: vectorised draws from a named random stream."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from twin.config import data_file
from twin.config.errors import TwinUserError
from twin.config.loader import BUILTIN_PREFIX
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
        samples = load_samples(spec.file, spec.column) * spec.scale
        return lambda n: samples[rng.integers(0, len(samples), n)]
    raise TypeError(f"no sampler for {spec!r}")


@lru_cache(maxsize=16)
def load_samples(file: str, column: str | None) -> np.ndarray:
    """The numeric column of a CSV (optionally gzipped) as float64; cached per process."""
    path = (
        data_file(file.removeprefix(BUILTIN_PREFIX))
        if file.startswith(BUILTIN_PREFIX)
        else Path(file)
    )
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            index = header.index(column) if column else 0
            values = [float(row[index]) for row in reader if row and row[index].strip()]
    except (OSError, ValueError, StopIteration) as error:
        raise TwinUserError(
            f"cannot read samples from {path} (column {column!r}): {error}"
        ) from None
    if not values:
        raise TwinUserError(f"{path} has no samples in column {column or header[0]!r}")
    return np.asarray(values, dtype=np.float64)
