"""Dealing a window's requests to a site's continuous-batching replicas, compiled.

Request ``i`` of a window goes to active replica ``(first + i) % k``, round robin; the
replica bank wants each replica's requests as one slice, in arrival order, so the requests
are laid out replica by replica. A request whose prompt and output can never fit a
replica's KV cache is dropped. Called once per llm service × site window: one compiled call
replaces the index arithmetic and gathers of a dozen numpy calls.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from twin.kernels._jit import njit

REGION_BITS = 8
"""Request ids carry their region in the low bits, so completions know where they came from."""


class Dealt(NamedTuple):
    """A window's requests laid out replica by replica (the arrays the bank steps)."""

    arrivals: np.ndarray
    """Arrival times [s], float64."""
    prompt: np.ndarray
    """Prompt tokens, int64."""
    output: np.ndarray
    """Output tokens, int64."""
    ids: np.ndarray
    """Request ids, ``(number << REGION_BITS) | region``, int64."""
    counts: np.ndarray
    """Requests of each active replica (int64, shape (k,)): consecutive slices of the above."""
    too_big: np.ndarray
    """Regions of the requests that can never fit the KV cache, dropped (int64)."""


@njit(cache=True)
def _deal_kernel(
    arrivals,
    prompt,
    output,
    regions,
    first_id,
    first,
    kv_capacity,
    out_arrivals,
    out_prompt,
    out_output,
    out_ids,
    counts,
    too_big,
):
    """Fill the ``out_*`` arrays replica by replica (``counts[k]`` each) and ``too_big``;
    returns how many requests were dealt (the rest, in ``too_big``, were dropped)."""
    n = arrivals.shape[0]
    k_active = counts.shape[0]
    o = 0
    b = 0
    for k in range(k_active):
        for i in range((k - first + k_active) % k_active, n, k_active):
            if prompt[i] + output[i] <= kv_capacity:
                out_arrivals[o] = arrivals[i]
                out_prompt[o] = prompt[i]
                out_output[o] = output[i]
                out_ids[o] = ((first_id + i) << REGION_BITS) | regions[i]
                counts[k] += 1
                o += 1
            else:
                too_big[b] = regions[i]
                b += 1
    return o


def deal(
    arrivals: np.ndarray,
    prompt: np.ndarray,
    output: np.ndarray,
    regions: np.ndarray,
    first_id: int,
    first: int,
    replicas: int,
    kv_capacity: int,
) -> Dealt:
    """Deal request ``i`` to replica ``(first + i) % replicas``, numbered from ``first_id``.

    Parameters
    ----------
    arrivals : numpy.ndarray of float64, shape (n,)
        Arrival times [s], sorted.
    prompt, output : numpy.ndarray of int64, shape (n,)
        Tokens of each request.
    regions : numpy.ndarray of int64, shape (n,)
        Region of each request, below ``2 ** REGION_BITS``.
    first_id : int
        Number of the window's first request.
    first : int
        The replica the first request goes to, in ``[0, replicas)``.
    replicas : int
        Active replicas, at least one.
    kv_capacity : int
        KV-cache tokens of a replica: a request needs prompt + output of them.
    """
    n = arrivals.shape[0]
    out_arrivals = np.empty(n)
    out_prompt = np.empty(n, dtype=np.int64)
    out_output = np.empty(n, dtype=np.int64)
    out_ids = np.empty(n, dtype=np.int64)
    counts = np.zeros(replicas, dtype=np.int64)
    too_big = np.empty(n, dtype=np.int64)
    m = _deal_kernel(
        arrivals,
        prompt,
        output,
        regions,
        first_id,
        first,
        kv_capacity,
        out_arrivals,
        out_prompt,
        out_output,
        out_ids,
        counts,
        too_big,
    )
    return Dealt(
        out_arrivals[:m], out_prompt[:m], out_output[:m], out_ids[:m], counts, too_big[: n - m]
    )


def deal_ref(
    arrivals: np.ndarray,
    prompt: np.ndarray,
    output: np.ndarray,
    regions: np.ndarray,
    first_id: int,
    first: int,
    replicas: int,
    kv_capacity: int,
) -> Dealt:
    """Plain numpy twin of :func:`deal`: the request indices laid out as the columns of a
    (rows × replicas) grid."""
    n = len(arrivals)
    ids = ((first_id + np.arange(n, dtype=np.int64)) << REGION_BITS) | regions
    rows = -(-(first + n) // replicas)
    grid = np.arange(rows * replicas, dtype=np.int64).reshape(rows, replicas)
    order = grid.T.ravel() - first
    order = order[(order >= 0) & (order < n)]
    fits = prompt[order] + output[order] <= kv_capacity
    too_big = regions[order[~fits]]
    order = order[fits]
    counts = np.bincount((order + first) % replicas, minlength=replicas)
    return Dealt(arrivals[order], prompt[order], output[order], ids[order], counts, too_big)
