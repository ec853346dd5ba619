"""Paged KV cache of the continuous-batching kernel: block accounting, LIFO preemption and
the preempted requests' slots (vLLM's PagedAttention scheduler [4]_, its v0 rules).

A paged replica allocates KV in blocks of ``block`` tokens as a request's context grows.
All amounts here are in tokens of whole blocks (``block == 0``: reserve, every request
holds exactly ``prompt + output`` tokens from admission to completion).  At an iteration
boundary a running request holds the blocks of ``prompt + produced`` tokens, plus one token
while its prefill is not complete (the slot of the token the prefill produces); it needs
the blocks of ``prompt + produced + 1`` to compute its next token.

Preempted requests keep their slots at the end of the running arrays, ``max_batch -
n_pre .. max_batch - 1``: the last one preempted on top (lowest index).  Recompute resumes
the top first (vLLM puts victims back at the head of the waiting queue), swap the oldest
first (vLLM's swapped queue is FIFO).

References
----------
.. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention", SOSP 2023 (vLLM).
"""

from __future__ import annotations

from twin.kernels._jit import njit
from twin.kernels.batching_state import (
    _N_RF,
    _N_RI,
    _RI_OUT,
    _RI_PF,
    _RI_PROD,
    _RI_PROMPT,
    _RI_TARGET,
)


@njit(cache=True, inline="always")
def kv_tokens(tokens, block):
    """KV tokens allocated for ``tokens`` of context: whole blocks (``block == 0``: exact)."""
    if block == 0:
        return tokens
    return (tokens + block - 1) // block * block


@njit(cache=True, inline="always")
def held_kv(run_i, j, block):
    """KV tokens slot ``j`` holds at an iteration boundary (reserve: its final footprint)."""
    prompt = run_i[_RI_PROMPT, j]
    if block == 0:
        return prompt + run_i[_RI_OUT, j]
    context = prompt + run_i[_RI_PROD, j]
    if run_i[_RI_PF, j] < run_i[_RI_TARGET, j]:
        context += 1  # the token its prefill produces
    return kv_tokens(context, block)


@njit(cache=True, inline="always")
def kv_context(run_i, j):
    """Tokens of KV slot ``j`` has computed (what a swap moves): its prefill so far, or
    ``prompt + produced`` once prefilled."""
    if run_i[_RI_PF, j] < run_i[_RI_TARGET, j]:
        return run_i[_RI_PF, j]
    return run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]


@njit(cache=True, inline="always")
def move_slot(run_i, run_f, src, dst):
    """Copy running slot ``src`` to ``dst``."""
    for r in range(_N_RI):
        run_i[r, dst] = run_i[r, src]
    for r in range(_N_RF):
        run_f[r, dst] = run_f[r, src]


@njit(cache=True)
def make_room(run_i, run_f, n_run, n_pre, kv, kv_top, block, max_batch, swapping):
    """Give every running decode (admission order) the KV of its next token, a new block
    when its context fills its last one; when the blocks run out, preempt the most recently
    admitted running request, the decode itself if it is the last (vLLM's
    ``_schedule_running``).  Requests still prefilling hold their blocks already.

    Returns ``(n_run, n_pre, kv, preempted, swapped_tokens)``: the running and preempted
    counts and KV in use after it, the requests preempted, and the tokens of KV they move
    to host memory (``swapping``; 0 when they are to be recomputed).
    """
    preempted = 0
    swapped = 0
    j = 0
    while j < n_run:
        if run_i[_RI_PF, j] == run_i[_RI_TARGET, j]:
            context = run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j]
            extra = kv_tokens(context + 1, block) - kv_tokens(context, block)
            while kv + extra > kv_top:
                last = n_run - 1
                kv -= held_kv(run_i, last, block)
                if swapping:
                    swapped += kv_context(run_i, last)
                n_pre += 1
                move_slot(run_i, run_f, last, max_batch - n_pre)
                n_run -= 1
                preempted += 1
                if last == j:
                    break
            if j < n_run:
                kv += extra
        j += 1
    return n_run, n_pre, kv, preempted, swapped


@njit(cache=True)
def resume_slot(run_i, run_f, n_run, n_pre, max_batch, swapping):
    """Move the preempted request to resume next (recompute: the last preempted, on top;
    swap: the oldest, at the bottom, rotated to the top first) into running slot ``n_run``.
    A recomputed request prefills its prompt and the tokens it produced again."""
    top = max_batch - n_pre
    if swapping and n_pre > 1:
        bottom = max_batch - 1
        for r in range(_N_RI):
            v = run_i[r, bottom]
            for s in range(bottom, top, -1):
                run_i[r, s] = run_i[r, s - 1]
            run_i[r, top] = v
        for r in range(_N_RF):
            f = run_f[r, bottom]
            for s in range(bottom, top, -1):
                run_f[r, s] = run_f[r, s - 1]
            run_f[r, top] = f
    if top != n_run:
        move_slot(run_i, run_f, top, n_run)
    if not swapping:
        run_i[_RI_PF, n_run] = 0
        run_i[_RI_TARGET, n_run] = run_i[_RI_PROMPT, n_run] + run_i[_RI_PROD, n_run]


@njit(cache=True, inline="always")
def resume_need(run_i, slot, block):
    """KV tokens the preempted request in ``slot`` needs to resume: the blocks of its
    context and next token."""
    return kv_tokens(run_i[_RI_PROMPT, slot] + run_i[_RI_PROD, slot] + 1, block)


@njit(cache=True)
def run_kv_limit(run_i, n_run, kv_top, block, m):
    """The most decode-only iterations, up to ``m``, that the ``n_run`` running requests
    can run without a preemption: iteration ``i`` needs the blocks of ``context + i + 1``
    tokens of each, and the need only grows (binary search on the run's length)."""
    if block == 0 or _run_kv(run_i, n_run, block, m) <= kv_top:
        return m
    lo, hi = 0, m  # _run_kv(lo) fits, _run_kv(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _run_kv(run_i, n_run, block, mid) <= kv_top:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def _run_kv(run_i, n_run, block, m):
    """KV tokens the running decodes hold after ``m`` more decode iterations."""
    total = 0
    for j in range(n_run):
        total += kv_tokens(run_i[_RI_PROMPT, j] + run_i[_RI_PROD, j] + m, block)
    return total
