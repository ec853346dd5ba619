"""The compiled continuous-batching kernel: one replica advanced to the end of a window.

References
----------
.. [3] G.-I. Yu et al., "Orca: A Distributed Serving System for Transformer-Based Generative
   Models", OSDI 2022 (iteration-level scheduling).
.. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention", SOSP 2023 (vLLM).
.. [5] A. Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
   Sarathi-Serve", OSDI 2024 (chunked prefills, stall-free batching).
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit
from twin.kernels.batching_state import (
    _N_RF,
    _N_RI,
    _O_E2E,
    _O_FIN,
    _O_GAP,
    _O_TPOT,
    _O_TTFT,
    _RF_ARR,
    _RF_FIRST,
    _RF_GAP,
    _RF_LAST,
    _RI_CHUNK,
    _RI_ID,
    _RI_OUT,
    _RI_PF,
    _RI_PROD,
    _RI_PROMPT,
    _S_KV,
    _S_NRUN,
    _S_WCOUNT,
    _S_WHEAD,
    _S_WQUEUED,
    _T_CLOCK,
    _WI_ID,
    _WI_OUT,
    _WI_PROMPT,
    MODE_VLLM,
    STAT_BATCH_MAX,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_COMPLETED,
    STAT_DECODE_TOKENS,
    STAT_DROPPED,
    STAT_ITERATIONS,
    STAT_JUMPED,
    STAT_KV_MAX,
    STAT_PREFILL_TOKENS,
    STAT_RUNNING_MAX,
)
from twin.kernels.iteration_time import (
    PROFILE,
    decode_line,
    iteration_s,
    prefill_chunk_s,
)

# ============================================================================================
# Continuous-batching LLM replica: compiled kernel
# ============================================================================================


@njit(cache=True, nogil=True)
def _drop_arrived(wait_i, wait_f, head, nq, cnt, now, out_drop, n_drop):
    """Drop the pending requests of the waiting ring that arrived by ``now`` (they find the
    queue full): record their ids in ``out_drop[n_drop:]`` and remove them from the ring.

    The ring holds ``nq`` queued requests from ``head``, then ``cnt - nq`` pending ones; the
    ``d`` dropped ones are the first pending.  They go by shifting the shorter side by ``d``
    (the queued block forward, or the later pending entries back), so the ring stays
    contiguous and in order.  Returns ``(d, new_head)``.
    """
    W = wait_f.shape[0]
    d = 0
    while nq + d < cnt:
        k = head + nq + d
        if k >= W:
            k -= W
        if wait_f[k] > now:
            break
        out_drop[n_drop + d] = wait_i[_WI_ID, k]
        d += 1
    if d == 0:
        return 0, head
    rest = cnt - nq - d
    if nq <= rest:  # queued block forward by d
        for i in range(nq - 1, -1, -1):
            src = head + i
            if src >= W:
                src -= W
            dst = src + d
            if dst >= W:
                dst -= W
            _ring_move(wait_i, wait_f, src, dst)
        head += d
        if head >= W:
            head -= W
    else:  # later pending entries back by d
        for i in range(rest):
            dst = head + nq + i
            if dst >= W:
                dst -= W
            src = dst + d
            if src >= W:
                src -= W
            _ring_move(wait_i, wait_f, src, dst)
    return d, head


@njit(cache=True, inline="always")
def _ring_move(wait_i, wait_f, src, dst):
    wait_i[_WI_ID, dst] = wait_i[_WI_ID, src]
    wait_i[_WI_PROMPT, dst] = wait_i[_WI_PROMPT, src]
    wait_i[_WI_OUT, dst] = wait_i[_WI_OUT, src]
    wait_f[dst] = wait_f[src]


@njit(cache=True, inline="always")
def _admit(run_i, run_f, slot, wait_i, wait_f, head, prompt, output, prefilled):
    """Move the head of the waiting ring into running slot ``slot``; a prefilled request
    arrives with its prompt's KV and its first token (produced at its arrival)."""
    run_i[_RI_ID, slot] = wait_i[_WI_ID, head]
    run_i[_RI_PROMPT, slot] = prompt
    run_i[_RI_OUT, slot] = output
    run_i[_RI_CHUNK, slot] = 0
    arrival = wait_f[head]
    run_f[_RF_ARR, slot] = arrival
    run_f[_RF_GAP, slot] = 0.0
    if prefilled:
        run_i[_RI_PF, slot] = prompt
        run_i[_RI_PROD, slot] = 1
        run_f[_RF_FIRST, slot] = arrival
        run_f[_RF_LAST, slot] = arrival
    else:
        run_i[_RI_PF, slot] = 0
        run_i[_RI_PROD, slot] = 0


@njit(cache=True, nogil=True)
def _decode_run(model, n_run, now, horizon, run_i, run_f, stats):
    """Jump over the decode-only iterations that start before ``horizon`` and complete no
    request; return the clock after them (``now`` if there are fewer than two).

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
    counts from its last token, which a vLLM prefill may have stalled). Returns ``now`` at
    once when a
    running request still has prompt to prefill.
    """
    K = 0
    r_min = 1 << 62
    for j in range(n_run):
        prompt = run_i[_RI_PROMPT, j]
        if run_i[_RI_PF, j] != prompt:
            return now  # a prefill chunk is pending: not a decode-only run
        produced = run_i[_RI_PROD, j]
        K += prompt + produced
        left = run_i[_RI_OUT, j] - produced
        if left < r_min:
            r_min = left
    if r_min < 3:
        return now
    a, b, linear_for = decode_line(model, n_run, K)
    # at most up to the iteration before the first completion, and while the model is linear
    m = min(r_min - 1, linear_for)
    if m < 2 or b < 0.0:
        return now
    span = horizon - now
    if a * (m - 1) + 0.5 * b * (m - 1) * (m - 2) >= span:
        # fewer start before the horizon: k < root of b/2 k^2 + (a - b/2) k = span
        half = a - 0.5 * b
        root = 2.0 * span / (half + np.sqrt(half * half + 2.0 * b * span))
        m = min(int(root) + 1, m)
        while m > 0 and a * (m - 1) + 0.5 * b * (m - 1) * (m - 2) >= span:
            m -= 1
        if m < 2:
            return now
    total = a * m + 0.5 * b * m * (m - 1)
    last_dt = a + b * (m - 1)
    end = now + total
    first_end = now + a
    for j in range(n_run):
        run_i[_RI_PROD, j] += m
        # the first token of the run comes a after the clock, the request's last token
        # earlier still if it stalled (vLLM prefill); later gaps grow to the last dt
        gap = first_end - run_f[_RF_LAST, j]
        if last_dt > gap:
            gap = last_dt
        if gap > run_f[_RF_GAP, j]:
            run_f[_RF_GAP, j] = gap
        run_f[_RF_LAST, j] = end
    stats[STAT_ITERATIONS] += m
    stats[STAT_JUMPED] += m
    stats[STAT_BATCH_SUM] += m * n_run
    if n_run > stats[STAT_BATCH_MAX]:
        stats[STAT_BATCH_MAX] = n_run
    if n_run > stats[STAT_RUNNING_MAX]:
        stats[STAT_RUNNING_MAX] = n_run
    stats[STAT_BUSY_S] += total
    stats[STAT_DECODE_TOKENS] += m * n_run
    return end


@njit(cache=True, nogil=True)
def _batching_kernel(
    mode,
    model,
    prefilled,
    max_batch,
    kv_cap,
    budget,
    max_waiting,
    skip,
    scal,
    tstate,
    run_i,
    run_f,
    wait_i,
    wait_f,
    new_id,
    new_arr,
    new_prompt,
    new_out,
    until_s,
    out_id,
    out_f,
    out_drop,
    stats,
):
    """Advance one replica to ``until_s``; semantics in :func:`batching_step`.

    Parameters
    ----------
    mode : int
        0 = vLLM, 1 = Sarathi.
    model : numpy.ndarray of float64
        The packed iteration-time model (:mod:`twin.kernels.iteration_time`).
    prefilled : bool
        Every arrival already holds its prompt's KV cache and first token (a decode pool).
    max_batch, kv_cap, budget : int
        Running-set cap, KV capacity [tokens], token budget (vLLM: 0 = unlimited).
    max_waiting : int
        Waiting-queue limit (``< 0`` = none).
    skip : bool
        Jump over runs of decode-only iterations in closed form (:func:`_decode_run`);
        ``False`` steps every iteration (the reference the jump is tested against).
    scal, tstate, run_i, run_f, wait_i, wait_f : numpy.ndarray
        Carried state, updated in place; layouts in :class:`BatchingState`.  ``wait_*`` must
        have room for the new arrivals (the wrapper grows it).
    new_id, new_arr, new_prompt, new_out : numpy.ndarray, shape (n,)
        This window's requests: int64 ids, float64 arrival [s] (sorted, not before any queued
        arrival), int64 prompt and output tokens.
    until_s : float
        Window end [s]: iterations start only at ``clock < until_s``.
    out_id : numpy.ndarray of int64, shape (>= n_running + n_waiting + n,)
    out_f : numpy.ndarray of float64, shape (5, >= n_running + n_waiting + n)
        Completed requests in completion order; rows ``_O_TTFT``, ``_O_TPOT``, ``_O_E2E``,
        ``_O_GAP``, ``_O_FIN`` [s].
    out_drop : numpy.ndarray of int64, shape (>= n_waiting - n_queued + n,)
        Ids of the requests dropped by the waiting-queue limit, in arrival order.
    stats : numpy.ndarray of float64, shape (N_STATS,)
        Accumulated statistics (``STAT_*``), updated in place.

    Returns
    -------
    (int, int)
        Number of requests completed (rows written to ``out_id``/``out_f``) and dropped
        (entries written to ``out_drop``).
    """
    W = wait_f.shape[0]
    n_run = scal[_S_NRUN]
    head = scal[_S_WHEAD]
    cnt = scal[_S_WCOUNT]
    kv = scal[_S_KV]
    nq = scal[_S_WQUEUED]  # queued: ring entries head .. head+nq-1
    # ---- append this window's arrivals to the pending part (caller guarantees room, order)
    for i in range(new_arr.shape[0]):
        k = head + cnt
        if k >= W:
            k -= W
        wait_i[_WI_ID, k] = new_id[i]
        wait_i[_WI_PROMPT, k] = new_prompt[i]
        wait_i[_WI_OUT, k] = new_out[i]
        wait_f[k] = new_arr[i]
        cnt += 1
    # the ring holds the queued requests (head .. head+nq-1), then the pending ones
    now = tstate[_T_CLOCK]
    n_done = 0
    n_drop = 0
    while True:
        # ---- idle: jump to the next arrival (or stop if none is known)
        if n_run == 0 and nq == 0:
            if cnt == 0:
                break
            if wait_f[head] > now:
                now = wait_f[head]
        # ---- iterations start only strictly before until_s (they may end after it)
        if now >= until_s:
            break
        # ---- take in the arrivals up to now, in arrival order, while the queue has room
        while nq < cnt and nq != max_waiting:
            k = head + nq
            if k >= W:
                k -= W
            if wait_f[k] > now:
                break
            nq += 1
        # ---- the queue is full: the other arrivals up to now find it so and are dropped
        if nq == max_waiting and nq < cnt:
            d, head = _drop_arrived(wait_i, wait_f, head, nq, cnt, now, out_drop, n_drop)
            n_drop += d
            cnt -= d
            if n_run == 0 and nq == 0:
                continue  # max_waiting == 0: every arrival is dropped
        # ---- a run of decode-only iterations that change nothing but the clock: jump it
        if skip and n_run > 0:
            blocked = nq == 0 or n_run == max_batch
            if not blocked:
                blocked = kv + wait_i[_WI_PROMPT, head] + wait_i[_WI_OUT, head] > kv_cap
            if blocked:
                horizon = until_s
                if nq == 0 and n_run < max_batch and cnt > 0 and wait_f[head] < horizon:
                    horizon = wait_f[head]  # the next arrival may be admitted
                jumped = _decode_run(model, n_run, now, horizon, run_i, run_f, stats)
                if jumped > now:
                    if kv > stats[STAT_KV_MAX]:
                        stats[STAT_KV_MAX] = kv
                    now = jumped
                    continue
        P = 0  # prefill tokens in this iteration
        Q = 0  # their quadratic sum, chunk × (2 × prefilled before + chunk)
        prefill_cost = 0.0  # their cost under a profile model
        profile = model[0] == PROFILE
        nd = 0  # decoding requests
        K = 0  # sum of their contexts
        nb = 0  # batch size: requests computing in this iteration
        for j in range(n_run):
            run_i[_RI_CHUNK, j] = 0
        decoding = True
        if mode == MODE_VLLM:
            # vLLM: admit FCFS while batch cap, KV (and prompt-token cap) allow
            while nq > 0 and n_run < max_batch:
                p = wait_i[_WI_PROMPT, head]
                o = wait_i[_WI_OUT, head]
                if kv + p + o > kv_cap:
                    break
                if budget > 0 and nb > 0 and P + p > budget:
                    break
                _admit(run_i, run_f, n_run, wait_i, wait_f, head, p, o, prefilled)
                if not prefilled:
                    run_i[_RI_CHUNK, n_run] = p
                    P += p
                    Q += p * p
                    if profile:
                        prefill_cost += prefill_chunk_s(model, 0, p)
                n_run += 1
                kv += p + o
                nb += 1
                head += 1
                if head == W:
                    head = 0
                nq -= 1
                cnt -= 1
            if P > 0:
                decoding = False  # prefill-only iteration: running decodes stall
            else:
                for j in range(n_run):
                    nd += 1
                    K += run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
                nb = nd
        else:
            # Sarathi: one token per decode, the rest of the budget to FCFS prefill chunks
            R = budget
            for j in range(n_run):
                if run_i[_RI_PF, j] == run_i[_RI_PROMPT, j]:
                    nd += 1
                    K += run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
                    R -= 1
            nb = nd
            for j in range(n_run):
                if R <= 0:
                    break
                done = run_i[_RI_PF, j]
                rem = run_i[_RI_PROMPT, j] - done
                if rem > 0:
                    ch = rem if rem < R else R
                    run_i[_RI_CHUNK, j] = ch
                    P += ch
                    Q += ch * (2 * done + ch)
                    if profile:
                        prefill_cost += prefill_chunk_s(model, done, ch)
                    R -= ch
                    nb += 1
            while R > 0 and nq > 0 and n_run < max_batch:
                p = wait_i[_WI_PROMPT, head]
                o = wait_i[_WI_OUT, head]
                if kv + p + o > kv_cap:
                    break
                _admit(run_i, run_f, n_run, wait_i, wait_f, head, p, o, prefilled)
                if prefilled:  # it decodes in this iteration: one token of the budget
                    nd += 1
                    K += p + 1
                    R -= 1
                else:
                    ch = p if p < R else R
                    run_i[_RI_CHUNK, n_run] = ch
                    P += ch
                    Q += ch * ch
                    if profile:
                        prefill_cost += prefill_chunk_s(model, 0, ch)
                    R -= ch
                n_run += 1
                kv += p + o
                nb += 1
                head += 1
                if head == W:
                    head = 0
                nq -= 1
                cnt -= 1
        dt = iteration_s(model, P, Q, prefill_cost, nd, K)
        t_end = now + dt
        # ---- stats
        stats[STAT_ITERATIONS] += 1.0
        stats[STAT_BATCH_SUM] += nb
        if nb > stats[STAT_BATCH_MAX]:
            stats[STAT_BATCH_MAX] = nb
        if n_run > stats[STAT_RUNNING_MAX]:
            stats[STAT_RUNNING_MAX] = n_run
        if kv > stats[STAT_KV_MAX]:
            stats[STAT_KV_MAX] = kv
        stats[STAT_BUSY_S] += dt
        stats[STAT_PREFILL_TOKENS] += P
        stats[STAT_DECODE_TOKENS] += nd
        # ---- apply the iteration, record completions, compact the running slots
        w = 0
        for j in range(n_run):
            ch = run_i[_RI_CHUNK, j]
            if ch > 0:
                run_i[_RI_PF, j] += ch
                if run_i[_RI_PF, j] == run_i[_RI_PROMPT, j]:
                    run_i[_RI_PROD, j] = 1
                    run_f[_RF_FIRST, j] = t_end
                    run_f[_RF_LAST, j] = t_end
            elif decoding and run_i[_RI_PF, j] == run_i[_RI_PROMPT, j]:
                run_i[_RI_PROD, j] += 1
                g = t_end - run_f[_RF_LAST, j]
                if g > run_f[_RF_GAP, j]:
                    run_f[_RF_GAP, j] = g
                run_f[_RF_LAST, j] = t_end
            o = run_i[_RI_OUT, j]
            if run_i[_RI_PROD, j] == o:
                arr = run_f[_RF_ARR, j]
                first = run_f[_RF_FIRST, j]
                out_id[n_done] = run_i[_RI_ID, j]
                out_f[_O_TTFT, n_done] = first - arr
                out_f[_O_E2E, n_done] = t_end - arr
                out_f[_O_FIN, n_done] = t_end
                if o > 1:
                    out_f[_O_TPOT, n_done] = (t_end - first) / (o - 1)
                    out_f[_O_GAP, n_done] = run_f[_RF_GAP, j]
                else:
                    out_f[_O_TPOT, n_done] = np.nan
                    out_f[_O_GAP, n_done] = np.nan
                n_done += 1
                kv -= run_i[_RI_PROMPT, j] + o
            else:
                if w != j:
                    for r in range(_N_RI):
                        run_i[r, w] = run_i[r, j]
                    for r in range(_N_RF):
                        run_f[r, w] = run_f[r, j]
                w += 1
        stats[STAT_COMPLETED] += n_run - w
        n_run = w
        now = t_end
    stats[STAT_DROPPED] += n_drop
    scal[_S_NRUN] = n_run
    scal[_S_WHEAD] = head
    scal[_S_WCOUNT] = cnt
    scal[_S_KV] = kv
    scal[_S_WQUEUED] = nq
    tstate[_T_CLOCK] = now
    return n_done, n_drop
