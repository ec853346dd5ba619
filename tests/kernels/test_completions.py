"""Completions of a multi-server FCFS window, compiled, equal their numpy twin."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.completions import Pending, complete, complete_ref


@settings(max_examples=300, deadline=None)
@given(
    n_pending=st.integers(0, 50),
    n=st.integers(0, 300),
    served_share=st.sampled_from([0.0, 0.7, 1.0]),
    slo_s=st.sampled_from([math.inf, 0.05, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_completions_equal_the_numpy_twin(n_pending, n, served_share, slo_s, seed):
    rng = np.random.default_rng(seed)
    end_s = 60.0
    pending = Pending(
        rng.uniform(50.0, 70.0, n_pending),
        rng.exponential(0.1, n_pending),
        rng.integers(0, 34, n_pending),
    )
    arrivals = np.sort(rng.uniform(0.0, end_s, n))
    served = rng.random(n) < served_share
    wait = np.where(served, rng.exponential(0.2, n), math.nan)
    service_s = rng.lognormal(np.log(0.02), 0.5, n)
    regions = rng.integers(0, 34, n)
    rtt_s = rng.uniform(0.001, 0.06, 34)
    args = (pending, arrivals, wait, service_s, served, regions, rtt_s, end_s, slo_s)
    got, want = complete(*args), complete_ref(*args)
    for mine, theirs in zip([*got.pending, *got[1:]], [*want.pending, *want[1:]], strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
