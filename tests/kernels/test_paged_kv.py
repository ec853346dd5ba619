"""Paged KV admission with preemption (``kv_block_tokens > 0``): the compiled kernel against
its plain-Python reference, event skipping against stepping, the KV bound, token counts,
hand-computed preemptions by recompute and by swap, and paged against reserve."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin.kernels import batching
from twin.kernels import queueing as q
from twin.kernels.batching_bank import ReplicaBank
from twin.kernels.iteration_time import linear_model

HYP = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STEPPING = {"event_skipping": False}


@st.composite
def paged_case(draw, roomy=False):
    """A small stream on a paged replica: tight KV (preemptions) unless ``roomy``."""
    mode = draw(st.sampled_from(["vllm", "sarathi"]))
    prefilled = draw(st.sampled_from([False, False, True]))
    n = draw(st.integers(0, 24))
    gaps = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    arrivals = np.cumsum(np.array(gaps, dtype=float) / 16.0)
    prompt = np.array(draw(st.lists(st.integers(1, 40), min_size=n, max_size=n)), dtype=np.int64)
    low = 2 if prefilled else 1
    output = np.array(draw(st.lists(st.integers(low, 24), min_size=n, max_size=n)), dtype=np.int64)
    block = draw(st.sampled_from([1, 2, 3, 4, 16]))
    biggest = int((prompt + output).max()) if n else 2
    if roomy:  # every request's blocks fit at once, beyond the watermark: KV never binds
        total = int(sum(-(-int(t) // block) for t in prompt + output)) + 1
        kv_cap = (total + total // 99 + 2) * block
    else:
        least = -(-max(biggest, 2) // block) * block
        kv_cap = draw(st.integers(least, 2 * least))
    max_batch = draw(st.integers(1, 5))
    lo = max_batch if mode == "sarathi" else 0
    budget = draw(st.integers(lo, 70))
    c0, c_pf, c_b, c_kv = draw(
        st.tuples(
            st.sampled_from([0.0, 0.01, 0.0375]),
            st.sampled_from([1e-3, 3.3e-3]),
            st.sampled_from([1e-4, 2e-3, 7.1e-3]),
            st.sampled_from([0.0, 1e-5, 3.7e-4]),
        )
    )
    quadratic = draw(st.sampled_from([0.0, 0.0, 2e-5]))
    iteration = linear_model(c0 + 1e-3, c_pf, c_b, c_kv, 1e-3, quadratic) if quadratic else None
    swap = draw(st.sampled_from([-1.0, -1.0, 0.0, 2.5e-4]))
    n_win = draw(st.integers(0, 4))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=n_win, max_size=n_win)))
    fracs = draw(st.lists(st.floats(0.0, 1.0), min_size=n_win, max_size=n_win))
    max_waiting = draw(st.sampled_from([-1, -1, -1, 1, 3]))
    params = (mode, c0, c_pf, c_b, c_kv, max_batch, kv_cap, budget)
    options = {
        "max_waiting": max_waiting,
        "iteration": iteration,
        "prefilled": prefilled,
        "kv_block_tokens": block,
        "swap_s_per_token": swap,
    }
    return params, options, arrivals, prompt, output, _windows(arrivals, cuts, fracs)


def _windows(arrivals, cuts, fracs):
    """Index chunks with window ends between the previous end and the next chunk's start."""
    n = arrivals.shape[0]
    edges = [0, *cuts, n]
    wins, prev = [], 0.0
    for k in range(len(edges) - 1):
        i, j = edges[k], edges[k + 1]
        if k == len(edges) - 2:
            until = math.inf
        else:
            nxt = arrivals[j] if j < n else (arrivals[-1] + 1.0 if n else 1.0)
            until = min(prev + fracs[k] * max(nxt - prev, 0.0), nxt)
        wins.append((i, j, until))
        prev = until
    return wins


def _run(replica, arrivals, prompt, output, wins):
    parts = [replica.step(arrivals[i:j], prompt[i:j], output[i:j], u) for i, j, u in wins]
    return q.BatchingResult(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def _same(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


# ============================================================================================
# Kernel against reference, jumps against steps
# ============================================================================================


@HYP
@given(paged_case())
def test_paged_kernel_equals_reference_when_stepping(case):
    params, options, arrivals, prompt, output, wins = case
    kernel = q.BatchingReplica(*params, **options, **STEPPING)
    got = kernel.step(arrivals, prompt, output, math.inf)
    ref = q.BatchingReplicaRef(*params, **options)
    _same(got, ref.step(arrivals, prompt, output, math.inf))
    np.testing.assert_array_equal(kernel.stats, ref.stats)
    assert sorted([*got.ids.tolist(), *got.dropped_ids.tolist()]) == list(range(len(arrivals)))
    # windows with carried state (preempted requests included) give the same, step by step
    win = q.BatchingReplica(*params, waiting_capacity=2, **options, **STEPPING)
    ref_w = q.BatchingReplicaRef(*params, **options)
    parts = []
    for i, j, u in wins:
        parts.append(win.step(arrivals[i:j], prompt[i:j], output[i:j], u))
        ref_w.step(arrivals[i:j], prompt[i:j], output[i:j], u)
        assert (win.state.n_queued, win.state.n_waiting) == (ref_w.n_queued, ref_w.n_waiting)
        assert win.state.n_preempted == len(ref_w.preempted)
        assert win.state.kv_used == ref_w.kv
    _same(q.BatchingResult(*(np.concatenate(c) for c in zip(*parts, strict=True))), got)
    np.testing.assert_array_equal(win.stats, kernel.stats)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paged_case())
def test_paged_event_skipping_equals_stepping(case):
    """Decode runs are jumped only up to the iteration that would need a block it cannot
    get: the same requests, drops and counts as stepping, times to 1e-9."""
    params, options, arrivals, prompt, output, wins = case
    stepped = q.BatchingReplica(*params, **options, **STEPPING)
    expected = stepped.step(arrivals, prompt, output, math.inf)
    for got, replica in (
        (lambda r: (r.step(arrivals, prompt, output, math.inf), r))(
            q.BatchingReplica(*params, **options)
        ),
        (lambda r: (_run(r, arrivals, prompt, output, wins), r))(
            q.BatchingReplica(*params, waiting_capacity=2, **options)
        ),
    ):
        np.testing.assert_array_equal(got.ids, expected.ids)
        np.testing.assert_array_equal(got.dropped_ids, expected.dropped_ids)
        for x, y in zip(got[1:7], expected[1:7], strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
        sums = [q.STAT_BUSY_S, q.STAT_GAP_SUM, q.STAT_JUMPED]
        counts = np.delete(np.arange(q.N_STATS), sums)
        np.testing.assert_array_equal(replica.stats[counts], stepped.stats[counts])
        assert replica.stats[q.STAT_BUSY_S] == pytest.approx(stepped.stats[q.STAT_BUSY_S])
        assert replica.stats[q.STAT_GAP_SUM] == pytest.approx(stepped.stats[q.STAT_GAP_SUM])


@HYP
@given(paged_case())
def test_paged_kv_bound_tokens_and_latencies(case):
    """Every iteration's KV (whole blocks) stays within the blocks of the capacity; every
    request completes with exactly its output tokens, counted one by one, and its first
    token comes no later than its last."""
    params, options, arrivals, prompt, output, _ = case
    ref = q.BatchingReplicaRef(*params, **options)
    res = ref.step(arrivals, prompt, output, math.inf)
    block, kv_cap = options["kv_block_tokens"], params[6]
    if ref.trace:
        kv = np.array([t[3] for t in ref.trace])
        assert kv.max() <= kv_cap // block * block
        assert np.all(kv % block == 0)
    assert ref.stats[q.STAT_KV_MAX] <= kv_cap
    for rid, ttft, e2e in zip(res.ids.tolist(), res.ttft, res.e2e, strict=True):
        assert ref.tokens[rid] == output[rid]
        assert 0.0 <= ttft <= e2e
    assert ref.stats[q.STAT_PREEMPTIONS] == len(ref.preemptions)
    assert ref.kv == 0 and not ref.preempted and not ref.running


@HYP
@given(paged_case(roomy=True))
def test_paged_without_kv_pressure_equals_reserve(case):
    """When every request's blocks fit at once, nothing is preempted and paged admission
    gives reserve's per-request results bit for bit."""
    params, options, arrivals, prompt, output, wins = case
    paged = q.BatchingReplica(*params, **options)
    got = _run(paged, arrivals, prompt, output, wins)
    reserve_options = {**options, "kv_block_tokens": 0, "swap_s_per_token": -1.0}
    reserve = q.BatchingReplica(*params, **reserve_options)
    _same(got, _run(reserve, arrivals, prompt, output, wins))
    assert paged.stats[q.STAT_PREEMPTIONS] == 0
    same = [q.STAT_ITERATIONS, q.STAT_BATCH_SUM, q.STAT_BUSY_S, q.STAT_PREFILL_TOKENS]
    np.testing.assert_array_equal(paged.stats[same], reserve.stats[same])


# ============================================================================================
# Hand-computed preemptions
# ============================================================================================
#
# vLLM, blocks of 2 tokens, 8 tokens of KV (4 blocks, no watermark below 100 blocks), every
# iteration 1 s (c0 only).  A and B (prompt 2, output 4) arrive at 0 and are admitted with
# the blocks of prompt + first token (4 tokens each): the cache is full.  Prefill [0, 1],
# decode [1, 2] (contexts 3 -> 4 fit their two blocks).  At 2 A needs a third block: B, the
# last admitted, is preempted.


@pytest.mark.parametrize("skipping", [False, True])
def test_preemption_by_recompute_hand_example(skipping):
    r = q.BatchingReplica("vllm", 1.0, 0.0, 0.0, 0.0, 4, 8, kv_block_tokens=2)
    r.params = r.params._replace(event_skipping=skipping)
    res = r.step([0.0, 0.0], [2, 2], [4, 4], math.inf)
    # A decodes [2, 3] and [3, 4] (B's 3 blocks do not fit beside A's 3 until A ends at 4);
    # B prefills prompt + 2 tokens [4, 5] (its 3rd token), decodes its 4th [5, 6]
    assert res.ids.tolist() == [0, 1]
    np.testing.assert_array_equal(res.ttft, [1.0, 1.0])  # B's first token stays at 1
    np.testing.assert_array_equal(res.e2e, [4.0, 6.0])
    np.testing.assert_array_equal(res.max_gap, [1.0, 3.0])  # B: token 2 at 2, token 3 at 5
    np.testing.assert_array_equal(res.tpot, [1.0, 5.0 / 3.0])
    s = r.stats
    assert s[q.STAT_PREEMPTIONS] == 1 and s[q.STAT_ITERATIONS] == 6
    assert s[q.STAT_PREFILL_TOKENS] == 4 + 4  # the prompts, then B's 2 + 2 again
    assert s[q.STAT_KV_MAX] == 8 and r.state.kv_used == 0


@pytest.mark.parametrize("skipping", [False, True])
def test_preemption_by_swap_hand_example(skipping):
    # B's 4 tokens of context go to the host at 0.25 s a token (1 s) in A's decode at 2,
    # which then ends at 4; A decodes [4, 5] and ends; B comes back at 5 (1 s of copy
    # beside its decode: its 3rd token at 7), decodes its 4th [7, 8]; nothing recomputed.
    r = q.BatchingReplica(
        "vllm", 1.0, 0.0, 0.0, 0.0, 4, 8, kv_block_tokens=2, swap_s_per_token=0.25
    )
    r.params = r.params._replace(event_skipping=skipping)
    res = r.step([0.0, 0.0], [2, 2], [4, 4], math.inf)
    assert res.ids.tolist() == [0, 1]
    np.testing.assert_array_equal(res.e2e, [5.0, 8.0])
    np.testing.assert_array_equal(res.max_gap, [2.0, 5.0])
    s = r.stats
    assert s[q.STAT_PREEMPTIONS] == 1 and s[q.STAT_PREFILL_TOKENS] == 4
    assert s[q.STAT_BUSY_S] == 8.0  # six iterations of 1 s and two copies of 1 s


def test_reserve_would_run_one_at_a_time():
    """The same two requests under reserve: each holds prompt + output = 6 of the 8 tokens,
    so they run one after the other (no preemption, but B waits for A's end)."""
    r = q.BatchingReplica("vllm", 1.0, 0.0, 0.0, 0.0, 4, 8)
    res = r.step([0.0, 0.0], [2, 2], [4, 4], math.inf)
    np.testing.assert_array_equal(res.e2e, [4.0, 8.0])
    assert r.stats[q.STAT_PREEMPTIONS] == 0 and r.stats[q.STAT_RUNNING_MAX] == 1


# ============================================================================================
# Under KV pressure: more at once, preemptions, recompute against swap
# ============================================================================================


def _pressure_stream(n=600, seed=5):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / 6.0, n))
    return arrivals, rng.integers(50, 400, n), rng.integers(50, 300, n)


@pytest.mark.parametrize(("mode", "budget"), [("vllm", 0), ("sarathi", 256)])
def test_kv_pressure_paged_batches_more_and_preempts(mode, budget):
    arrivals, prompt, output = _pressure_stream()
    params = (mode, 0.01, 2e-4, 1e-3, 3e-6, 32, 4000, budget)
    reserve = q.BatchingReplica(*params)
    reserve.step(arrivals, prompt, output, math.inf)
    recompute = q.BatchingReplicaRef(*params, kv_block_tokens=16)
    done_r = recompute.step(arrivals, prompt, output, math.inf)
    swap = q.BatchingReplica(*params, kv_block_tokens=16, swap_s_per_token=1e-6)
    done_s = swap.step(arrivals, prompt, output, math.inf)
    kernel = q.BatchingReplica(*params, kv_block_tokens=16)
    np.testing.assert_array_equal(kernel.step(arrivals, prompt, output, math.inf).ids, done_r.ids)

    def mean_batch(stats):
        return stats[q.STAT_BATCH_SUM] / stats[q.STAT_ITERATIONS]

    for paged in (recompute.stats, swap.stats):
        assert mean_batch(paged) > 1.2 * mean_batch(reserve.stats)
        assert paged[q.STAT_PREEMPTIONS] > 0
        assert paged[q.STAT_KV_MAX] <= 4000
        assert paged[q.STAT_COMPLETED] == len(arrivals)
    assert len(done_r.ids) == len(done_s.ids) == len(arrivals)
    # recompute prefills again what each victim had computed (swap moves it instead)
    again = sum(computed for _, _, computed in recompute.preemptions)
    assert again > 0
    assert recompute.stats[q.STAT_PREFILL_TOKENS] == prompt.sum() + again
    assert swap.stats[q.STAT_PREFILL_TOKENS] == prompt.sum()


# ============================================================================================
# Bank, validation, compiled body as Python
# ============================================================================================


def test_bank_counts_preempted_requests_in_the_system():
    arrivals, prompt, output = _pressure_stream(200, 8)
    params = q.BatchingParams("vllm", 0.01, 2e-4, 1e-3, 3e-6, 32, 4000, kv_block_tokens=16)
    bank = ReplicaBank(params, capacity=1)
    slot = bank.add()
    alone = q.BatchingReplica(*params[:8], kv_block_tokens=16)
    seen_preempted = 0
    for until in np.arange(2.0, 60.0, 2.0):
        k = np.searchsorted(arrivals, until - 2.0), np.searchsorted(arrivals, until)
        a, p, o = arrivals[k[0] : k[1]], prompt[k[0] : k[1]], output[k[0] : k[1]]
        ids = np.arange(k[0], k[1], dtype=np.int64)
        got = bank.step([slot], np.array([len(a)]), a, p, o, ids, until).result
        _same(got, alone.step(a, p, o, until, ids))
        held = bank.request_ids(slot)
        assert len(held) == bank.in_system([slot]) == alone.state.n_running + alone.state.n_waiting
        assert len(set(held.tolist())) == len(held)
        seen_preempted = max(seen_preempted, bank.n_preempted(slot))
    assert seen_preempted > 0


def test_paged_validation():
    with pytest.raises(ValueError, match="kv_block_tokens"):
        q.BatchingReplica("vllm", 0.01, 1e-4, 1e-4, 0.0, 2, 1000, kv_block_tokens=-1)
    with pytest.raises(ValueError, match="needs paged KV"):
        q.BatchingReplica("vllm", 0.01, 1e-4, 1e-4, 0.0, 2, 1000, swap_s_per_token=0.0)
    with pytest.raises(ValueError, match="a block beyond the watermark"):
        q.BatchingReplica("vllm", 0.01, 1e-4, 1e-4, 0.0, 2, 15, kv_block_tokens=16)
    with pytest.raises(ValueError, match="finite"):
        q.BatchingReplica(
            "vllm", 0.01, 1e-4, 1e-4, 0.0, 2, 99, kv_block_tokens=16, swap_s_per_token=math.inf
        )
    # 1000 tokens = 62 whole blocks of 16 (992 tokens), no watermark below 100 blocks
    r = q.BatchingReplica("vllm", 0.01, 1e-4, 1e-4, 0.0, 2, 1000, kv_block_tokens=16)
    assert r.params.request_capacity_tokens == 992
    r.step([0.0], [900], [92], 1.0)
    with pytest.raises(ValueError, match="whole KV blocks beyond the watermark"):
        r.step([2.0], [900], [93], 3.0)
    # 1600 tokens = 100 blocks, one kept free by the watermark
    r = q.BatchingReplica("vllm", 0.01, 1e-4, 1e-4, 0.0, 2, 1600, kv_block_tokens=16)
    assert r.params.request_capacity_tokens == 99 * 16


def test_paged_kernel_body_as_python_matches_compiled(monkeypatch):
    arrivals, prompt, output = _pressure_stream(80, 9)
    cases = [("vllm", 0, -1.0), ("sarathi", 128, -1.0), ("sarathi", 128, 1e-6)]
    expected = []
    for mode, budget, swap in cases:
        r = q.BatchingReplica(
            mode,
            0.01,
            2e-4,
            1e-3,
            3e-6,
            8,
            2000,
            budget,
            kv_block_tokens=16,
            swap_s_per_token=swap,
        )
        expected.append((r.step(arrivals, prompt, output, 5.0), r.step([], [], [], math.inf)))
        assert r.stats[q.STAT_PREEMPTIONS] > 0
    monkeypatch.setattr(batching, "_batching_kernel", batching._batching_kernel.py_func)
    for (mode, budget, swap), (first, rest) in zip(cases, expected, strict=True):
        r = q.BatchingReplica(
            mode,
            0.01,
            2e-4,
            1e-3,
            3e-6,
            8,
            2000,
            budget,
            kv_block_tokens=16,
            swap_s_per_token=swap,
        )
        _same(r.step(arrivals, prompt, output, 5.0), first)
        _same(r.step([], [], [], math.inf), rest)


JUMPED_PAST_AN_ARRIVAL = (
    ("sarathi", 0.0375, 0.001, 0.002, 0.0, 2, 77, 28),
    {
        "max_waiting": 1,
        "iteration": None,
        "prefilled": False,
        "kv_block_tokens": 1,
        "swap_s_per_token": -1.0,
    },
    np.array([0.0, 0.1875, 0.25, 0.25, 0.625] + [1.3125] * 19),
    np.array([29, 17, 27, 1, 32] + [1] * 19, dtype=np.int64),
    np.array([12, 13, 13, 1, 10] + [1] * 19, dtype=np.int64),
)
"""A case CI's hypothesis found (2026-12-03): stepping admits request 5 (1 token in, 1
out), which arrives at 1.3125 s exactly when an iteration starts, and finishes it at
1.353 s; the decode-run jump's closed-form clock put that start a rounding error before the
arrival, jumped past it and finished request 5 at 1.3925 s. The jump now advances its clock
as stepping does, one iteration time at a time."""


def test_a_paged_jump_stops_for_an_arrival_stepping_would_admit():
    params, options, arrivals, prompt, output = JUMPED_PAST_AN_ARRIVAL
    stepped = q.BatchingReplica(*params, **options, **STEPPING)
    jumped = q.BatchingReplica(*params, **options)
    expected = stepped.step(arrivals, prompt, output, math.inf)
    got = jumped.step(arrivals, prompt, output, math.inf)
    np.testing.assert_array_equal(got.ids, expected.ids)
    np.testing.assert_allclose(got.finish_s, expected.finish_s, rtol=1e-9)
