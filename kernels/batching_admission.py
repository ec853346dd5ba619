"""Admission of the continuous-batching kernel: which request comes next (a preempted one
to recompute, or the head of the waiting queue) and the KV it is given."""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit
from twin.kernels.batching_paged import kv_tokens
from twin.kernels.batching_state import (
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
    _RI_PROMPT,
    _RI_TARGET,
    _WI_ID,
    _WI_OUT,
    _WI_PROMPT,
)


@njit(cache=True, inline="always")
def _admit(run_i, run_f, slot, wait_i, wait_f, head, prompt, output, prefilled):
    """Move the head of the waiting ring into running slot ``slot``; a prefilled request
    arrives with its prompt's KV and its first token (produced at its arrival)."""
    run_i[_RI_ID, slot] = wait_i[_WI_ID, head]
    run_i[_RI_PROMPT, slot] = prompt
    run_i[_RI_OUT, slot] = output
    run_i[_RI_CHUNK, slot] = 0
    run_i[_RI_TARGET, slot] = prompt
    arrival = wait_f[head]
    run_f[_RF_ARR, slot] = arrival
    run_f[_RF_GAP, slot] = 0.0
    run_f[_RF_SCHED, slot] = np.nan  # the kernel stamps the iteration's start
    if prefilled:
        run_i[_RI_PF, slot] = prompt
        run_i[_RI_PROD, slot] = 1
        run_f[_RF_FIRST, slot] = arrival
        run_f[_RF_LAST, slot] = arrival
    else:
        run_i[_RI_PF, slot] = 0
        run_i[_RI_PROD, slot] = 0


_NONE, _RESUMED, _ARRIVED = 0, 1, 2  # what admission would take next


@njit(cache=True, inline="always")
def _candidate(run_i, wait_i, head, nq, n_pre, max_batch, swapping, prefilled):
    """The request admission would take next, ``(kind, prompt, output, produced)``: the
    preempted request on top (recompute: it went back to the head of the waiting queue),
    else the head of the waiting queue; none while a swapped-out request waits to resume."""
    if n_pre > 0:
        if swapping:
            return _NONE, 0, 0, 0
        top = max_batch - n_pre
        return _RESUMED, run_i[_RI_PROMPT, top], run_i[_RI_OUT, top], run_i[_RI_PROD, top]
    if nq > 0:
        produced = 1 if prefilled else 0
        return _ARRIVED, wait_i[_WI_PROMPT, head], wait_i[_WI_OUT, head], produced
    return _NONE, 0, 0, 0


@njit(cache=True, inline="always")
def _admission_kv(kind, prompt, output, produced, block, joins_decodes):
    """KV tokens admission gives: the final footprint (reserve), or the blocks of the
    context and the token computed in the admission iteration (paged; a prefilled arrival
    that ``joins_decodes`` of vLLM gets its next block with them)."""
    if block == 0:
        return prompt + output
    if kind == _ARRIVED and joins_decodes:
        return kv_tokens(prompt + produced, block)
    return kv_tokens(prompt + produced + 1, block)
