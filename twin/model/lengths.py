"""Prompt and output lengths of an llm service, drawn together.

Three ways (``Service.lengths_pairing`` and ``lengths_rank_correlation``):

* **independent**: each length from its own distribution on its own stream (the streams
  ``inference.<id>.prompt`` and ``.output``, as before pairs were kept);
* **rows**: both lengths empirical from the same file: a line of the file drawn each time, so
  the file's own pairs and hence its joint distribution (stream ``inference.<id>.lengths``);
* **copula**: any two marginals with a Spearman rank correlation ρ_s, through a Gaussian copula:
  normal scores with correlation r = 2 sin(π ρ_s / 6) (the normal correlation whose rank
  correlation is ρ_s), each put through its marginal's quantile function (stream
  ``inference.<id>.lengths``).

Every way draws a block of ``n`` pairs at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import ndtr

from twin.config.loader import sample_file
from twin.config.samples import read_sample_rows
from twin.config.schema import Service
from twin.config.schema_base import Choice, Constant, Empirical, Exponential, LogNormal, Uniform
from twin.config.validate_lengths import pairing
from twin.model.distributions import load_samples, make_sampler
from twin.model.rng import stream

LengthSampler = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""``sample(n)`` returns ``n`` prompt lengths and the ``n`` output lengths paired with them."""


def length_sampler(service: Service, seed: int) -> LengthSampler:
    """The sampler of a service's (prompt, output) pairs for scenario seed ``seed``."""
    prompt, output = service.prompt_tokens, service.output_tokens
    assert prompt is not None and output is not None
    how = pairing(service)
    if how == "independent":
        draw_prompt = make_sampler(prompt, stream(seed, f"inference.{service.id}.prompt"))
        draw_output = make_sampler(output, stream(seed, f"inference.{service.id}.output"))
        return lambda n: (draw_prompt(n), draw_output(n))
    return joint_sampler(service, stream(seed, f"inference.{service.id}.lengths"))


def joint_sampler(service: Service, rng: np.random.Generator) -> LengthSampler:
    """The sampler of a service's (prompt, output) pairs drawn together, as rows of their
    file or through the copula (:func:`pairing` says which), from ``rng``."""
    prompt, output = service.prompt_tokens, service.output_tokens
    assert prompt is not None and output is not None
    if pairing(service) == "rows":
        assert isinstance(prompt, Empirical) and isinstance(output, Empirical)
        prompts, outputs = sample_rows(prompt, output)

        def rows(n: int) -> tuple[np.ndarray, np.ndarray]:
            drawn = rng.integers(0, len(prompts), n)
            return prompts[drawn], outputs[drawn]

        return rows
    assert service.lengths_rank_correlation is not None
    r = normal_correlation(service.lengths_rank_correlation)
    prompt_at, output_at = quantile_function(prompt), quantile_function(output)
    spread = math.sqrt(max(0.0, 1.0 - r * r))

    def copula(n: int) -> tuple[np.ndarray, np.ndarray]:
        first, second = rng.standard_normal((2, n))
        return prompt_at(first), output_at(r * first + spread * second)

    return copula


def sample_rows(prompt: Empirical, output: Empirical) -> tuple[np.ndarray, np.ndarray]:
    """The file's (prompt, output) pairs, line by line, each scaled and clipped as its
    distribution says (lines lacking either number left out)."""
    first, second = read_sample_rows(sample_file(prompt), prompt.column, output.column)
    return (
        _clip(prompt, np.frombuffer(first, dtype=np.float64) * prompt.scale),
        _clip(output, np.frombuffer(second, dtype=np.float64) * output.scale),
    )


def normal_correlation(rank_correlation: float) -> float:
    """The correlation of two standard normals whose Spearman rank correlation is the given
    one: r = 2 sin(π ρ_s / 6) (Pearson, 1907)."""
    return 2.0 * math.sin(math.pi * rank_correlation / 6.0)


def quantile_function(spec: object) -> Callable[[np.ndarray], np.ndarray]:
    """``at(z)``: the distribution's quantiles at the standard normal probabilities Φ(z),
    clipped as the distribution says. Choice and empirical distributions take their
    empirical quantile (the smallest value whose cumulative weight reaches Φ(z))."""
    quantiles = _quantiles(spec)
    return lambda z: _clip(spec, quantiles(z))


def _quantiles(spec: object) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(spec, Constant):
        return lambda z: np.full(len(z), float(spec.value))
    if isinstance(spec, Exponential):
        return lambda z: -spec.mean * np.log(ndtr(-z))  # the survival Φ(−z): exact far out
    if isinstance(spec, LogNormal):
        return lambda z: spec.median * np.exp(spec.sigma * z)
    if isinstance(spec, Uniform):
        return lambda z: spec.low + (spec.high - spec.low) * ndtr(z)
    if isinstance(spec, Choice):
        weights = np.asarray(spec.weights or [1.0] * len(spec.values), dtype=np.float64)
        return _weighted_quantiles(np.asarray(spec.values, dtype=np.float64), weights)
    if isinstance(spec, Empirical):
        samples = load_samples(spec) * spec.scale
        return _weighted_quantiles(samples, np.ones(len(samples)))
    raise TypeError(f"no quantile function for {spec!r}")


def _weighted_quantiles(
    values: np.ndarray, weights: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """The quantile function of a discrete distribution: the smallest value whose cumulative
    weight exceeds u = Φ(z) (each value drawn with its weight's share, as uniform u)."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    last = len(ranked) - 1
    return lambda z: ranked[np.minimum(np.searchsorted(cumulative, ndtr(z), side="right"), last)]


def _clip(spec: object, values: np.ndarray) -> np.ndarray:
    low, high = getattr(spec, "min", None), getattr(spec, "max", None)
    return values if low is None and high is None else np.clip(values, low, high)
