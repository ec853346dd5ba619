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
from twin.kernels.batching_admission import (
    _NONE,
    _admission_kv,
    _candidate,
)
from twin.kernels.batching_jump import decode_run
from twin.kernels.batching_paged import (
    held_kv,
    move_slot,
    resume_need,
)
from twin.kernels.batching_schedulers import build_iteration
from twin.kernels.batching_state import (
    _O_E2E,
    _O_FIN,
    _O_GAP,
    _O_SCHED,
    _O_TPOT,
    _O_TTFT,
    _RF_ARR,
    _RF_FIRST,
    _RF_GAP,
    _RF_LAST,
    _RF_SCHED,
    _RI_CHUNK,
    _RI_ID,
    _RI_OUT,
    _RI_PF,
    _RI_PROD,
    _RI_TARGET,
    _S_KV,
    _S_NPRE,
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
    STAT_GAP_SUM,
    STAT_GAPS,
    STAT_ITERATIONS,
    STAT_KV_MAX,
    STAT_PREEMPTIONS,
    STAT_PREFILL_TOKENS,
    STAT_RUNNING_MAX,
    WATERMARK_SHARE,
)
from twin.kernels.batching_tbt import gap_bucket
from twin.kernels.iteration_time import iteration_s

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
    block,
    swap_s,
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
    tbt,
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
        Jump over runs of decode-only iterations in closed form
        (:func:`~twin.kernels.batching_jump.decode_run`); ``False`` steps every iteration
        (the reference the jump is tested against).
    block : int
        KV block [tokens]: ``0`` reserves each request's final footprint at admission;
        ``> 0`` pages it (:mod:`twin.kernels.batching_paged`).
    swap_s : float
        Paged preemption: ``< 0`` recompute; ``>= 0`` swap, seconds per token each way.
    scal, tstate, run_i, run_f, wait_i, wait_f : numpy.ndarray
        Carried state, updated in place; layouts in :class:`BatchingState`.  ``wait_*`` must
        have room for the new arrivals (the wrapper grows it).
    new_id, new_arr, new_prompt, new_out : numpy.ndarray, shape (n,)
        This window's requests: int64 ids, float64 arrival [s] (sorted, not before any queued
        arrival), int64 prompt and output tokens.
    until_s : float
        Window end [s]: iterations start only at ``clock < until_s``.
    out_id : numpy.ndarray of int64, shape (>= n_running + n_waiting + n,)
    out_f : numpy.ndarray of float64, shape (_N_O, >= n_running + n_waiting + n)
        Completed requests in completion order; rows ``_O_TTFT``, ``_O_TPOT``, ``_O_E2E``,
        ``_O_GAP``, ``_O_FIN``, ``_O_SCHED`` [s].
    out_drop : numpy.ndarray of int64, shape (>= n_waiting - n_queued + n,)
        Ids of the requests dropped by the waiting-queue limit, in arrival order.
    stats : numpy.ndarray of float64, shape (N_STATS,)
        Accumulated statistics (``STAT_*``), updated in place.
    tbt : numpy.ndarray of int64, shape (BUCKETS,)
        Every gap between two tokens of a request is counted into it
        (:mod:`twin.kernels.batching_tbt`), updated in place.

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
    n_pre = scal[_S_NPRE]  # preempted: running slots max_batch-n_pre .. max_batch-1
    swapping = block > 0 and swap_s >= 0.0
    kv_top = kv_cap  # KV tokens a replica may hold; admission leaves `margin` of them free
    margin = 0
    if block > 0:
        blocks = kv_cap // block
        kv_top = blocks * block
        margin = blocks // WATERMARK_SHARE * block
    joins_decodes = prefilled and mode == MODE_VLLM
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
        if n_run == 0 and nq == 0 and n_pre == 0:
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
            if n_run == 0 and nq == 0 and n_pre == 0:
                continue  # max_waiting == 0: every arrival is dropped
        # ---- a run of decode-only iterations that change nothing but the clock: jump it
        if skip and n_run > 0:
            blocked = n_run == max_batch
            if not blocked and swapping and n_pre > 0:
                blocked = kv + resume_need(run_i, max_batch - 1, block) + margin > kv_top
            elif not blocked:
                kind, p, o, k = _candidate(
                    run_i, wait_i, head, nq, n_pre, max_batch, swapping, prefilled
                )
                need = _admission_kv(kind, p, o, k, block, joins_decodes)
                blocked = kind == _NONE or kv + need + margin > kv_top
            if blocked:
                horizon = until_s
                if nq == 0 and n_run < max_batch and cnt > 0 and wait_f[head] < horizon:
                    horizon = wait_f[head]  # the next arrival may be admitted
                jumped, kv_after = decode_run(
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
                )
                if jumped > now:
                    kv = kv_after
                    if kv > stats[STAT_KV_MAX]:
                        stats[STAT_KV_MAX] = kv
                    now = jumped
                    continue
        for j in range(n_run):
            run_i[_RI_CHUNK, j] = 0
        built = build_iteration(
            mode,
            model,
            prefilled,
            max_batch,
            budget,
            block,
            swapping,
            kv_top,
            margin,
            run_i,
            run_f,
            wait_i,
            wait_f,
            n_run,
            n_pre,
            head,
            nq,
            cnt,
            kv,
        )
        n_run, n_pre, head, nq, cnt, kv, P, Q, prefill_cost, nd, K, nb, preempted, swapped = built
        for j in range(n_run):
            if np.isnan(run_f[_RF_SCHED, j]):  # admitted into this iteration
                run_f[_RF_SCHED, j] = now
        for j in range(max_batch - n_pre, max_batch):
            if np.isnan(run_f[_RF_SCHED, j]):  # admitted, then preempted at once
                run_f[_RF_SCHED, j] = now
        decoding = mode != MODE_VLLM or P == 0  # vLLM: running decodes stall in a prefill
        dt = iteration_s(model, P, Q, prefill_cost, nd, K)
        if swapped > 0:
            dt += swap_s * swapped  # host-link copies before the forward pass (vLLM v0)
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
        if preempted > 0:
            stats[STAT_PREEMPTIONS] += preempted
        # ---- apply the iteration, record completions, compact the running slots
        w = 0
        seen_gap = -1.0  # the gaps of one iteration mostly agree: bucket each value once
        seen_bucket = 0
        gaps = 0
        gap_sum = 0.0
        for j in range(n_run):
            ch = run_i[_RI_CHUNK, j]
            if ch > 0:
                run_i[_RI_PF, j] += ch
                if run_i[_RI_PF, j] == run_i[_RI_TARGET, j]:
                    if run_i[_RI_PROD, j] == 0:
                        run_i[_RI_PROD, j] = 1
                        run_f[_RF_FIRST, j] = t_end
                    else:  # a recomputed request's prefill produces its next token
                        run_i[_RI_PROD, j] += 1
                        g = t_end - run_f[_RF_LAST, j]
                        if g > run_f[_RF_GAP, j]:
                            run_f[_RF_GAP, j] = g
                        if g != seen_gap:
                            seen_gap = g
                            seen_bucket = gap_bucket(g)
                        tbt[seen_bucket] += 1
                        gaps += 1
                        gap_sum += g
                    run_f[_RF_LAST, j] = t_end
            elif decoding and run_i[_RI_PF, j] == run_i[_RI_TARGET, j]:
                run_i[_RI_PROD, j] += 1
                g = t_end - run_f[_RF_LAST, j]
                if g > run_f[_RF_GAP, j]:
                    run_f[_RF_GAP, j] = g
                if g != seen_gap:
                    seen_gap = g
                    seen_bucket = gap_bucket(g)
                tbt[seen_bucket] += 1
                gaps += 1
                gap_sum += g
                run_f[_RF_LAST, j] = t_end
            o = run_i[_RI_OUT, j]
            if run_i[_RI_PROD, j] == o:
                arr = run_f[_RF_ARR, j]
                first = run_f[_RF_FIRST, j]
                out_id[n_done] = run_i[_RI_ID, j]
                out_f[_O_TTFT, n_done] = first - arr
                out_f[_O_E2E, n_done] = t_end - arr
                out_f[_O_FIN, n_done] = t_end
                out_f[_O_SCHED, n_done] = run_f[_RF_SCHED, j] - arr
                if o > 1:
                    out_f[_O_TPOT, n_done] = (t_end - first) / (o - 1)
                    out_f[_O_GAP, n_done] = run_f[_RF_GAP, j]
                else:
                    out_f[_O_TPOT, n_done] = np.nan
                    out_f[_O_GAP, n_done] = np.nan
                n_done += 1
                kv -= held_kv(run_i, j, block)
            else:
                if w != j:
                    move_slot(run_i, run_f, j, w)
                w += 1
        stats[STAT_COMPLETED] += n_run - w
        if gaps:
            stats[STAT_GAPS] += gaps
            stats[STAT_GAP_SUM] += gap_sum
        n_run = w
        now = t_end
    stats[STAT_DROPPED] += n_drop
    scal[_S_NRUN] = n_run
    scal[_S_WHEAD] = head
    scal[_S_WCOUNT] = cnt
    scal[_S_KV] = kv
    scal[_S_WQUEUED] = nq
    scal[_S_NPRE] = n_pre
    tstate[_T_CLOCK] = now
    return n_done, n_drop
