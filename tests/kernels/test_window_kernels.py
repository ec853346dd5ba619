"""The inference layer's small compiled kernels equal their numpy twins bit for bit."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.routing import fill_nearest_first, fill_nearest_first_ref
from twin.kernels.window_stats import (
    categorical,
    categorical_ref,
    percentiles_ms,
    percentiles_ms_ref,
    tally_regions,
    tally_regions_ref,
)

SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 0.5, 0.5, 1e-300])


@settings(max_examples=300, deadline=None)
@given(
    groups=st.lists(
        st.lists(st.one_of(st.floats(-1e6, 1e6), SPECIAL), max_size=300), min_size=1, max_size=3
    ),
    quantiles=st.sampled_from([(50, 99), (50, 95, 99), (0, 100), (1, 37.5, 99.9), (99, 50, 1)]),
)
def test_percentiles_equal_the_numpy_twin(groups, quantiles):
    arrays = tuple(np.asarray(values, dtype=float) for values in groups)
    q = (np.asarray(quantiles, dtype=float),) * len(arrays)
    assert percentiles_ms(arrays, q) == percentiles_ms_ref(arrays, q)


@settings(max_examples=300, deadline=None)
@given(
    weights=st.lists(st.floats(0, 10), min_size=1, max_size=40),
    n=st.integers(0, 3000),
    seed=st.integers(0, 2**16),
)
def test_categorical_draws_equal_the_numpy_twin(weights, n, seed):
    w = np.asarray(weights)
    if w.sum() == 0:
        w[0] = 1.0
    cumulative = np.cumsum(w) / w.sum()
    rng = np.random.default_rng(seed)
    uniform = rng.random(n)
    uniform[: n // 4] = rng.integers(0, 64, n // 4) / 64  # exact boundaries and ties
    np.testing.assert_array_equal(
        categorical(cumulative, uniform), categorical_ref(cumulative, uniform)
    )


@settings(max_examples=200, deadline=None)
@given(
    regions=st.integers(1, 40),
    sizes=st.tuples(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500)),
    seed=st.integers(0, 2**16),
)
def test_region_tallies_equal_the_numpy_twin(regions, sizes, seed):
    rng = np.random.default_rng(seed)
    arrived, served, dropped = (rng.integers(0, regions, size) for size in sizes)
    missed = rng.random(sizes[1]) < 0.3
    start = rng.integers(0, 50, (4, regions)).astype(float)
    got, want = start.copy(), start.copy()
    tally_regions(got, arrived, served, missed, dropped)
    tally_regions_ref(want, arrived, served, missed, dropped)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=300, deadline=None)
@given(
    regions=st.integers(1, 12),
    sites=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    budget=st.sampled_from([math.inf, 0.02, 0.05]),
    ties=st.booleans(),
)
def test_slo_fill_equals_the_python_twin(regions, sites, seed, budget, ties):
    rng = np.random.default_rng(seed)
    demand = rng.exponential(10.0, regions) * (rng.random(regions) > 0.2)
    times = rng.uniform(0.001, 0.06, (regions, sites))
    if ties:
        times = np.round(times, 2)  # equal round trips: the stable order decides
    room = rng.exponential(15.0, sites) * (rng.random(sites) > 0.2)
    flows = fill_nearest_first(demand, times, room, budget)
    np.testing.assert_array_equal(flows, fill_nearest_first_ref(demand, times, room, budget))
    np.testing.assert_allclose(flows.sum(axis=1), demand)  # nothing lost or made up


def test_large_arrays_with_ties_give_the_numpy_twins_percentiles():
    rng = np.random.default_rng(5)
    q = np.array([50.0, 95.0, 99.0])
    for n in (1001, 5000, 20000):
        for values in (rng.lognormal(0.0, 1.0, n), rng.integers(0, 4, n) / 4):
            values[:7] = [math.nan, math.inf, -math.inf, 0.0, 0.0, 1e-300, 3.0]
            groups = (values, values[::-1], values[: n // 2])
            assert percentiles_ms(groups, (q,) * 3) == percentiles_ms_ref(groups, (q,) * 3)
