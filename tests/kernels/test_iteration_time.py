"""The packed iteration-time models of :mod:`twin.kernels.iteration_time`, on their own
(against ``numpy.interp`` and SciPy's grid interpolator, and by hand) and inside the batching
kernel (lone requests, kernel = reference, jumps = steps)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.interpolate import RegularGridInterpolator
from twin.kernels import queueing as q
from twin.kernels.iteration_time import (
    decode_line,
    decode_s,
    iteration_s,
    linear_model,
    prefill_chunk_s,
    profile_model,
)

TOKENS = np.array([32.0, 128, 512, 1024, 2048, 4096])
PREFILL_S = 1e-3 * np.array([11.2, 14.4, 39.0, 83.1, 167.3, 355.6])  # convex, like an A100
BATCHES = np.array([1.0, 4, 16, 64])
CONTEXTS = np.array([256.0, 1024, 4096])
DECODE_S = 1e-3 * np.array(
    [[10.8, 10.9, 11.1], [11.0, 11.2, 12.2], [11.9, 12.3, 16.4], [16.2, 17.5, 33.8]]
)
CHUNKS = np.array([256.0, 512])
MIXED_DECODES = np.array([0.0, 8, 64])
MIXED_S = 1e-3 * np.array([[21.7, 27.8, 34.0], [39.0, 43.2, 49.3]])
MIXED_CONTEXT = 576.0


def _model(mixed: bool = True) -> np.ndarray:
    if not mixed:
        return profile_model(TOKENS, PREFILL_S, BATCHES, CONTEXTS, DECODE_S)
    return profile_model(
        TOKENS, PREFILL_S, BATCHES, CONTEXTS, DECODE_S, CHUNKS, MIXED_DECODES, MIXED_S, 576.0
    )


def _f(tokens: float) -> float:
    """The prefill curve written out: held below the table, the last segment beyond."""
    if tokens >= TOKENS[-1]:
        slope = (PREFILL_S[-1] - PREFILL_S[-2]) / (TOKENS[-1] - TOKENS[-2])
        return float(PREFILL_S[-1] + slope * (tokens - TOKENS[-1]))
    return float(np.interp(tokens, TOKENS, PREFILL_S))


def _d(batch: float, context: float) -> float:
    """The decode grid inside its range, by SciPy's (independent) bilinear interpolator."""
    grid = RegularGridInterpolator((BATCHES, CONTEXTS), DECODE_S, method="linear")
    return float(grid([[batch, context]])[0])


def test_a_profile_is_exact_at_its_table_points():
    model = _model()
    for tokens, seconds in zip(TOKENS, PREFILL_S, strict=True):
        assert prefill_chunk_s(model, 0, int(tokens)) == pytest.approx(seconds, rel=1e-12)
    for i, batch in enumerate(BATCHES):
        for j, context in enumerate(CONTEXTS):
            assert decode_s(model, batch, context) == pytest.approx(DECODE_S[i, j], rel=1e-12)
            # the kernel's decode-only iteration: K is the batch's summed context
            dt = iteration_s(model, 0, 0, 0.0, int(batch), batch * context)
            assert dt == pytest.approx(DECODE_S[i, j], rel=1e-12)
    for i, chunk in enumerate(CHUNKS):
        cost = prefill_chunk_s(model, 0, int(chunk))
        for j, decodes in enumerate(MIXED_DECODES):
            if decodes == 0:  # a prefill-only iteration: the prefill curve's
                continue
            dt = iteration_s(model, int(chunk), 0, cost, int(decodes), decodes * MIXED_CONTEXT)
            assert dt == pytest.approx(MIXED_S[i, j], rel=1e-12)


def test_between_points_the_profile_interpolates_linearly_per_axis():
    model = _model()
    rng = np.random.default_rng(3)
    for tokens in rng.integers(1, 8000, 300):
        assert prefill_chunk_s(model, 0, int(tokens)) == pytest.approx(_f(tokens), rel=1e-12)
    for batch, context in zip(rng.uniform(1, 64, 300), rng.uniform(256, 4096, 300), strict=True):
        assert decode_s(model, batch, context) == pytest.approx(_d(batch, context), rel=1e-12)
    # below the table the first point holds; beyond it, the last segment extends
    assert decode_s(model, 1.0, 10.0) == pytest.approx(DECODE_S[0, 0], rel=1e-12)
    slope = (DECODE_S[3, 2] - DECODE_S[2, 2]) / (64 - 16)
    assert decode_s(model, 128.0, 4096.0) == pytest.approx(DECODE_S[3, 2] + 64 * slope)


def test_a_monotone_profile_gives_a_monotone_model():
    model = _model()
    tokens = np.arange(1, 6000, 7)
    times = np.array([prefill_chunk_s(model, 0, int(t)) for t in tokens])
    assert np.all(np.diff(times) >= 0)
    for batch in (1.0, 3.0, 20.0, 64.0, 100.0):
        times = np.array([decode_s(model, batch, c) for c in np.linspace(1, 6000, 400)])
        assert np.all(np.diff(times) >= -1e-15)
    for context in (100.0, 700.0, 5000.0):
        times = np.array([decode_s(model, b, context) for b in np.linspace(1, 128, 400)])
        assert np.all(np.diff(times) >= -1e-15)


def test_a_chunk_costs_the_curve_s_rise_plus_the_fixed_part():
    """A chunk after ``d`` tokens costs ``c_p0 + f(d + c) − f(d)``; from the start, f(c)."""
    model = _model()
    c_p0 = PREFILL_S[0] - TOKENS[0] * (PREFILL_S[1] - PREFILL_S[0]) / (TOKENS[1] - TOKENS[0])
    assert prefill_chunk_s(model, 512, 512) == pytest.approx(c_p0 + _f(1024) - _f(512))
    assert prefill_chunk_s(model, 0, 1024) == pytest.approx(_f(1024))


def test_without_mixed_rows_a_mixed_iteration_counts_the_fixed_part_once():
    model = _model(mixed=False)
    c_p0 = PREFILL_S[0] - TOKENS[0] * (PREFILL_S[1] - PREFILL_S[0]) / (TOKENS[1] - TOKENS[0])
    cost = prefill_chunk_s(model, 0, 300)
    dt = iteration_s(model, 300, 0, cost, 8, 8 * 1000.0)
    assert dt == pytest.approx(_f(300) + _d(8, 1000) - c_p0, rel=1e-12)


def test_decode_line_follows_the_steps_within_its_segment():
    model = _model()
    for batch, contexts in ((1, 300), (5, 5 * 1000), (16, 16 * 4000), (64, 64 * 5000), (2, 10)):
        a, b, run = decode_line(model, batch, float(contexts))
        for i in range(min(run, 50)):
            stepped = decode_s(model, float(batch), contexts / batch + i)
            assert a + b * i == pytest.approx(stepped, rel=1e-10)
        if run < 10**6:  # the next step leaves the segment: the line no longer holds
            assert contexts / batch + run > CONTEXTS[np.searchsorted(CONTEXTS, contexts / batch)]


def test_the_linear_model_with_its_extra_terms_by_hand():
    c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp = 0.01, 2e-4, 1e-3, 3e-6, 0.004, 1e-8, 5e-6
    model = linear_model(c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp)
    # two chunks of 300 tokens (after 0 and 200 of their prompts) beside 4 decodes, K 2000
    square = 300 * 300 + 300 * (2 * 200 + 300)
    dt = iteration_s(model, 600, square, 0.0, 4, 2000)
    hand = c0 + c_p0 + c_pf * 600 + c_pf2 * square + c_b * 4 + c_kv * 2000 + c_tp * 604
    assert dt == pytest.approx(hand, rel=1e-14)
    assert iteration_s(model, 0, 0, 0.0, 4, 2000) == pytest.approx(
        c0 + c_b * 4 + c_kv * 2000 + c_tp * 4, rel=1e-14
    )
    with pytest.raises(ValueError, match="c_pf2"):
        linear_model(c0, c_pf, c_b, c_kv, c_pf2=-1.0)


# ----------------------------------------------------------------- inside the kernel


@pytest.mark.parametrize("mode", ["vllm", "sarathi"])
@pytest.mark.parametrize(("prompt", "output"), [(512, 1), (512, 40), (700, 300), (3000, 9)])
@pytest.mark.parametrize("skipping", [True, False])
def test_a_lone_request_under_a_profile(mode, prompt, output, skipping):
    """TTFT is the table's prefill time of its prompt; E2E adds ``output − 1`` decode
    iterations at batch 1 and the growing context, read off the table."""
    replica = q.BatchingReplica(
        mode, 0, 0, 0, 0, 8, 100_000, 4096, iteration=_model(), event_skipping=skipping
    )
    res = replica.step([1.0], [prompt], [output], math.inf)
    decodes = [_d(1, prompt + k) if prompt + k >= 256 else DECODE_S[0, 0] for k in range(1, output)]
    assert res.ttft[0] == pytest.approx(_f(prompt), rel=1e-12)
    assert res.e2e[0] == pytest.approx(_f(prompt) + sum(decodes), rel=1e-9)


def test_a_sarathi_chunked_prompt_under_a_profile():
    replica = q.BatchingReplica("sarathi", 0, 0, 0, 0, 8, 100_000, 512, iteration=_model())
    res = replica.step([0.0], [1200], [2], math.inf)
    model = _model()
    chunks = [prefill_chunk_s(model, 0, 512), prefill_chunk_s(model, 512, 512)]
    chunks.append(prefill_chunk_s(model, 1024, 176))
    assert res.ttft[0] == pytest.approx(sum(chunks), rel=1e-12)


def test_the_extra_linear_terms_in_the_kernel():
    """A prompt's quadratic cost is p² however it is chunked; each chunk's iteration pays
    c0 and the prefill intercept; communication is per token computed."""
    c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp = 0.01, 2e-4, 1e-3, 3e-6, 0.004, 1e-8, 5e-6
    model = linear_model(c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp)
    whole = q.BatchingReplica("vllm", c0, c_pf, c_b, c_kv, 4, 10_000, iteration=model)
    res = whole.step([0.0], [1000], [3], math.inf)
    assert res.ttft[0] == pytest.approx(c0 + c_p0 + (c_pf + c_tp) * 1000 + c_pf2 * 1e6)
    decode = [c0 + c_b + c_kv * (1000 + k) + c_tp for k in (1, 2)]
    assert res.e2e[0] == pytest.approx(res.ttft[0] + sum(decode), rel=1e-12)
    chunked = q.BatchingReplica("sarathi", c0, c_pf, c_b, c_kv, 4, 10_000, 256, iteration=model)
    ttft = chunked.step([0.0], [1000], [1], math.inf).ttft[0]
    assert ttft == pytest.approx(4 * (c0 + c_p0) + (c_pf + c_tp) * 1000 + c_pf2 * 1e6)


def _stream(n: int, rate: float, seed: int):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate, n))
    return arrivals, rng.integers(1, 3000, n), rng.integers(1, 400, n)


@pytest.mark.parametrize(("mode", "budget"), [("vllm", 0), ("vllm", 2048), ("sarathi", 512)])
@pytest.mark.parametrize("mixed", [True, False])
def test_profile_kernel_equals_reference_and_jumps_equal_steps(mode, budget, mixed):
    arrivals, prompt, output = _stream(400, 6.0, 5)
    args = (mode, 0, 0, 0, 0, 16, 60_000, budget)
    model = _model(mixed)
    stepped = q.BatchingReplica(*args, iteration=model, event_skipping=False)
    expected = stepped.step(arrivals, prompt, output, math.inf)
    reference = q.BatchingReplicaRef(*args, iteration=model)
    got = reference.step(arrivals, prompt, output, math.inf)
    for x, y in zip(got, expected, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(reference.stats, stepped.stats)
    jumping = q.BatchingReplica(*args, iteration=model)
    windows = [
        jumping.step(arrivals[i : i + 50], prompt[i : i + 50], output[i : i + 50], t)
        for i, t in zip(range(0, 400, 50), [*arrivals[50::50], math.inf], strict=True)
    ]
    got = q.BatchingResult(*(np.concatenate(c) for c in zip(*windows, strict=True)))
    np.testing.assert_array_equal(got.ids, expected.ids)
    for x, y in zip(got[1:7], expected[1:7], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    assert jumping.stats[q.STAT_JUMPED] > 0


def test_a_prefilled_request_decodes_at_once():
    """A decode pool's request brings its KV and first token: TTFT 0, no prefill, and
    ``output − 1`` decode iterations at the growing context."""
    c0, c_pf, c_b, c_kv = 0.01, 2e-4, 1e-3, 3e-6
    for mode in ("vllm", "sarathi"):
        replica = q.BatchingReplica(mode, c0, c_pf, c_b, c_kv, 4, 10_000, 256, prefilled=True)
        res = replica.step([5.0], [800], [4], math.inf)
        decodes = [c0 + c_b + c_kv * (800 + k) for k in (1, 2, 3)]
        assert res.ttft[0] == 0.0
        assert res.e2e[0] == pytest.approx(sum(decodes), rel=1e-12)
        assert res.tpot[0] == pytest.approx(sum(decodes) / 3, rel=1e-12)
        assert replica.stats[q.STAT_PREFILL_TOKENS] == 0
        assert replica.stats[q.STAT_DECODE_TOKENS] == 3
    arrivals, prompt, output = _stream(300, 20.0, 8)
    output = np.maximum(output, 2)
    for mode, budget in (("vllm", 0), ("sarathi", 256)):
        args = (mode, c0, c_pf, c_b, c_kv, 8, 40_000, budget)
        kernel = q.BatchingReplica(*args, prefilled=True, event_skipping=False)
        reference = q.BatchingReplicaRef(*args, prefilled=True)
        got = kernel.step(arrivals, prompt, output, math.inf)
        want = reference.step(arrivals, prompt, output, math.inf)
        for x, y in zip(got, want, strict=True):
            np.testing.assert_array_equal(x, y)
        assert kernel.stats[q.STAT_COMPLETED] == 300
        assert kernel.stats[q.STAT_DECODE_TOKENS] == (output - 1).sum()
    with pytest.raises(ValueError, match="output_tokens >= 2"):
        q.BatchingReplica("vllm", c0, c_pf, c_b, c_kv, 4, 10_000, prefilled=True).step(
            [0.0], [10], [1], 1.0
        )
