"""Completions of a multi-server FCFS window, compiled, equal their numpy twin."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.completions import Pending, complete, complete_ref, llm_served, llm_served_ref


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


@settings(max_examples=300, deadline=None)
@given(
    m=st.integers(0, 300),
    ttft_slo_s=st.sampled_from([math.inf, 0.2, 1.0]),
    tpot_slo_s=st.sampled_from([math.inf, 0.03, 0.1]),
    seed=st.integers(0, 2**16),
)
def test_llm_completions_equal_the_numpy_twin(m, ttft_slo_s, tpot_slo_s, seed):
    rng = np.random.default_rng(seed)
    ids = (rng.integers(0, 10**6, m) << 8) | rng.integers(0, 34, m)
    tpot_s = np.where(rng.random(m) < 0.1, math.nan, rng.exponential(0.05, m))
    args = (ids, rng.exponential(0.5, m), tpot_s, rng.exponential(5.0, m))
    args += (rng.uniform(0.001, 0.06, 34), 8, ttft_slo_s, tpot_slo_s)
    for got, want in zip(llm_served(*args), llm_served_ref(*args), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
