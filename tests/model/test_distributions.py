"""Block draws that must give the values of one draw at a time (the same trace either way)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from twin.config.schema_base import Choice, Constant, Empirical, Exponential, LogNormal, Uniform
from twin.model.distributions import BLOCK, WeightedIndex, make_sampler, one_by_one, uniforms
from twin.model.rng import stream

SPECS = [
    Constant(dist="constant", value=3.0),
    Exponential(dist="exponential", mean=7.0, max=20.0),
    LogNormal(dist="lognormal", median=100.0, sigma=1.5, max=1000.0),
    Uniform(dist="uniform", low=1.0, high=5.0),
    Choice(dist="choice", values=[1.0, 2.0, 8.0], weights=[0.2, 0.5, 0.3]),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.dist)
def test_one_by_one_gives_the_values_of_single_draws(spec) -> None:
    """More than a block of draws, equal to calling the sampler for one value each time."""
    count = BLOCK + 10
    single = make_sampler(spec, stream(5, "test"))
    expected = [float(single(1)[0]) for _ in range(count)]
    assert list(itertools.islice(one_by_one(spec, stream(5, "test")), count)) == expected


def test_one_by_one_gives_the_values_of_single_empirical_draws(tmp_path) -> None:
    """Bounded integer indices too (numpy takes two per 64-bit draw either way)."""
    path = tmp_path / "samples.csv"
    path.write_text("x\n" + "\n".join(str(v) for v in range(1, 101)) + "\n")
    spec = Empirical(dist="empirical", file=str(path), max=90.0)
    single = make_sampler(spec, stream(5, "test"))
    expected = [float(single(1)[0]) for _ in range(BLOCK + 10)]
    assert list(itertools.islice(one_by_one(spec, stream(5, "test")), BLOCK + 10)) == expected


@pytest.mark.parametrize(
    "weights", [[1.0], [0.25, 0.75], [3.0, 0.0, 1.0, 2.0, 0.0], list(np.arange(1.0, 30.0))]
)
def test_weighted_index_draws_as_generator_choice(weights) -> None:
    p = np.asarray(weights) / np.sum(weights)
    ours, numpy_rng = stream(9, "pairs"), stream(9, "pairs")
    draw = WeightedIndex(p)
    drawn = [draw(ours) for _ in range(5000)]
    assert drawn == [int(numpy_rng.choice(len(p), p=p)) for _ in range(5000)]
    assert ours.random() == numpy_rng.random()  # the streams stay in step


def test_uniforms_are_the_single_uniforms() -> None:
    """The training workload draws its failure uniforms a block at a time: the same values,
    in the same order, as one ``random()`` call each."""
    blocked = uniforms(stream(3, "training.failures"))
    single = stream(3, "training.failures")
    assert [next(blocked) for _ in range(3000)] == [single.random() for _ in range(3000)]
