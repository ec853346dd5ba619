"""Event skipping of the continuous-batching kernel: a run of decode-only iterations
jumped over in closed form (:func:`decode_run`)."""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit
from twin.kernels.batching_paged import kv_tokens, run_kv_limit
from twin.kernels.batching_state import (
    _RF_GAP,
    _RF_LAST,
    _RI_OUT,
    _RI_PF,
    _RI_PROD,
    _RI_PROMPT,
    _RI_TARGET,
    STAT_BATCH_MAX,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_DECODE_TOKENS,
    STAT_GAP_SUM,
    STAT_GAPS,
    STAT_ITERATIONS,
    STAT_JUMPED,
    STAT_RUNNING_MAX,
)
from twin.kernels.batching_tbt import count_progression, gap_bucket
from twin.kernels.iteration_time import decode_line, iteration_s


@njit(cache=True, nogil=True)
def decode_run(
    model,
    n_run,
    now,
    horizon,
    run_i,
    run_f,
    stats,
    kv,
    kv_top,
    block,
    tbt,
):
    """Jump over the decode-only iterations that start before ``horizon`` and complete no
    request or preemption; return the clock and the KV in use after them (``now`` and ``kv``
    if there are fewer than two).

    Between two events that change the batch (an admission, a prefill chunk, a completion),
    every running request decodes one token per iteration, so iteration ``i`` of the run
    takes ``dt_i = a + b·i`` (linear model: ``a = c0 + c_b·B + c_kv·K`` and ``b = c_kv·B``,
    ``B`` requests, ``K`` the sum of their contexts, which grows by ``B`` per iteration; a
    profile: as long as the mean context stays between two of its context points, see
    :func:`~twin.kernels.iteration_time.decode_line`; a falling segment is stepped). The
    iterations starting before ``horizon - now`` are the ``k`` with
    ``S(k) = a·k + b·k(k-1)/2 < horizon - now``; the run stops one iteration short of the
    first completion. Tokens, gaps (the largest is the last iteration's) and statistics
    advance as ``m`` stepped iterations would advance them (a request's first gap of the run
    counts from its last token, which a vLLM prefill may have stalled), and so does the TBT
    histogram (:func:`~twin.kernels.batching_tbt.count_progression`). With paged KV
    (``block > 0``) the run also stops before the first iteration whose blocks would exceed
    ``kv_top`` (that one may preempt: it is stepped). Returns at once when a running request
    still has prompt to prefill.
    """
    K = 0
    r_min = 1 << 62
    for j in range(n_run):
        if run_i[_RI_PF, j] != run_i[_RI_TARGET, j]:
            return now, kv  # a prefill chunk is pending: not a decode-only run
        produced = run_i[_RI_PROD, j]
        K += run_i[_RI_PROMPT, j] + produced
        left = run_i[_RI_OUT, j] - produced
        if left < r_min:
            r_min = left
    if r_min < 3:
        return now, kv
    a, b, linear_for = decode_line(model, n_run, K)
    # at most up to the iteration before the first completion, and while the model is linear
    m = run_kv_limit(run_i, n_run, kv_top, block, min(r_min - 1, linear_for))
    if m < 2 or b < 0.0:
        return now, kv
    span = horizon - now
    if a * (m - 1) + 0.5 * b * (m - 1) * (m - 2) >= span:
        # fewer start before the horizon: k < root of b/2 k^2 + (a - b/2) k = span; one
        # more than the closed form's count is kept for the clock below to decide
        half = a - 0.5 * b
        root = 2.0 * span / (half + np.sqrt(half * half + 2.0 * b * span))
        m = min(int(root) + 2, m)
    # the clock advances as stepping advances it, one iteration time at a time, so an
    # arrival that lands on an iteration's start exactly (stepping admits it) stops the run
    # there too: the closed form's rounding may put that start a hair before or after it
    last_dt = iteration_s(model, 0, 0, 0.0, n_run, K)
    end = first_end = now + last_dt
    k = 1
    while k < m and end < horizon:
        last_dt = iteration_s(model, 0, 0, 0.0, n_run, K + n_run * k)
        end += last_dt
        k += 1
    m = k
    if m < 2:
        return now, kv
    total = end - now
    seen_gap = -1.0
    seen_bucket = 0
    first_sum = 0.0
    for j in range(n_run):
        run_i[_RI_PROD, j] += m
        # the first token of the run comes a after the clock, the request's last token
        # earlier still if it stalled (vLLM prefill); later gaps grow to the last dt
        first_gap = first_end - run_f[_RF_LAST, j]
        if first_gap != seen_gap:
            seen_gap = first_gap
            seen_bucket = gap_bucket(first_gap)
        tbt[seen_bucket] += 1
        first_sum += first_gap
        gap = max(first_gap, last_dt)
        if gap > run_f[_RF_GAP, j]:
            run_f[_RF_GAP, j] = gap
        run_f[_RF_LAST, j] = end
    stats[STAT_GAPS] += n_run
    stats[STAT_GAP_SUM] += first_sum
    count_progression(tbt, stats, n_run, a, b, 1, m - 1)
    stats[STAT_ITERATIONS] += m
    stats[STAT_JUMPED] += m
    stats[STAT_BATCH_SUM] += m * n_run
    if n_run > stats[STAT_BATCH_MAX]:
        stats[STAT_BATCH_MAX] = n_run
    if n_run > stats[STAT_RUNNING_MAX]:
        stats[STAT_RUNNING_MAX] = n_run
    stats[STAT_BUSY_S] += total
    stats[STAT_DECODE_TOKENS] += m * n_run
    if block > 0:
        kv = 0
        for j in range(n_run):
            kv += kv_tokens(run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j], block)
    return end, kv
