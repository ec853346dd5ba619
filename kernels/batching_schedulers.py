"""The two schedulers of the continuous-batching kernel: how one iteration is built from
the running set, the preempted requests and the waiting queue (vLLM, Sarathi-Serve).

References
----------
.. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention", SOSP 2023 (vLLM).
.. [5] A. Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
   Sarathi-Serve", OSDI 2024 (chunked prefills, stall-free batching).
"""

from __future__ import annotations

from twin.kernels._jit import njit
from twin.kernels.batching_admission import (
    _ARRIVED,
    _NONE,
    _RESUMED,
    _admission_kv,
    _admit,
    _candidate,
)
from twin.kernels.batching_paged import kv_context, make_room, resume_need, resume_slot
from twin.kernels.batching_state import (
    _RI_CHUNK,
    _RI_PF,
    _RI_PROD,
    _RI_PROMPT,
    _RI_TARGET,
    MODE_VLLM,
)
from twin.kernels.iteration_time import PROFILE, prefill_chunk_s


@njit(cache=True)
def vllm_iteration(
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
):
    """Build a vLLM iteration [4]_: admissions FCFS (a preempted request to recompute
    first, none while one is swapped out) while the batch cap, the KV (leaving the
    watermark) and the prompt-token cap allow, all prefilled together in a prefill-only
    iteration; else one decode iteration of every running request, each given its next
    token's KV (paged: the last admitted preempted when blocks run out), then the swapped
    out back if nobody was preempted.

    The running slots ``0 .. n_run - 1`` come with their chunks cleared; the ring and KV
    book (``head, nq, cnt, kv``) and the preempted slots (``n_pre``) are updated as
    admissions, preemptions and swaps happen.  Returns them with the iteration's prefill
    tokens ``P``, quadratic sum ``Q`` and profile cost, its decodes ``nd`` and their
    context ``K``, its batch size, the requests preempted and the KV tokens swapped.
    """
    W = wait_f.shape[0]
    P = 0  # prefill tokens in this iteration
    Q = 0  # their quadratic sum, chunk × (2 × prefilled before + chunk)
    prefill_cost = 0.0  # their cost under a profile model
    profile = model[0] == PROFILE
    nd = 0  # decoding requests
    K = 0  # sum of their contexts
    nb = 0  # batch size: requests computing in this iteration
    preempted = 0  # requests preempted for this iteration's blocks (paged)
    swapped = 0  # tokens of KV swapped out or in by this iteration
    joins_decodes = prefilled
    # vLLM: admit FCFS while batch cap, KV (and prompt-token cap) allow
    while n_run < max_batch:
        kind, p, o, k = _candidate(run_i, wait_i, head, nq, n_pre, max_batch, swapping, prefilled)
        if kind == _NONE:
            break
        need = _admission_kv(kind, p, o, k, block, joins_decodes)
        if kv + need + margin > kv_top:
            break
        charge = p + k if kind == _RESUMED else p
        if budget > 0 and nb > 0 and P + charge > budget:
            break
        if kind == _RESUMED:
            resume_slot(run_i, run_f, n_run, n_pre, max_batch, False)
            n_pre -= 1
        else:
            _admit(run_i, run_f, n_run, wait_i, wait_f, head, p, o, prefilled)
            head += 1
            if head == W:
                head = 0
            nq -= 1
            cnt -= 1
        if kind == _RESUMED or not prefilled:
            target = run_i[_RI_TARGET, n_run]
            run_i[_RI_CHUNK, n_run] = target
            P += target
            Q += target * target
            if profile:
                prefill_cost += prefill_chunk_s(model, 0, target)
        n_run += 1
        kv += need
        nb += 1
    if P == 0:  # else a prefill-only iteration: running decodes stall
        if block > 0:
            n_run, n_pre, kv, preempted, swapped = make_room(
                run_i, run_f, n_run, n_pre, kv, kv_top, block, max_batch, swapping
            )
        # swapped-out requests come back when nobody was preempted (they decode)
        while swapping and preempted == 0 and n_pre > 0 and n_run < max_batch:
            need = resume_need(run_i, max_batch - 1, block)
            if kv + need + margin > kv_top:
                break
            swapped += kv_context(run_i, max_batch - 1)
            resume_slot(run_i, run_f, n_run, n_pre, max_batch, True)
            run_i[_RI_CHUNK, n_run] = 0
            n_pre -= 1
            n_run += 1
            kv += need
        for j in range(n_run):
            nd += 1
            K += run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
        nb = nd
    return (n_run, n_pre, head, nq, cnt, kv, P, Q, prefill_cost, nd, K, nb, preempted, swapped)


@njit(cache=True)
def sarathi_iteration(
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
):
    """Build a Sarathi-Serve iteration [5]_ (vLLM's chunked prefill): every running decode
    gets its next token's KV (paged: preempting the last admitted when blocks run out) and
    one token of ``budget``, the rest goes FCFS to the prefill chunks of the running, then
    of the swapped out coming back (if nobody was preempted), then of new admissions.

    The running slots ``0 .. n_run - 1`` come with their chunks cleared; the ring and KV
    book (``head, nq, cnt, kv``) and the preempted slots (``n_pre``) are updated as
    admissions, preemptions and swaps happen.  Returns them with the iteration's prefill
    tokens ``P``, quadratic sum ``Q`` and profile cost, its decodes ``nd`` and their
    context ``K``, its batch size, the requests preempted and the KV tokens swapped.
    """
    W = wait_f.shape[0]
    P = 0  # prefill tokens in this iteration
    Q = 0  # their quadratic sum, chunk × (2 × prefilled before + chunk)
    prefill_cost = 0.0  # their cost under a profile model
    profile = model[0] == PROFILE
    nd = 0  # decoding requests
    K = 0  # sum of their contexts
    nb = 0  # batch size: requests computing in this iteration
    preempted = 0  # requests preempted for this iteration's blocks (paged)
    swapped = 0  # tokens of KV swapped out or in by this iteration
    joins_decodes = False
    # Sarathi: one token per decode, the rest of the budget to FCFS prefill chunks
    if block > 0:
        n_run, n_pre, kv, preempted, swapped = make_room(
            run_i, run_f, n_run, n_pre, kv, kv_top, block, max_batch, swapping
        )
    R = budget
    for j in range(n_run):
        if run_i[_RI_PF, j] == run_i[_RI_TARGET, j]:
            nd += 1
            K += run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
            R -= 1
    nb = nd
    for j in range(n_run):
        if R <= 0:
            break
        done = run_i[_RI_PF, j]
        rem = run_i[_RI_TARGET, j] - done
        if rem > 0:
            ch = rem if rem < R else R
            run_i[_RI_CHUNK, j] = ch
            P += ch
            Q += ch * (2 * done + ch)
            if profile:
                prefill_cost += prefill_chunk_s(model, done, ch)
            R -= ch
            nb += 1
    # swapped-out requests come back when nobody was preempted, before admissions
    while swapping and preempted == 0 and n_pre > 0 and R > 0 and n_run < max_batch:
        need = resume_need(run_i, max_batch - 1, block)
        if kv + need + margin > kv_top:
            break
        swapped += kv_context(run_i, max_batch - 1)
        resume_slot(run_i, run_f, n_run, n_pre, max_batch, True)
        run_i[_RI_CHUNK, n_run] = 0
        done = run_i[_RI_PF, n_run]
        rem = run_i[_RI_TARGET, n_run] - done
        if rem == 0:
            nd += 1
            K += run_i[_RI_PROMPT, n_run] + run_i[_RI_PROD, n_run]
            R -= 1
        else:
            ch = rem if rem < R else R
            run_i[_RI_CHUNK, n_run] = ch
            P += ch
            Q += ch * (2 * done + ch)
            if profile:
                prefill_cost += prefill_chunk_s(model, done, ch)
            R -= ch
        n_pre -= 1
        n_run += 1
        kv += need
        nb += 1
    while R > 0 and n_run < max_batch:
        kind, p, o, k = _candidate(run_i, wait_i, head, nq, n_pre, max_batch, swapping, prefilled)
        if kind == _NONE:
            break
        need = _admission_kv(kind, p, o, k, block, joins_decodes)
        if kv + need + margin > kv_top:
            break
        if kind == _RESUMED:
            resume_slot(run_i, run_f, n_run, n_pre, max_batch, False)
            n_pre -= 1
        else:
            _admit(run_i, run_f, n_run, wait_i, wait_f, head, p, o, prefilled)
            head += 1
            if head == W:
                head = 0
            nq -= 1
            cnt -= 1
        if kind == _ARRIVED and prefilled:  # it decodes now: one token of the budget
            nd += 1
            K += p + 1
            R -= 1
        else:
            target = run_i[_RI_TARGET, n_run]
            ch = target if target < R else R
            run_i[_RI_CHUNK, n_run] = ch
            P += ch
            Q += ch * ch
            if profile:
                prefill_cost += prefill_chunk_s(model, 0, ch)
            R -= ch
        n_run += 1
        kv += need
        nb += 1
    return (n_run, n_pre, head, nq, cnt, kv, P, Q, prefill_cost, nd, K, nb, preempted, swapped)


@njit(cache=True)
def build_iteration(
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
):
    """The iteration of scheduler ``mode`` (0 = vLLM, 1 = Sarathi): see
    :func:`vllm_iteration` and :func:`sarathi_iteration`."""
    if mode == MODE_VLLM:
        return vllm_iteration(
            model, prefilled, max_batch, budget, block, swapping, kv_top, margin,
            run_i, run_f, wait_i, wait_f, n_run, n_pre, head, nq, cnt, kv,
        )  # fmt: skip
    return sarathi_iteration(
        model, prefilled, max_batch, budget, block, swapping, kv_top, margin,
        run_i, run_f, wait_i, wait_f, n_run, n_pre, head, nq, cnt, kv,
    )  # fmt: skip
