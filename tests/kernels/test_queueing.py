"""Tests of ``twin.kernels.queueing``: FCFS multi-server queue and continuous-batching replica.

Statistical tests use fixed seeds.  Their sizes were chosen from the measured spread of the
estimators over 16 independent seeds (relative standard deviation of the mean wait or of the
blocking probability), so that the 2 % tolerance is at least ~4 standard deviations:

=====================  ==========  =========================  ==============
test                   requests    measured rel. sd at size   sd at test size
=====================  ==========  =========================  ==============
M/M/4, rho = 0.50      4 Mi        0.57 % at 2e6              ~0.40 %
M/M/4, rho = 0.80      6 Mi        0.69 % at 2e6              ~0.40 %
M/M/4, rho = 0.95      64 Mi       1.88 % at 4e6              ~0.47 %
M/D/1, rho = 0.80      4 Mi        0.54 % at 2e6              ~0.38 %
M/M/8/8, a = 6 erl     2 Mi        0.45 % at 1e6              ~0.32 %
=====================  ==========  =========================  ==============

(Mi = 2**20.)  At rho = 0.95 the waits are strongly autocorrelated (relaxation time of order
(1 - sqrt(rho))**-2 ~ 1600 service times), hence the large size; the stream is generated
and queued in windows of 2**20 requests with ``free_at`` carried, which also exercises the
windowed API at scale.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from queueing_theory import erlang_b, erlang_c_mean_wait, pollaczek_khinchine_mean_wait
from twin.kernels import _checks, batching, batching_kernel, fcfs
from twin.kernels import queueing as q
from twin.kernels.batching_kernel import _drop_arrived

HYP = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHUNK = 1 << 20


# ============================================================================================
# Closed-form queueing results (twin.validation.theory, shared with the report)
# ============================================================================================


def test_closed_forms_sanity():
    # M/M/1: Wq = rho / (mu - lam); Erlang C with c = 1 reduces to it.
    assert erlang_c_mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    # M/D/1 wait is half the M/M/1 wait.
    assert pollaczek_khinchine_mean_wait(0.5, 1.0, 1.0) == pytest.approx(0.5)


# ============================================================================================
# FCFS multi-server: statistics against theory
# ============================================================================================


def _mean_wait_windowed(c, lam, n, seed, det_service=None):
    """Mean wait of n Poisson(lam) arrivals, unit-mean service, queued window by window."""
    rng = np.random.default_rng(seed)
    free_at = np.zeros(c)
    ia, sv, w = np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK)
    t0, total, done = 0.0, 0.0, 0
    while done < n:
        m = min(CHUNK, n - done)
        a = ia[:m]
        rng.standard_exponential(out=a)
        a *= 1.0 / lam
        np.cumsum(a, out=a)
        a += t0
        t0 = a[-1]
        s = sv[:m]
        if det_service is None:
            rng.standard_exponential(out=s)
        else:
            s[:] = det_service
        total += q.fcfs_multiserver(a, s, free_at, w, check=False).sum()
        done += m
    return total / n


@pytest.mark.parametrize(
    ("rho", "n", "seed"),
    [(0.5, 4 * CHUNK, 11), (0.8, 6 * CHUNK, 12), (0.95, 64 * CHUNK, 13)],
)
def test_mmc_mean_wait_matches_erlang_c(rho, n, seed):
    c, mu = 4, 1.0
    lam = rho * c * mu
    got = _mean_wait_windowed(c, lam, n, seed)
    want = erlang_c_mean_wait(c, lam, 1 / mu)
    assert abs(got / want - 1.0) < 0.02, (got, want)


def test_md1_mean_wait_matches_pollaczek_khinchine():
    lam, s = 0.8, 1.0
    got = _mean_wait_windowed(1, lam, 4 * CHUNK, 21, det_service=s)
    want = pollaczek_khinchine_mean_wait(lam, s, s * s)
    assert abs(got / want - 1.0) < 0.02, (got, want)


def test_erlang_b_blocking_with_zero_waiting_room():
    c, a, n = 8, 6.0, 2 * CHUNK
    rng = np.random.default_rng(31)
    arr = np.cumsum(rng.exponential(1.0 / a, n))
    svc = rng.exponential(1.0, n)
    wait, served = q.fcfs_multiserver_limited(arr, svc, np.zeros(c), max_queue=0)
    blocked = 1.0 - served.mean()
    assert abs(blocked / erlang_b(c, a) - 1.0) < 0.02, (blocked, erlang_b(c, a))
    # A loss system never queues: every served request starts on arrival.
    assert np.all(wait[served] == 0.0)
    assert np.all(np.isnan(wait[~served]))


# ============================================================================================
# FCFS multi-server: exact behaviour, reference twin, windows
# ============================================================================================

quarter = st.integers(0, 40).map(lambda k: k / 4.0)  # exact binary fractions: many exact ties


@st.composite
def fcfs_case(draw, max_n=40):
    n = draw(st.integers(0, max_n))
    c = draw(st.integers(1, 5))
    arrivals = np.sort(np.array(draw(st.lists(quarter, min_size=n, max_size=n)), dtype=float))
    service = np.array(draw(st.lists(quarter, min_size=n, max_size=n)), dtype=float) / 2.0
    free_at = np.array(draw(st.lists(quarter, min_size=c, max_size=c)), dtype=float) / 4.0
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return arrivals, service, free_at, cuts


def _windows(n, cuts):
    edges = [0, *cuts, n]
    return list(itertools.pairwise(edges))


def test_fcfs_hand_example_and_tie_break():
    free_at = np.zeros(3)
    w = q.fcfs_multiserver([0.0, 0.0, 0.0, 0.0, 1.0], [5.0, 3.0, 1.0, 2.0, 1.0], free_at)
    # Requests 0..2 start at once on servers 0, 1, 2 (lowest index first on ties); request 3
    # waits for server 2 (free at 1); request 4 waits for server 1 (free at 3).
    np.testing.assert_array_equal(w, [0.0, 0.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(free_at, [5.0, 4.0, 3.0])
    free_at = np.array([5.0, 3.0, 3.0])
    q.fcfs_multiserver([0.0], [1.0], free_at)
    np.testing.assert_array_equal(free_at, [5.0, 4.0, 3.0])  # tie 3 == 3: server 1 wins


@HYP
@given(fcfs_case())
def test_fcfs_equals_reference(case):
    arrivals, service, free_at, _ = case
    fa, fb = free_at.copy(), free_at.copy()
    out = np.full(len(arrivals) + 3, -1.0)
    w = q.fcfs_multiserver(arrivals, service, fa, out)
    wr = q.fcfs_multiserver_ref(arrivals, service, fb)
    np.testing.assert_array_equal(w, wr)
    np.testing.assert_array_equal(fa, fb)
    assert w.base is out or w is out
    assert np.all(out[len(arrivals) :] == -1.0)  # caller buffer beyond n untouched


@HYP
@given(fcfs_case())
def test_fcfs_windows_equal_one_window(case):
    arrivals, service, free_at, cuts = case
    one_fa = free_at.copy()
    one = q.fcfs_multiserver(arrivals, service, one_fa)
    fa = free_at.copy()
    parts = [
        q.fcfs_multiserver(arrivals[i:j], service[i:j], fa)
        for i, j in _windows(len(arrivals), cuts)
    ]
    np.testing.assert_array_equal(np.concatenate(parts), one)
    np.testing.assert_array_equal(fa, one_fa)


def test_fcfs_windows_equal_one_window_large():
    rng = np.random.default_rng(5)
    n, c = 200_000, 7
    arr = np.cumsum(rng.exponential(1.0 / (0.9 * c), n))
    svc = rng.exponential(1.0, n)
    one_fa = np.zeros(c)
    one = q.fcfs_multiserver(arr, svc, one_fa)
    cuts = np.sort(rng.integers(0, n, 50))
    fa, out = np.zeros(c), np.empty(n)
    for i, j in _windows(n, cuts.tolist()):
        q.fcfs_multiserver(arr[i:j], svc[i:j], fa, out[i:j])
    np.testing.assert_array_equal(out, one)
    np.testing.assert_array_equal(fa, one_fa)


def _limited_bruteforce(arrivals, service, free_at, max_queue, max_wait):
    """Independent O(n^2) statement of the limited-queue rules (lists, linear scans)."""
    free = [float(f) for f in free_at]
    in_room = []  # time at which each request that entered the waiting room leaves it
    waits, served = [], []
    for t, s in zip(arrivals.tolist(), service.tolist(), strict=True):
        srv = min(range(len(free)), key=lambda k: (free[k], k))
        start = max(t, free[srv])
        wait = start - t
        room = sum(1 for leave in in_room if leave > t)
        if max_queue is not None and wait > 0 and room >= max_queue:
            waits.append(math.nan)
            served.append(False)
        elif wait > max_wait:
            in_room.append(t + max_wait)
            waits.append(math.nan)
            served.append(False)
        else:
            free[srv] = start + s
            if wait > 0:
                in_room.append(start)
            waits.append(wait)
            served.append(True)
    return np.array(waits), np.array(served, dtype=bool), np.array(free)


limits = st.tuples(
    st.one_of(st.none(), st.integers(0, 4)),
    st.one_of(st.just(math.inf), quarter.map(lambda x: x / 2.0)),
)


@HYP
@given(fcfs_case(), limits)
def test_limited_equals_reference_and_bruteforce(case, lim):
    arrivals, service, free_at, _ = case
    max_queue, max_wait = lim
    fa, fb = free_at.copy(), free_at.copy()
    w, s = q.fcfs_multiserver_limited(arrivals, service, fa, max_queue, max_wait)
    wr, sr, _ = q.fcfs_multiserver_limited_ref(arrivals, service, fb, max_queue, max_wait)
    np.testing.assert_array_equal(w, wr)
    np.testing.assert_array_equal(s, sr)
    np.testing.assert_array_equal(fa, fb)
    wb, sb, fbb = _limited_bruteforce(arrivals, service, free_at, max_queue, max_wait)
    np.testing.assert_array_equal(w, wb)
    np.testing.assert_array_equal(s, sb)
    np.testing.assert_array_equal(fa, fbb)
    assert np.all(np.isnan(w) == ~s)
    assert np.all(w[s] <= max_wait)


@HYP
@given(fcfs_case(), limits)
def test_limited_windows_equal_one_window(case, lim):
    arrivals, service, free_at, cuts = case
    max_queue, max_wait = lim
    one_fa = free_at.copy()
    one_w, one_s = q.fcfs_multiserver_limited(arrivals, service, one_fa, max_queue, max_wait)
    fa, qs = free_at.copy(), q.make_queue_state(max_queue)
    ws, ss = [], []
    for i, j in _windows(len(arrivals), cuts):
        w, s = q.fcfs_multiserver_limited(
            arrivals[i:j], service[i:j], fa, max_queue, max_wait, queue_state=qs
        )
        ws.append(w)
        ss.append(s)
    np.testing.assert_array_equal(np.concatenate(ws), one_w)
    np.testing.assert_array_equal(np.concatenate(ss), one_s)
    np.testing.assert_array_equal(fa, one_fa)


def test_limited_windows_equal_one_window_large_with_ring_wraparound():
    rng = np.random.default_rng(6)
    n, c, max_queue, max_wait = 100_000, 3, 5, 2.5
    arr = np.cumsum(rng.exponential(1.0 / (1.2 * c), n))  # overloaded: room is often full
    svc = rng.exponential(1.0, n)
    one_w, one_s = q.fcfs_multiserver_limited(arr, svc, np.zeros(c), max_queue, max_wait)
    assert 0.1 < 1.0 - one_s.mean() < 0.9
    fa, qs = np.zeros(c), q.make_queue_state(max_queue)
    w, s = np.empty(n), np.empty(n, dtype=bool)
    for i, j in _windows(n, np.sort(rng.integers(0, n, 300)).tolist()):
        q.fcfs_multiserver_limited(arr[i:j], svc[i:j], fa, max_queue, max_wait, qs, w[i:j], s[i:j])
    np.testing.assert_array_equal(w, one_w)
    np.testing.assert_array_equal(s, one_s)


def test_limited_without_limits_equals_plain_fcfs():
    rng = np.random.default_rng(7)
    arr = np.cumsum(rng.exponential(0.3, 5000))
    svc = rng.exponential(1.0, 5000)
    w, s = q.fcfs_multiserver_limited(arr, svc, np.zeros(4))
    np.testing.assert_array_equal(w, q.fcfs_multiserver(arr, svc, np.zeros(4)))
    assert s.all()


def test_timeout_requests_do_not_occupy_servers():
    # One server busy until 10; three requests arrive at 0, patience 4: all renege, and a
    # request at 10 then starts at once (no phantom service by the reneged ones).
    free_at = np.array([10.0])
    w, s = q.fcfs_multiserver_limited([0.0, 1.0, 2.0, 10.0], [1.0] * 4, free_at, max_wait=4.0)
    assert s.tolist() == [False, False, False, True]
    assert w[3] == 0.0 and free_at[0] == 11.0
    # Reneging requests hold their waiting-room place until they give up (t + max_wait).
    free_at = np.array([10.0])
    w, s = q.fcfs_multiserver_limited([0.0, 1.0, 4.5], [1.0] * 3, free_at, 1, 4.0)
    assert s.tolist() == [False, False, False]  # at t=1 the room holds request 0 (until 4)


def test_fcfs_validation():
    with pytest.raises(ValueError, match="sorted"):
        q.fcfs_multiserver([1.0, 0.0], [1.0, 1.0], np.zeros(2))
    with pytest.raises(TypeError):
        q.fcfs_multiserver([0.0], [1.0], np.zeros(2, dtype=np.float32))
    with pytest.raises(ValueError, match="length"):
        q.fcfs_multiserver([0.0, 1.0], [1.0, 1.0], np.zeros(2), np.empty(1))
    with pytest.raises(ValueError, match="service"):
        q.fcfs_multiserver([0.0], [-1.0], np.zeros(1))
    with pytest.raises(ValueError, match="finite"):
        q.fcfs_multiserver([0.0, np.nan], [1.0, 1.0], np.zeros(1))
    with pytest.raises(ValueError, match="NaN"):
        q.fcfs_multiserver([0.0], [1.0], np.array([np.nan]))
    with pytest.raises(ValueError, match="differ"):
        q.fcfs_multiserver([0.0], [1.0, 2.0], np.zeros(1))
    with pytest.raises(ValueError, match="at least one"):
        q.fcfs_multiserver([0.0], [1.0], np.zeros(0))
    with pytest.raises(ValueError, match="max_queue"):
        q.fcfs_multiserver_limited([0.0], [1.0], np.zeros(1), max_queue=-1)
    with pytest.raises(ValueError, match="max_wait"):
        q.fcfs_multiserver_limited([0.0], [1.0], np.zeros(1), max_wait=-1.0)
    with pytest.raises(ValueError, match="too small"):
        q.fcfs_multiserver_limited([0.0], [1.0], np.zeros(1), 5, queue_state=q.make_queue_state(2))


# ============================================================================================
# Continuous batching: exact single-request timings
# ============================================================================================

C0, CPF, CB, CKV = 0.01, 2e-4, 1e-3, 3e-6


def _decode_time(batch, contexts):
    return C0 + CB * batch + CKV * sum(contexts)


@pytest.mark.parametrize("mode", ["vllm", "sarathi"])
@pytest.mark.parametrize(("prompt", "output"), [(100, 1), (100, 2), (300, 17)])
def test_lone_request_timings(mode, prompt, output):
    r = q.BatchingReplica(mode, C0, CPF, CB, CKV, 8, 10_000, 512)
    res = r.step([2.0], [prompt], [output], math.inf)
    prefill = C0 + CPF * prompt
    decodes = [_decode_time(1, [prompt + k]) for k in range(1, output)]  # context grows
    assert res.ids.tolist() == [0]
    assert res.ttft[0] == pytest.approx(prefill, rel=1e-12)
    assert res.e2e[0] == pytest.approx(prefill + sum(decodes), rel=1e-12)
    assert res.finish_s[0] == pytest.approx(2.0 + res.e2e[0], rel=1e-12)
    if output == 1:
        assert math.isnan(res.tpot[0]) and math.isnan(res.max_gap[0])
    else:
        assert res.tpot[0] == pytest.approx(sum(decodes) / (output - 1), rel=1e-12)
        assert res.max_gap[0] == pytest.approx(max(decodes), rel=1e-12)
    st_ = r.stats
    assert st_[q.STAT_ITERATIONS] == output and st_[q.STAT_COMPLETED] == 1
    assert st_[q.STAT_BUSY_S] == pytest.approx(res.e2e[0], rel=1e-12)
    assert r.state.n_running == 0 and r.state.kv_used == 0 and r.state.n_waiting == 0


def test_sarathi_chunked_prefill_ttft():
    r = q.BatchingReplica("sarathi", C0, CPF, CB, CKV, 4, 10_000, 256)
    res = r.step([0.0], [1000], [3], math.inf)
    chunks = [256, 256, 256, 232]
    ttft = sum(C0 + CPF * ch for ch in chunks)
    assert res.ttft[0] == pytest.approx(ttft, rel=1e-12)
    dec = [_decode_time(1, [1000 + k]) for k in (1, 2)]
    assert res.e2e[0] == pytest.approx(ttft + sum(dec), rel=1e-12)
    assert r.stats[q.STAT_PREFILL_TOKENS] == 1000 and r.stats[q.STAT_DECODE_TOKENS] == 2


def test_vllm_prefill_stalls_decodes_and_batches_prompts():
    # Request 0 decodes; 1 and 2 arrive during its first decode iteration and are prefilled
    # together in one prefill-only iteration, during which request 0 produces nothing.
    r = q.BatchingReplica("vllm", C0, CPF, CB, CKV, 8, 10_000)
    t_pf0 = C0 + CPF * 100
    t_d1 = _decode_time(1, [101])
    t_pf12 = C0 + CPF * (50 + 60)
    res = r.step([0.0, t_pf0 + 1e-6, t_pf0 + 2e-6], [100, 50, 60], [3, 1, 1], math.inf)
    order = res.ids.tolist()
    assert order == [1, 2, 0]
    fin = dict(zip(order, res.finish_s.tolist(), strict=True))
    assert fin[1] == pytest.approx(t_pf0 + t_d1 + t_pf12, rel=1e-12)
    assert fin[2] == fin[1]
    gap0 = res.max_gap[order.index(0)]
    t_d2 = _decode_time(1, [102])
    assert gap0 == pytest.approx(t_pf12 + t_d2, rel=1e-12)  # stalled through the prefill


# ============================================================================================
# Continuous batching: limits, saturation, inter-token gap bound
# ============================================================================================


def _stream(n, rate, seed, p_lo=1, p_hi=2000, o_lo=1, o_hi=300):
    rng = np.random.default_rng(seed)
    arr = np.cumsum(rng.exponential(1.0 / rate, n))
    return arr, rng.integers(p_lo, p_hi, n), rng.integers(o_lo, o_hi, n)


@pytest.mark.parametrize(("mode", "budget"), [("vllm", 0), ("vllm", 1024), ("sarathi", 384)])
@pytest.mark.parametrize(("max_batch", "kv_cap"), [(64, 6000), (6, 10**7)])
def test_batch_and_kv_caps_hold_and_bind(mode, budget, max_batch, kv_cap):
    arr, pt, ot = _stream(800, 50.0, 3)
    ref = q.BatchingReplicaRef(mode, C0, CPF, CB, CKV, max_batch, kv_cap, budget)
    ref.step(arr, pt, ot, math.inf)
    r = q.BatchingReplica(mode, C0, CPF, CB, CKV, max_batch, kv_cap, budget)
    r.step(arr, pt, ot, math.inf)
    trace = np.array(ref.trace)  # (start, end, n_running, kv_used, batch)
    assert trace[:, 2].max() <= max_batch and trace[:, 3].max() <= kv_cap
    assert np.all(trace[1:, 0] >= trace[:-1, 1])  # iterations never overlap
    s = r.stats
    assert s[q.STAT_RUNNING_MAX] <= max_batch and s[q.STAT_KV_MAX] <= kv_cap
    assert s[q.STAT_BATCH_MAX] <= max_batch
    if kv_cap < 10**6:  # KV-bound configuration: the KV limit is reached closely
        assert s[q.STAT_KV_MAX] > 0.8 * kv_cap and s[q.STAT_RUNNING_MAX] < max_batch
    else:  # batch-bound configuration
        assert s[q.STAT_RUNNING_MAX] == max_batch
    assert s[q.STAT_COMPLETED] == 800
    assert s[q.STAT_PREFILL_TOKENS] == pt.sum()
    assert s[q.STAT_DECODE_TOKENS] == (ot - 1).sum()


# Saturation: fixed prompt Lp, output Lo, running cap B, KV not binding.  Each request costs
#   w = c_pf Lp + c_b (Lo - 1) + c_kv sum_{k=1}^{Lo-1} (Lp + k)          [s]
# of linear work, plus c0 per iteration.  With m requests' worth of work per iteration the
# saturated throughput is X = m / (c0 + m w) = 1 / (w + c0 / m), where
#   vLLM, synchronised batch (one prefill + Lo-1 decodes per B requests): m = B / Lo;
#   vLLM with g admission groups in the batch: m = B / (g + Lo - 1)  (g >= 1, so X <= X_1);
#   Sarathi: m = min(B / Lo, budget / (Lp + Lo - 1))  (slot-bound or token-budget-bound).
SAT = {"c0": 0.004, "c_pf": 2e-5, "c_b": 1e-4, "c_kv": 5e-8, "Lp": 512, "Lo": 64, "B": 32}


def _sat_work():
    s = SAT
    ctx = sum(s["Lp"] + k for k in range(1, s["Lo"]))
    return s["c_pf"] * s["Lp"] + s["c_b"] * (s["Lo"] - 1) + s["c_kv"] * ctx


def _measured_throughput(mode, arrivals, budget):
    s = SAT
    n = arrivals.shape[0]
    r = q.BatchingReplica(mode, s["c0"], s["c_pf"], s["c_b"], s["c_kv"], s["B"], 10**9, budget)
    res = r.step(arrivals, np.full(n, s["Lp"]), np.full(n, s["Lo"]), math.inf)
    fin = np.sort(res.finish_s)
    i0, i1 = n // 4, 3 * n // 4  # steady-state middle half
    return (i1 - i0) / (fin[i1] - fin[i0])


def test_vllm_saturation_throughput():
    s, w = SAT, _sat_work()
    x_sync = 1.0 / (w + s["c0"] * s["Lo"] / s["B"])
    x_burst = _measured_throughput("vllm", np.zeros(20_000), 0)
    assert x_burst == pytest.approx(x_sync, rel=0.005)
    rng = np.random.default_rng(8)
    arr = np.cumsum(rng.exponential(1.0 / (2.0 * x_sync), 20_000))  # 2x overload
    x_pois = _measured_throughput("vllm", arr, 0)
    x_worst = 1.0 / (w + s["c0"] * (s["B"] + s["Lo"] - 1) / s["B"])  # g = B groups
    assert x_worst * 0.995 < x_pois < x_sync * 1.005
    assert x_pois == pytest.approx(x_sync, rel=0.03)
    # Below saturation the replica keeps up: throughput = arrival rate.
    arr = np.cumsum(rng.exponential(1.0 / (0.5 * x_sync), 20_000))
    x_low = _measured_throughput("vllm", arr, 0)
    assert x_low == pytest.approx(0.5 * x_sync, rel=0.03)


@pytest.mark.parametrize("budget", [64, 256, 4096])
def test_sarathi_saturation_throughput(budget):
    s, w = SAT, _sat_work()
    m = min(s["B"] / s["Lo"], budget / (s["Lp"] + s["Lo"] - 1))
    x_pred = 1.0 / (w + s["c0"] / m)
    rng = np.random.default_rng(9)
    arr = np.cumsum(rng.exponential(1.0 / (3.0 * x_pred), 20_000))  # 3x overload
    assert _measured_throughput("sarathi", arr, budget) == pytest.approx(x_pred, rel=0.01)


def test_sarathi_bounds_inter_token_gap_vllm_does_not():
    max_batch, kv_cap, budget = 16, 200_000, 512
    arr, pt, ot = _stream(400, 8.0, 10, p_lo=16, p_hi=256, o_lo=20, o_hi=200)
    # Long prompts arrive while short requests decode.
    longs = np.array([5.0, 20.0, 35.0])
    arr = np.concatenate([arr, longs])
    order = np.argsort(arr, kind="stable")
    arr = arr[order]
    pt = np.concatenate([pt, [16_000] * 3])[order]
    ot = np.concatenate([ot, [50] * 3])[order]
    bound = C0 + max(CPF, CB) * budget + CKV * kv_cap
    sar = q.BatchingReplica("sarathi", C0, CPF, CB, CKV, max_batch, kv_cap, budget)
    rs = sar.step(arr, pt, ot, math.inf)
    assert np.nanmax(rs.max_gap) <= bound
    vll = q.BatchingReplica("vllm", C0, CPF, CB, CKV, max_batch, kv_cap)
    rv = vll.step(arr, pt, ot, math.inf)
    assert np.nanmax(rv.max_gap) > bound
    assert np.nanmax(rv.max_gap) >= C0 + CPF * 16_000  # a decode stalled by a long prefill
    assert len(rs.ids) == len(rv.ids) == len(arr)


# ============================================================================================
# Continuous batching: windows, reference twin, compiled body run as Python
# ============================================================================================


@st.composite
def batching_case(draw):
    mode = draw(st.sampled_from(["vllm", "sarathi"]))
    n = draw(st.integers(0, 25))
    gaps = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    arrivals = np.cumsum(np.array(gaps, dtype=float) / 16.0)
    prompt = np.array(draw(st.lists(st.integers(1, 60), min_size=n, max_size=n)), dtype=np.int64)
    output = np.array(draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)), dtype=np.int64)
    max_batch = draw(st.integers(1, 4))
    biggest = int((prompt + output).max()) if n else 2
    kv_cap = draw(st.integers(max(biggest, 2), max(biggest, 2) * 3))
    lo = max_batch if mode == "sarathi" else 0
    budget = draw(st.integers(lo, 80))
    coef = draw(
        st.tuples(
            st.sampled_from([0.0, 0.01, 0.0375]),
            st.sampled_from([1e-3, 3.3e-3]),
            st.sampled_from([1e-4, 2e-3, 7.1e-3]),
            st.sampled_from([0.0, 1e-5, 3.7e-4]),
        )
    )
    n_win = draw(st.integers(0, 5))
    cuts = sorted(draw(st.lists(st.integers(0, n), min_size=n_win, max_size=n_win)))
    fracs = draw(st.lists(st.floats(0.0, 1.0), min_size=n_win, max_size=n_win))
    cap = draw(st.integers(1, 6))
    params = (mode, *coef, max_batch, kv_cap, budget)
    max_waiting = draw(st.sampled_from([-1, -1, 0, 1, 2, 3, 6]))
    return params, arrivals, prompt, output, cuts, fracs, cap, max_waiting


def _split_windows(arrivals, cuts, fracs):
    """Index chunks with window ends until_k in [previous until, first arrival of next chunk].

    Such ends may fall before some arrivals of their own chunk (future arrivals are allowed).
    """
    n = arrivals.shape[0]
    edges = [0, *cuts, n]
    wins, prev = [], 0.0
    for k in range(len(edges) - 1):
        i, j = edges[k], edges[k + 1]
        if k == len(edges) - 2:
            until = math.inf
        else:
            nxt = arrivals[j] if j < n else (arrivals[-1] + 1.0 if n else 1.0)
            until = prev + fracs[k] * max(nxt - prev, 0.0)
            until = min(until, nxt)
        wins.append((i, j, until))
        prev = until
    return wins


def _run_windows(replica, arrivals, prompt, output, wins):
    parts = [replica.step(arrivals[i:j], prompt[i:j], output[i:j], u) for i, j, u in wins]
    return q.BatchingResult(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


def _assert_results_equal(a, b):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def _assert_results_close(a, b):
    """Event skipping vs stepping: the same requests in the same order, times to 1e-9."""
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.dropped_ids, b.dropped_ids)
    for x, y in zip(a[1:7], b[1:7], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


def _assert_stats_close(a, b):
    """Counts agree exactly; the busy time and the sum of token gaps (float sums) to 1e-9;
    jumps aside."""
    busy, gaps, jumped = q.STAT_BUSY_S, q.STAT_GAP_SUM, q.STAT_JUMPED
    sums = [busy, gaps, jumped]
    np.testing.assert_array_equal(np.delete(a, sums), np.delete(b, sums))
    assert a[busy] == pytest.approx(b[busy], rel=1e-9)
    assert a[gaps] == pytest.approx(b[gaps], rel=1e-9)


STEPPING = {"event_skipping": False}
"""The kernel stepping every iteration: bit for bit the plain-Python reference."""


def _check_drop_rule(ref, arrivals, dropped_ids, max_waiting):
    """Independent statement of the waiting-queue limit, from the reference's iteration
    starts and admission times: request r is taken in at the first iteration boundary
    B_r >= its arrival; the queue it finds holds the earlier requests that were not dropped
    and are admitted at B_r or later (intake comes before a boundary's admissions).  It is
    dropped iff that queue holds >= max_waiting requests."""
    starts = np.array(sorted({t[0] for t in ref.trace}))
    dropped = set(dropped_ids.tolist())
    adm = ref.admitted_at
    for r, a in enumerate(arrivals.tolist()):
        k = np.searchsorted(starts, a, side="left")
        boundary = starts[k] if k < len(starts) else math.inf
        queue = sum(1 for j in range(r) if j not in dropped and adm[j] >= boundary)
        if max_waiting < 0:
            assert r not in dropped
        else:
            assert (r in dropped) == (queue >= max_waiting), (r, queue)
            assert queue <= max_waiting


@HYP
@given(batching_case())
def test_batching_numba_equals_reference_and_windows_equal_one_window(case):
    params, arrivals, prompt, output, cuts, fracs, cap, max_waiting = case
    one = q.BatchingReplica(*params, max_waiting=max_waiting, **STEPPING)
    r_one = one.step(arrivals, prompt, output, math.inf)
    ref = q.BatchingReplicaRef(*params, max_waiting=max_waiting)
    _assert_results_equal(r_one, ref.step(arrivals, prompt, output, math.inf))
    np.testing.assert_array_equal(one.stats, ref.stats)
    # every request is served or dropped, exactly once
    ids = np.concatenate([r_one.ids, r_one.dropped_ids])
    assert sorted(ids.tolist()) == list(range(len(arrivals)))
    assert one.stats[q.STAT_DROPPED] == len(r_one.dropped_ids)
    if max_waiting == 0:
        assert len(r_one.ids) == 0
    _check_drop_rule(ref, arrivals, r_one.dropped_ids, max_waiting)
    wins = _split_windows(arrivals, cuts, fracs)
    # small ring: wrap-around, growth, and drop gaps across the wrap
    win = q.BatchingReplica(*params, waiting_capacity=cap, max_waiting=max_waiting, **STEPPING)
    _assert_results_equal(_run_windows(win, arrivals, prompt, output, wins), r_one)
    np.testing.assert_array_equal(win.stats, one.stats)
    assert win.state.clock == one.state.clock
    ref_w = q.BatchingReplicaRef(*params, max_waiting=max_waiting)
    _assert_results_equal(_run_windows(ref_w, arrivals, prompt, output, wins), r_one)
    # the carried queue state agrees window by window (queued vs not yet taken in)
    win = q.BatchingReplica(*params, waiting_capacity=cap, max_waiting=max_waiting, **STEPPING)
    ref_w = q.BatchingReplicaRef(*params, max_waiting=max_waiting)
    for i, j, u in wins:
        win.step(arrivals[i:j], prompt[i:j], output[i:j], u)
        ref_w.step(arrivals[i:j], prompt[i:j], output[i:j], u)
        assert (win.state.n_queued, win.state.n_waiting) == (ref_w.n_queued, ref_w.n_waiting)
        assert max_waiting < 0 or win.state.n_queued <= max_waiting


@given(batching_case())
@settings(max_examples=150, deadline=None)
def test_event_skipping_equals_stepping(case):
    """Jumping over decode-only runs in closed form gives the per-request TTFT, TPOT, E2E,
    gaps and finish times of stepping every iteration (to 1e-9), the same drops and counts,
    in one call and across windows with carried state, KV limits and queue limits."""
    params, arrivals, prompt, output, cuts, fracs, cap, max_waiting = case
    stepped = q.BatchingReplica(*params, max_waiting=max_waiting, **STEPPING)
    expected = stepped.step(arrivals, prompt, output, math.inf)
    jumping = q.BatchingReplica(*params, max_waiting=max_waiting)
    _assert_results_close(jumping.step(arrivals, prompt, output, math.inf), expected)
    _assert_stats_close(jumping.stats, stepped.stats)
    wins = _split_windows(arrivals, cuts, fracs)
    win = q.BatchingReplica(*params, waiting_capacity=cap, max_waiting=max_waiting)
    _assert_results_close(_run_windows(win, arrivals, prompt, output, wins), expected)
    _assert_stats_close(win.stats, stepped.stats)
    assert win.state.clock == pytest.approx(stepped.state.clock, rel=1e-12)


def test_event_skipping_jumps_most_iterations_of_a_light_load():
    """At low load a replica mostly decodes with nothing changing: the jumps leave a
    handful of stepped iterations per request, not one per output token."""
    arr, pt, ot = _stream(300, 2.0, 21, p_lo=50, p_hi=500, o_lo=100, o_hi=400)
    jumping = q.BatchingReplica("sarathi", C0, CPF, CB, CKV, 32, 200_000, 512)
    stepped = q.BatchingReplica("sarathi", C0, CPF, CB, CKV, 32, 200_000, 512, **STEPPING)
    _assert_results_close(jumping.step(arr, pt, ot, math.inf), stepped.step(arr, pt, ot, math.inf))
    _assert_stats_close(jumping.stats, stepped.stats)
    assert stepped.stats[q.STAT_JUMPED] == 0
    assert jumping.stats[q.STAT_JUMPED] > 0.8 * jumping.stats[q.STAT_ITERATIONS]


def test_waiting_limit_hand_example():
    """Every iteration takes 0.5 s (only c0): request 0 (1 prompt token, 3 output tokens)
    runs [0, 1.5) in three iterations with max_batch = 1, so later arrivals queue."""
    r = q.BatchingReplica("vllm", 0.5, 0.0, 0.0, 0.0, 1, 100, max_waiting=2)
    arr = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5]
    res = r.step(arr, [1] * 6, [3, 1, 1, 1, 1, 1], 1.25)
    # 0.25 and 0.5 are queued; 0.75 finds two waiting and is dropped (taken in at the 1.0
    # boundary, before 1.0 itself, which is dropped too); 1.5 is still pending
    assert res.dropped_ids.tolist() == [3, 4]
    assert res.ids.tolist() == [0]  # its last iteration started at 1.0 < 1.25
    assert (r.state.n_waiting, r.state.n_queued, r.state.clock) == (3, 2, 1.5)
    res = r.step([], [], [], math.inf)
    # at the 1.5 boundary the arrival at 1.5 is taken in before request 1 is admitted: it
    # finds requests 1 and 2 queued and is dropped
    assert res.dropped_ids.tolist() == [5]
    assert res.ids.tolist() == [1, 2]
    np.testing.assert_array_equal(res.finish_s, [2.0, 2.5])
    assert r.stats[q.STAT_DROPPED] == 3
    assert (r.state.n_waiting, r.state.n_queued) == (0, 0)
    # with one more place, the arrival exactly at the boundary is kept
    r = q.BatchingReplica("vllm", 0.5, 0.0, 0.0, 0.0, 1, 100, max_waiting=3)
    res = r.step(arr, [1] * 6, [3, 1, 1, 1, 1, 1], math.inf)
    assert res.dropped_ids.tolist() == [4, 5]
    # an idle replica takes in and admits an arrival at once: it never blocks on the limit
    r = q.BatchingReplica("sarathi", 0.5, 0.0, 0.0, 0.0, 1, 100, 1, max_waiting=1)
    res = r.step([0.0, 10.0, 20.0], [1] * 3, [1] * 3, math.inf)
    assert res.dropped_ids.tolist() == [] and res.ids.tolist() == [0, 1, 2]


def test_waiting_limit_does_not_count_running_requests():
    """The batch holds 4 running requests; the queue limit applies only to the others."""
    # Iterations take ~12 ms, a request runs ~0.6 s: requests 0-3 are admitted at the
    # boundary after their arrival (nobody waits when they arrive), 4 finds the batch full
    # and an empty queue (kept), 5 finds 4 in the queue (dropped).
    r = q.BatchingReplica("sarathi", C0, CPF, CB, CKV, 4, 10**6, 64, max_waiting=1)
    arr = np.array([0.0, 0.05, 0.1, 0.15, 0.2, 0.25])
    res = r.step(arr, [10] * 6, [50] * 6, math.inf)
    assert res.dropped_ids.tolist() == [5]
    assert sorted(res.ids.tolist()) == [0, 1, 2, 3, 4]
    assert r.stats[q.STAT_RUNNING_MAX] == 4
    # Simultaneous arrivals queue one behind the other until the next boundary, even at an
    # idle replica with room: at t = 0 the first is taken in, the others find it queued.
    r = q.BatchingReplica("sarathi", C0, CPF, CB, CKV, 4, 10**6, 64, max_waiting=1)
    res = r.step(np.zeros(6), [10] * 6, [50] * 6, math.inf)
    assert res.dropped_ids.tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(
    ("head", "nq", "cnt"), [(3, 1, 6), (5, 3, 6), (1, 3, 6), (4, 2, 4), (0, 0, 3)]
)
def test_drop_arrived_keeps_the_ring_contiguous_and_in_order(compiled, head, nq, cnt):
    """Ring of 6 slots holding ``cnt`` requests from ``head`` (wrapping): ``nq`` queued, then
    pending ones arriving at 1, 2, 3, ...; those arrived by 2.5 are dropped.  Either the
    queued block moves forward (few queued) or the later pending entries move back."""
    fn = _drop_arrived if compiled else _drop_arrived.py_func
    W = 6
    wait_i = np.full((3, W), -1, dtype=np.int64)
    wait_f = np.full(W, np.nan)
    ids = list(range(100, 100 + cnt))
    arrivals = [0.0] * nq + [float(k) for k in range(1, cnt - nq + 1)]
    for k in range(cnt):
        wait_i[:, (head + k) % W] = ids[k]
        wait_f[(head + k) % W] = arrivals[k]
    out = np.full(W, -1, dtype=np.int64)
    d, new_head = fn(wait_i, wait_f, head, nq, cnt, 2.5, out, 1)
    dropped = [ids[k] for k in range(nq, cnt) if arrivals[k] <= 2.5]
    assert d == len(dropped) and out[1 : 1 + d].tolist() == dropped
    kept = [k for k in range(cnt) if k < nq or arrivals[k] > 2.5]
    ring = [new_head + k for k in range(cnt - d)]
    assert [int(wait_i[0, k % W]) for k in ring] == [ids[k] for k in kept]
    assert [float(wait_f[k % W]) for k in ring] == [arrivals[k] for k in kept]
    assert [int(wait_i[2, k % W]) for k in ring] == [ids[k] for k in kept]


@pytest.mark.parametrize(("mode", "budget"), [("vllm", 0), ("sarathi", 256)])
@pytest.mark.parametrize("skipping", [False, True])
def test_waiting_limit_large_stream_windows_and_reference(mode, budget, skipping):
    """Overloaded (~2x, KV-bound at ~1.1 req/s): the limit drops a large share; windowed ==
    one call == reference (bit for bit when stepping, to 1e-9 when jumping), and a limit
    that never binds changes nothing."""
    same, same_stats = _comparisons(skipping)
    arr, pt, ot = _stream(2000, 2.0, 14)
    params = (mode, C0, CPF, CB, CKV, 24, 30_000, budget)
    one = q.BatchingReplica(*params, max_waiting=7, event_skipping=skipping)
    r_one = one.step(arr, pt, ot, math.inf)
    assert 0.2 < len(r_one.dropped_ids) / len(arr) < 0.8
    ref = q.BatchingReplicaRef(*params, max_waiting=7)
    same(r_one, ref.step(arr, pt, ot, math.inf))
    same_stats(one.stats, ref.stats)
    _check_drop_rule(ref, arr, r_one.dropped_ids, 7)
    ends = np.arange(2.5, arr[-1] + 2.5, 2.5)
    idx = np.searchsorted(arr, ends, side="left")
    win = q.BatchingReplica(*params, waiting_capacity=4, max_waiting=7, event_skipping=skipping)
    parts = [
        win.step(arr[i:j], pt[i:j], ot[i:j], u, check=False)
        for i, j, u in zip([0, *idx[:-1]], idx, ends, strict=True)
    ]
    parts.append(win.step(arr[idx[-1] :], pt[idx[-1] :], ot[idx[-1] :], math.inf))
    got = q.BatchingResult(*(np.concatenate(c) for c in zip(*parts, strict=True)))
    same(got, r_one)
    same_stats(win.stats, one.stats)
    unlimited = q.BatchingReplica(*params).step(arr, pt, ot, math.inf)
    never = q.BatchingReplica(*params, max_waiting=len(arr)).step(arr, pt, ot, math.inf)
    _assert_results_equal(never, unlimited)
    assert len(unlimited.dropped_ids) == 0


@pytest.mark.parametrize(("mode", "budget"), [("vllm", 0), ("vllm", 700), ("sarathi", 256)])
@pytest.mark.parametrize("skipping", [False, True])
def test_batching_large_stream_windows_and_reference(mode, budget, skipping):
    same, same_stats = _comparisons(skipping)
    arr, pt, ot = _stream(4000, 30.0, 4)
    params = (mode, C0, CPF, CB, CKV, 24, 30_000, budget)
    one = q.BatchingReplica(*params, event_skipping=skipping)
    r_one = one.step(arr, pt, ot, math.inf)
    ref = q.BatchingReplicaRef(*params)
    same(r_one, ref.step(arr, pt, ot, math.inf))
    same_stats(one.stats, ref.stats)
    # SimPy-like use: a wake-up every 2.5 s passes the arrivals of [t - 2.5, t).
    ends = np.arange(2.5, arr[-1] + 2.5, 2.5)
    idx = np.searchsorted(arr, ends, side="left")
    wins = [(int(i), int(j), float(u)) for i, j, u in zip([0, *idx[:-1]], idx, ends, strict=True)]
    wins.append((int(idx[-1]), len(arr), math.inf))
    win = q.BatchingReplica(*params, waiting_capacity=8, event_skipping=skipping)
    parts, prev_until = [], -math.inf
    for i, j, u in wins:
        res = win.step(arr[i:j], pt[i:j], ot[i:j], u)
        # A request is reported by the call in which it completes: its last iteration started
        # in [previous until, until), so it finished after the previous window end.
        assert np.all(res.finish_s > prev_until)
        parts.append(res)
        prev_until = u
    got = q.BatchingResult(*(np.concatenate(c) for c in zip(*parts, strict=True)))
    same(got, r_one)
    same_stats(win.stats, one.stats)


def _comparisons(skipping: bool):
    """How results must agree: bit for bit when stepping, to 1e-9 when jumping."""
    if skipping:
        return _assert_results_close, _assert_stats_close
    return _assert_results_equal, np.testing.assert_array_equal


def test_kernel_bodies_as_python_match_compiled(monkeypatch):
    """Run every compiled body through the interpreter (``py_func``) for coverage/parity."""
    arr, pt, ot = _stream(60, 20.0, 12, p_hi=300, o_hi=20)
    svc = np.random.default_rng(1).exponential(0.2, 60)
    expected = {
        "fcfs": q.fcfs_multiserver(arr, svc, np.zeros(3)),
        "lim": q.fcfs_multiserver_limited(arr, svc, np.zeros(2), 2, 0.1),
    }
    cases = (("vllm", 0, -1), ("vllm", 500, 2), ("sarathi", 128, -1), ("sarathi", 128, 1))
    for mode, budget, mw in cases:
        r = q.BatchingReplica(mode, C0, CPF, CB, CKV, 4, 2000, budget, 3, max_waiting=mw)
        res = (r.step(arr, pt, ot, 1.5), r.step([], [], [], math.inf), r.stats)
        expected[mode, budget, mw] = res
    assert len(expected["vllm", 500, 2][0].dropped_ids) > 0
    helpers = ["_heap_sift_down", "_heap_build", "_heap_store", "_scan_arrivals", "_scan_fcfs"]
    helpers += ["_drop_arrived", "_ring_move"]
    kernels = ["_scan_requests", "_fcfs_kernel", "_fcfs_limited_kernel", "_batching_kernel"]
    modules = (_checks, batching, batching_kernel, fcfs)
    for name in [*helpers, *kernels]:
        compiled = next(getattr(m, name) for m in modules if hasattr(m, name))
        for module in modules:  # wherever a caller looks the name up
            if getattr(module, name, None) is compiled:
                monkeypatch.setattr(module, name, compiled.py_func)
    np.testing.assert_array_equal(q.fcfs_multiserver(arr, svc, np.zeros(3)), expected["fcfs"])
    w, s = q.fcfs_multiserver_limited(arr, svc, np.zeros(2), 2, 0.1)
    np.testing.assert_array_equal(w, expected["lim"][0])
    np.testing.assert_array_equal(s, expected["lim"][1])
    for mode, budget, mw in cases:
        r = q.BatchingReplica(mode, C0, CPF, CB, CKV, 4, 2000, budget, 3, max_waiting=mw)
        a, b, stats = expected[mode, budget, mw]
        _assert_results_equal(r.step(arr, pt, ot, 1.5), a)
        _assert_results_equal(r.step([], [], [], math.inf), b)
        np.testing.assert_array_equal(r.stats, stats)


def test_idle_replica_and_state_accessors():
    r = q.BatchingReplica("vllm", C0, CPF, CB, CKV, 2, 1000)
    res = r.step([], [], [], 10.0)
    assert len(res.ids) == 0 and r.state.clock == -math.inf
    res = r.step([12.0], [10], [2], 11.0)  # arrival after the window end: waits, no work
    assert len(res.ids) == 0 and r.state.n_waiting == 1 and r.state.clock == 12.0
    res = r.step([], [], [], 12.0 + 1e-9)  # first iteration starts at 12.0 and overruns
    assert len(res.ids) == 0 and r.state.n_running == 1 and r.state.kv_used == 12
    assert r.state.clock == pytest.approx(12.0 + C0 + CPF * 10)
    res = r.step([], [], [], math.inf)
    assert res.ids.tolist() == [0]
    assert r.stats[q.STAT_BATCH_SUM] / r.stats[q.STAT_ITERATIONS] == 1.0


def test_batching_validation():
    with pytest.raises(ValueError, match="mode"):
        q.BatchingReplica("orca", C0, CPF, CB, CKV, 2, 1000)
    with pytest.raises(ValueError, match="token_budget"):
        q.BatchingReplica("sarathi", C0, CPF, CB, CKV, 8, 1000, 4)
    with pytest.raises(ValueError, match="max_batch"):
        q.BatchingReplica("vllm", C0, CPF, CB, CKV, 0, 1000)
    with pytest.raises(ValueError, match="positive time"):
        q.BatchingReplica("vllm", 0.0, 0.0, CB, CKV, 2, 1000)
    with pytest.raises(ValueError, match="c_kv"):
        q.BatchingReplica("vllm", C0, CPF, CB, -1.0, 2, 1000)
    r = q.BatchingReplica(1, C0, CPF, CB, CKV, 2, 1000, 16)
    with pytest.raises(ValueError, match="kv_capacity"):
        r.step([0.0], [900], [101], 1.0)
    with pytest.raises(ValueError, match=">= 1"):
        r.step([0.0], [0], [1], 1.0)
    with pytest.raises(ValueError, match="sorted"):
        r.step([1.0, 0.0], [1, 1], [1, 1], 1.0)
    with pytest.raises(ValueError, match="integers"):
        r.step([0.0], [1.5], [1], 1.0)
    r.step([0.0], [10], [10], 5.0)
    with pytest.raises(ValueError, match="precede"):
        r.step([4.0], [10], [10], 6.0)
    with pytest.raises(ValueError, match="non-decreasing"):
        r.step([], [], [], 4.0)
    with pytest.raises(ValueError, match="max_batch"):
        q.batching_step(r.params._replace(max_batch=3), r.state, [], [], [], 7.0)
    p = q.BatchingParams("vllm", C0, CPF, CB, CKV, 2, 1000)
    assert p.iteration_time(10, 2, 30) == C0 + CPF * 10 + CB * 2 + CKV * 30
    assert p.max_waiting == -1  # positional API of 7-8 fields unchanged, no limit by default
    replica = q.BatchingReplica("vllm", C0, CPF, CB, CKV, 2, 1000, max_waiting=None)
    assert replica.params.max_waiting == -1
    replica = q.BatchingReplica("vllm", C0, CPF, CB, CKV, 2, 1000, max_waiting=-7)
    assert replica.params.max_waiting == -1
    # check=False skips the O(n) validation (garbage in, garbage out), not the shape checks
    r = q.BatchingReplica("vllm", C0, CPF, CB, CKV, 2, 1000)
    r.step([1.0, 0.5], [1, 1], [1, 1], 0.0, check=False)
    with pytest.raises(ValueError, match="equal lengths"):
        r.step([2.0], [1, 1], [1], 3.0, check=False)
