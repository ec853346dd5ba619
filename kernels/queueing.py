"""Inference queueing kernels: multi-server FCFS and a continuous-batching LLM replica.

The digital twin runs a *hybrid* model: a SimPy process wakes once per window (1–10 s of
simulated time) and hands that window's request arrivals, as numpy arrays, to the kernels of
this module.  Every kernel keeps the queue's state in small caller-owned arrays that are
updated in place, so a stream cut into windows gives **exactly** (bit for bit) the result of
one call over the whole stream.  Nothing here imports SimPy or the model: numpy and numba only.

Contents
--------
Multi-server FCFS (``M/G/c``-style FIFO over ``c`` identical servers)
    :func:`fcfs_multiserver`, :func:`fcfs_multiserver_limited` (queue limit and timeout),
    :func:`make_queue_state`, plain-Python twins :func:`fcfs_multiserver_ref` and
    :func:`fcfs_multiserver_limited_ref`.
Iteration-level continuous-batching replica (Orca / vLLM / Sarathi-Serve style)
    :class:`BatchingParams`, :class:`BatchingState`, :func:`batching_step`,
    :class:`BatchingReplica` (convenience owner of params, state and request ids),
    plain-Python twin :class:`BatchingReplicaRef`; an optional waiting-queue limit
    (``max_waiting``) drops arrivals that find the queue full.

The kernels live by family in :mod:`twin.kernels.fcfs`, :mod:`twin.kernels.batching`
(wrapper and owner), :mod:`twin.kernels.batching_kernel` (compiled),
:mod:`twin.kernels.batching_state` (parameters and state layout) and
:mod:`twin.kernels.batching_ref` (plain-Python twin); this module gathers their public names.

Each compiled kernel (``_*_kernel``, ``@njit(cache=True)``) does no validation and no
allocation of outputs (only an O(c) heap scratch); the public wrappers check dtypes, shapes
and preconditions, allocate missing outputs and then call the kernel.  ``kernel.py_func`` is
the same body run by the Python interpreter (used by the tests for coverage).

Units: times in seconds (float64), token counts as int64.

References
----------
.. [1] A. K. Erlang, "Solution of some problems in the theory of probabilities of
   significance in automatic telephone exchanges", *Elektroteknikeren* 13, 1917.
.. [2] L. Kleinrock, *Queueing Systems, Vol. 1: Theory*, Wiley, 1975 (M/M/c, M/G/1,
   Pollaczek–Khinchine formula).
.. [3] G.-I. Yu et al., "Orca: A Distributed Serving System for Transformer-Based Generative
   Models", OSDI 2022 (iteration-level scheduling).
.. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
   PagedAttention", SOSP 2023 (vLLM).
.. [5] A. Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
   Sarathi-Serve", OSDI 2024 (chunked prefills, stall-free batching).
"""

from __future__ import annotations

from twin.kernels.batching import BatchingReplica, batching_step
from twin.kernels.batching_ref import BatchingReplicaRef
from twin.kernels.batching_state import (
    MODE_SARATHI,
    MODE_VLLM,
    N_STATS,
    STAT_BATCH_MAX,
    STAT_BATCH_SUM,
    STAT_BUSY_S,
    STAT_COMPLETED,
    STAT_DECODE_TOKENS,
    STAT_DROPPED,
    STAT_GAP_SUM,
    STAT_GAPS,
    STAT_ITERATIONS,
    STAT_JUMPED,
    STAT_KV_MAX,
    STAT_PREEMPTIONS,
    STAT_PREFILL_TOKENS,
    STAT_RUNNING_MAX,
    BatchingParams,
    BatchingResult,
    BatchingState,
)
from twin.kernels.fcfs import (
    fcfs_multiserver,
    fcfs_multiserver_limited,
    fcfs_multiserver_limited_ref,
    fcfs_multiserver_ref,
    make_queue_state,
)

__all__ = [
    "MODE_SARATHI",
    "MODE_VLLM",
    "N_STATS",
    "STAT_BATCH_MAX",
    "STAT_BATCH_SUM",
    "STAT_BUSY_S",
    "STAT_COMPLETED",
    "STAT_DECODE_TOKENS",
    "STAT_DROPPED",
    "STAT_GAPS",
    "STAT_GAP_SUM",
    "STAT_ITERATIONS",
    "STAT_JUMPED",
    "STAT_KV_MAX",
    "STAT_PREEMPTIONS",
    "STAT_PREFILL_TOKENS",
    "STAT_RUNNING_MAX",
    "BatchingParams",
    "BatchingReplica",
    "BatchingReplicaRef",
    "BatchingResult",
    "BatchingState",
    "batching_step",
    "fcfs_multiserver",
    "fcfs_multiserver_limited",
    "fcfs_multiserver_limited_ref",
    "fcfs_multiserver_ref",
    "make_queue_state",
]
