"""Time between tokens and scheduling delay of the continuous-batching kernel: the TBT
histogram against the plain-Python reference's gaps (stepping: bucket for bucket; jumping:
up to the rounding of a boundary), gap conservation (o − 1 gaps per completed request), a
lone request's gaps by hand, regions kept apart in a replica bank, and scheduling delays by
hand and against the reference."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin.kernels import queueing as q
from twin.kernels.batching_bank import ReplicaBank
from twin.kernels.sketch import BUCKETS, GAMMA, INDEX_MIN, sketch_ref

HYP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPPING = {"event_skipping": False}


@st.composite
def stream(draw):
    """A small stream on a replica: either scheduler, reserve or paged KV (recompute or
    swap), a decode pool's prefilled arrivals or not, cut into windows."""
    mode = draw(st.sampled_from(["vllm", "sarathi"]))
    prefilled = draw(st.sampled_from([False, False, True]))
    n = draw(st.integers(0, 20))
    arrivals = np.cumsum(np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))) / 16)
    prompt = np.array(draw(st.lists(st.integers(1, 40), min_size=n, max_size=n)), dtype=np.int64)
    low = 2 if prefilled else 1
    output = np.array(draw(st.lists(st.integers(low, 30), min_size=n, max_size=n)), dtype=np.int64)
    block = draw(st.sampled_from([0, 0, 1, 4]))
    biggest = max(int((prompt + output).max()) if n else 2, 2)
    kv_cap = draw(st.integers(biggest, 3 * biggest)) + (2 * biggest if block else 0)
    max_batch = draw(st.integers(1, 5))
    budget = draw(st.integers(max_batch if mode == "sarathi" else 0, 60))
    coef = draw(
        st.tuples(
            st.sampled_from([0.0, 0.01, 0.0375]),
            st.sampled_from([1e-3, 3.3e-3]),
            st.sampled_from([1e-4, 2e-3, 7.1e-3]),
            st.sampled_from([0.0, 1e-5, 3.7e-4]),
        )
    )
    swap = draw(st.sampled_from([-1.0, 2.5e-4])) if block else -1.0
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    params = (mode, *coef, max_batch, kv_cap, budget)
    options = {"prefilled": prefilled, "kv_block_tokens": block, "swap_s_per_token": swap}
    ends = [*(float(arrivals[c]) if c < n else math.inf for c in cuts), math.inf]
    windows = list(zip([0, *cuts], [*cuts, n], ends, strict=True))
    return params, options, arrivals, prompt, output, windows


def _run(replica, arrivals, prompt, output, windows):
    """Step ``replica`` window by window; the completions of every window, concatenated."""
    parts = [replica.step(arrivals[i:j], prompt[i:j], output[i:j], u) for i, j, u in windows]
    return q.BatchingResult(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def _dense(gaps) -> np.ndarray:
    """The dense histogram (BUCKETS long) of gap values, by the numpy sketch."""
    dense = np.zeros(BUCKETS, dtype=np.int64)
    bins, counts = sketch_ref(np.asarray(gaps, dtype=float))
    dense[bins.astype(np.int64) - INDEX_MIN] = counts
    return dense


@HYP
@given(stream())
def test_stepped_tbt_is_the_reference_gaps_bucket_for_bucket(case):
    """Stepping, the kernel's histogram holds exactly the gaps the reference produced one by
    one, and each completed request closed o − 1 gaps (none is lost at a preemption, a
    swap or a window end)."""
    params, options, arrivals, prompt, output, windows = case
    kernel = q.BatchingReplica(*params, **options, **STEPPING)
    got = _run(kernel, arrivals, prompt, output, windows)
    ref = q.BatchingReplicaRef(*params, **options)
    _run(ref, arrivals, prompt, output, windows)
    gaps = [g for _, g in ref.gaps]
    np.testing.assert_array_equal(kernel.state.take_tbt(), _dense(gaps))
    assert kernel.stats[q.STAT_GAPS] == len(gaps) == ref.stats[q.STAT_GAPS]
    assert kernel.stats[q.STAT_GAP_SUM] == ref.stats[q.STAT_GAP_SUM]
    done = dict(zip(got.ids.tolist(), (output[got.ids] - 1).tolist(), strict=True))
    per_request: dict[int, int] = {}
    for rid, g in ref.gaps:
        per_request[rid] = per_request.get(rid, 0) + 1
        assert g >= 0.0
    assert {r: per_request.get(r, 0) for r in done} == done
    assert not kernel.state.take_tbt().any()  # taken: counting starts afresh


@HYP
@given(stream())
def test_jumped_tbt_is_the_stepped_one_up_to_boundary_rounding(case):
    """Jumping over decode runs counts the same gaps: equal totals and sums, and the
    histograms differ only by gaps within rounding of a bucket boundary."""
    params, options, arrivals, prompt, output, windows = case
    jumping = q.BatchingReplica(*params, **options)
    _run(jumping, arrivals, prompt, output, windows)
    ref = q.BatchingReplicaRef(*params, **options)
    _run(ref, arrivals, prompt, output, windows)
    gaps = np.array([g for _, g in ref.gaps])
    got = jumping.state.take_tbt()
    want = _dense(gaps)
    assert got.sum() == want.sum() == jumping.stats[q.STAT_GAPS]
    assert jumping.stats[q.STAT_GAP_SUM] == np.float64(ref.stats[q.STAT_GAP_SUM]) or math.isclose(
        jumping.stats[q.STAT_GAP_SUM], ref.stats[q.STAT_GAP_SUM], rel_tol=1e-9
    )
    if not np.array_equal(got, want):
        uppers = GAMMA ** (np.arange(BUCKETS) + INDEX_MIN)
        near = np.isclose(gaps[:, None], uppers[None, :], rtol=1e-9, atol=0).sum(axis=0)
        moved = np.abs(np.cumsum(got) - np.cumsum(want))
        assert (moved <= near).all()


def test_a_lone_requests_gaps_are_its_decode_iterations():
    """One request (prompt p, output o) on a linear vLLM replica: gap k is the decode
    iteration at context p + k, c0 + c_b + c_kv·(p + k), k = 1 .. o − 1; the mean TBT is
    their mean, and jumping counts the same (its run covers them all)."""
    c0, c_pf, c_b, c_kv, p, o = 0.01, 2e-4, 3e-4, 2e-6, 300, 200
    expected = [c0 + c_b + c_kv * (p + k) for k in range(1, o)]
    for options in (STEPPING, {}):
        r = q.BatchingReplica("vllm", c0, c_pf, c_b, c_kv, 4, 10_000, **options)
        r.step([0.0], [p], [o], math.inf)
        assert r.stats[q.STAT_GAPS] == o - 1
        mean = r.stats[q.STAT_GAP_SUM] / r.stats[q.STAT_GAPS]
        assert math.isclose(mean, float(np.mean(expected)), rel_tol=1e-12)
        np.testing.assert_array_equal(r.state.take_tbt(), _dense(expected))
    assert r.stats[q.STAT_JUMPED] > 0.9 * r.stats[q.STAT_ITERATIONS]


def test_a_vllm_prefill_stall_is_one_long_gap():
    """Request A decodes alone; B arrives and its prefill (c0 + c_pf·P) stalls A: A's gap
    across it is that prefill plus A's next decode iteration."""
    c0, c_pf, c_b, c_kv = 0.01, 1e-3, 1e-3, 0.0
    r = q.BatchingReplica("vllm", c0, c_pf, c_b, c_kv, 4, 10_000, **STEPPING)
    r.step([0.0, 0.05], [10, 500], [20, 2], math.inf)
    stall = (c0 + c_pf * 500) + (c0 + 2 * c_b)
    dense = r.state.take_tbt()
    assert dense[int(np.ceil(np.log(stall) / np.log(GAMMA))) - INDEX_MIN] >= 1
    assert dense.sum() == (20 - 1) + (2 - 1)


def test_a_bank_counts_what_its_replicas_would_alone():
    """Two replicas of a bank stepped together: their TBT histogram is the sum of what each
    counts as a lone replica with its share of the stream, and taking it clears it."""
    rng = np.random.default_rng(7)
    n = 60
    arrivals = np.sort(rng.uniform(0, 3, n))
    prompt = rng.integers(10, 200, n)
    output = rng.integers(2, 40, n)
    coef = ("sarathi", 0.01, 1e-4, 2e-4, 1e-6, 8, 20_000, 256)
    bank = ReplicaBank(q.BatchingParams(*coef))
    slots = [bank.add(), bank.add()]
    half = n // 2
    bank.step(slots, np.array([half, n - half]), arrivals, prompt, output, np.arange(n), 1.5)
    bank.step(slots, np.array([0, 0]), arrivals[:0], prompt[:0], output[:0], np.arange(0), 99.0)
    got = bank.take_tbt(slots)
    want = np.zeros(BUCKETS, dtype=np.int64)
    for part in (slice(0, half), slice(half, n)):
        alone = q.BatchingReplica(*coef)
        alone.step(arrivals[part], prompt[part], output[part], 1.5)
        alone.step([], [], [], 99.0)
        want += alone.state.take_tbt()
    np.testing.assert_array_equal(got, want)
    assert got.sum() == int((output - 1).sum())
    assert not bank.take_tbt(slots).any()


def test_scheduling_delay_is_the_wait_for_a_slot():
    """max_batch 1: requests arriving together wait for the one before to finish; the
    delay is that finish minus their arrival, and 0 for the first."""
    r = q.BatchingReplica("vllm", 0.01, 1e-3, 1e-3, 0.0, 1, 10_000)
    res = r.step([0.0, 0.0, 0.1], [100, 100, 100], [5, 5, 5], math.inf)
    order = np.argsort(res.ids)
    finish, delay = res.finish_s[order], res.sched_delay[order]
    assert delay[0] == 0.0
    assert delay[1] == finish[0]
    assert math.isclose(delay[2], finish[1] - 0.1, rel_tol=1e-12)
    assert (res.sched_delay <= res.ttft).all()


@HYP
@given(stream())
def test_scheduling_delay_matches_the_reference_admissions(case):
    """Every completed request's delay is its first admission (the reference's record)
    minus its arrival, and never exceeds its TTFT."""
    params, options, arrivals, prompt, output, windows = case
    got = _run(q.BatchingReplica(*params, **options), arrivals, prompt, output, windows)
    ref = q.BatchingReplicaRef(*params, **options)
    _run(ref, arrivals, prompt, output, windows)
    want = np.array([ref.admitted_at[i] - arrivals[i] for i in got.ids.tolist()])
    np.testing.assert_allclose(got.sched_delay, want, rtol=1e-9, atol=1e-12)
    assert (got.sched_delay >= 0).all()
    if not options["prefilled"]:
        assert (got.sched_delay <= got.ttft + 1e-12).all()
