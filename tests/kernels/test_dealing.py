"""Dealing a window's requests to replicas, compiled, equals its numpy twin."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.dealing import deal, deal_ref


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 400),
    replicas=st.integers(1, 9),
    first=st.integers(0, 8),
    first_id=st.integers(0, 10**9),
    kv_capacity=st.sampled_from([2, 500, 4000, 10**9]),
    seed=st.integers(0, 2**16),
)
def test_dealing_equals_the_numpy_twin(n, replicas, first, first_id, kv_capacity, seed):
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0.0, 60.0, n))
    prompt = rng.integers(1, 3000, n)
    output = rng.integers(1, 400, n)
    regions = rng.integers(0, 34, n)
    args = (arrivals, prompt, output, regions, first_id, first % replicas, replicas, kv_capacity)
    for got, want in zip(deal(*args), deal_ref(*args), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_each_replica_gets_its_round_robin_share_in_arrival_order():
    arrivals = np.arange(7.0)
    tokens = np.ones(7, dtype=np.int64)
    dealt = deal(arrivals, tokens, tokens, np.zeros(7, dtype=np.int64), 0, 2, 3, 10)
    assert dealt.counts.tolist() == [2, 2, 3]  # requests 1, 4 | 2, 5 | 0, 3, 6
    assert dealt.arrivals.tolist() == [1.0, 4.0, 2.0, 5.0, 0.0, 3.0, 6.0]
    assert (dealt.ids >> 8).tolist() == [1, 4, 2, 5, 0, 3, 6]
