"""Continuous-batching LLM replica: the public wrapper :func:`batching_step` and the owner
class :class:`BatchingReplica` (parameters, state and request ids of one replica).
"""

from __future__ import annotations

import math

import numpy as np
from twin.kernels._checks import (
    _as_f64,
    _as_i64,
    _raise_scan,
    _scan_requests,
)
from twin.kernels.batching_kernel import _batching_kernel
from twin.kernels.batching_state import (
    _N_O,
    _S_NPRE,
    _S_NRUN,
    _S_WCOUNT,
    _S_WQUEUED,
    _T_LASTARR,
    _T_UNTIL,
    BatchingParams,
    BatchingResult,
    BatchingState,
    _validate_params,
)

# ============================================================================================
# Continuous-batching LLM replica: public wrapper and owner class
# ============================================================================================

_TOO_BIG = 6
"""The code :func:`~twin.kernels._checks._scan_requests` gives a request too big to serve."""


def _check_batch_arrivals(
    p: BatchingParams, t_last_until, t_last_arr, arrivals, prompt, out, check=True
):
    arrivals = _as_f64("arrivals", arrivals)
    prompt = _as_i64("prompt_tokens", prompt)
    out = _as_i64("output_tokens", out)
    n = arrivals.shape[0]
    if prompt.shape[0] != n or out.shape[0] != n:
        raise ValueError("arrivals, prompt_tokens and output_tokens must have equal lengths")
    if n and check:
        t_min = max(float(t_last_until), float(t_last_arr))
        code = _scan_requests(arrivals, prompt, out, p.request_capacity_tokens, t_min)
        if code == _TOO_BIG and p.kv_block_tokens > 0:
            raise ValueError(
                "a request's prompt + output tokens exceed the whole KV blocks beyond the "
                f"watermark ({p.request_capacity_tokens} tokens of kv_capacity_tokens)"
            )
        _raise_scan(code)
        if p.prefilled and int(out.min()) < 2:
            raise ValueError("a prefilled request has its first token: output_tokens >= 2")
    return arrivals, prompt, out


def batching_step(
    params: BatchingParams,
    state: BatchingState,
    arrivals,
    prompt_tokens,
    output_tokens,
    until_s: float,
    ids=None,
    *,
    check: bool = True,
) -> BatchingResult:
    """Advance a continuous-batching LLM replica to ``until_s`` with one window's arrivals.

    Iteration-level scheduling [3]_: the replica runs *iterations* back to back; at each
    iteration boundary (clock ``T``) the scheduler looks at the requests that arrived by
    ``T`` and builds the next iteration, whose duration is

        ``t_iter = c0 + c_pf * P + c_b * D + c_kv * K``

    with ``P`` the prompt tokens prefilled in the iteration, ``D`` the number of decoding
    requests and ``K`` the sum of their contexts (``prompt + tokens produced so far``).
    A prefill-only iteration costs ``c0 + c_pf * P``; a decode-only one
    ``c0 + c_b * D + c_kv * K``.  ``params.iteration`` may replace this line by a packed
    model of :mod:`twin.kernels.iteration_time`: the line with a prefill intercept, a
    quadratic (attention) prefill term and a tensor-parallel communication term, or a
    measured profile interpolated per kind of iteration.

    Taking in and the waiting-queue limit: a request joins the replica's *waiting queue* at
    the first iteration boundary ``T >= arrival`` (or at its arrival when the replica is
    idle); at each boundary the arrivals with ``arrival <= T`` are taken in, in arrival order,
    *before* that boundary's admissions.  A request taken in when the queue already holds
    ``max_waiting`` requests is dropped (reported in ``dropped_ids``, counted in
    ``STAT_DROPPED``).  Since admissions happen only at boundaries, the queue a request finds
    when it is taken in is exactly the one at its arrival instant: the requests queued at the
    previous boundary and not admitted there, plus the earlier arrivals since then that were
    not dropped (an arrival exactly at a boundary counts before that boundary's admissions).
    So the queue never holds more than ``max_waiting`` requests; running requests do not
    count, and simultaneous arrivals queue one behind the other even at an idle replica (so
    ``max_waiting = 0`` drops everything).  ``max_waiting < 0`` means no limit.

    Admission (both modes) is FCFS from the head of the waiting queue while the running set
    has fewer than ``max_batch`` requests and the KV allows; head of line blocking is FCFS:
    a request that does not fit stops admission.  The KV rule is ``kv_admission``:

    * reserve (``kv_block_tokens = 0``, default): ``kv_used + prompt + output <=
      kv_capacity_tokens``: the full final KV footprint is reserved at admission, so no
      request is ever preempted (conservative vs vLLM's paged allocation [4]_).
    * paged (``kv_block_tokens = b > 0``, vLLM v0's block manager and scheduler [4]_): the
      cache is ``B = kv_capacity_tokens // b`` blocks.  A request holds the blocks of its
      context (``prompt + produced``), plus one token while it prefills (the token its
      prefill produces).  Admission gives it the blocks of ``prompt + 1`` (a prefilled
      arrival: of ``prompt + 2`` under Sarathi, of ``prompt + 1`` under vLLM, whose decode
      step then adds its next block) and must leave a watermark of ``B // 100`` blocks free
      (vLLM's ``watermark = 0.01``).  Every decode needs the blocks of ``context + 1``: a
      new block when its context fills its last one.  Running requests get their blocks
      first, in admission order; when one cannot, the most recently admitted running
      request is preempted (vLLM's LIFO victim; the request itself if it is the last), until
      it fits, so the earliest running request always progresses.  Preemption
      (``swap_s_per_token``): *recompute* (negative, default) frees the victim's blocks and
      puts it back at the head of the waiting queue (the last preempted first); re-admitted,
      it prefills ``prompt + produced`` tokens again as one ordinary prefill (cost and
      ``STAT_PREFILL_TOKENS`` as any prefill; its end produces the next token) and goes on
      decoding; *swap* (``>= 0``) moves its computed KV (``prompt + produced``, or the
      tokens prefilled so far) to host memory and back, each way adding ``swap_s_per_token``
      per token to the iteration that preempts or resumes it (vLLM v0 copies before the
      forward pass); swapped requests resume oldest first, in an iteration that preempted
      nobody (beside the decodes; Sarathi: before new admissions, with the budget), and
      nothing new is admitted while one is swapped out.  A preempted request keeps its
      arrival, first-token time (TTFT) and token gaps (the gap across its preemption counts).
      A paged replica serves requests with ``prompt + output <= (B - B // 100) * b`` (so one
      admitted alone always completes).  Simplified: vLLM v1's rules, prefix caching,
      copy-on-write, swap/compute overlap, and the ``NEVER`` class (checked at input instead).

    * ``vllm`` (mode 0) [4]_: if at least one request can be admitted, the iteration is
      prefill-only over the full prompts of *all* requests admitted now (with
      ``token_budget > 0``, admission also stops when the summed prompts would exceed it;
      the first one always goes); running decodes stall.  Otherwise one decode iteration
      over all running requests.
    * ``sarathi`` (mode 1) [5]_: each iteration holds one decode token for every running
      request whose prefill is complete, and the rest of ``token_budget`` goes to prefill
      chunks, FCFS: first the running requests with prompt left, then newly admitted ones
      (admission only while budget is left).  Decodes never stall, so (without preemption)
      the gap between two tokens of a request is one iteration, bounded by
      ``c0 + max(c_pf, c_b) * token_budget + c_kv * kv_capacity_tokens``.

    Event skipping jumps decode-only runs only while no admission, resume or preemption
    can happen in them (paged: up to the iteration whose blocks would not fit).

    Tokens: a request's first output token is produced at the end of the iteration that
    completes its prefill (TTFT = that time - arrival); each later iteration in which it
    decodes produces one more token; it completes with its ``output_tokens``-th token (at
    the prefill end if ``output_tokens == 1``) and releases its slot and KV reservation.
    TPOT = (finish - first token) / (output_tokens - 1), NaN if ``output_tokens == 1``.

    Windows: iterations *start* only at ``T < until_s``; the one running at ``until_s`` ends
    after it (the clock overruns) and the next call resumes from the clock.  Requests that
    arrive during an iteration are seen at its end (iteration boundary).  When nothing is
    running or admissible the clock jumps to the next queued arrival (idle).  Arrivals of a
    call must not precede the previous call's ``until_s`` nor its last arrival; they may
    lie after ``until_s`` (they wait in the queue).  Under these rules any split of a stream
    into windows gives bit-identical results and statistics to a single call with
    ``until_s = inf``; requests in flight at ``until_s`` stay in ``state`` and are reported
    by the call in which they complete.

    Parameters
    ----------
    params : BatchingParams
        Coefficients [s, s/token, s/request, s/token] and limits.
    state : BatchingState
        Carried state, updated in place.
    arrivals : array_like of float64, shape (n,)
        Arrival times [s], sorted ascending.
    prompt_tokens, output_tokens : array_like of int64, shape (n,)
        Prompt and output lengths [tokens], ``>= 1``, ``prompt + output <=
        params.request_capacity_tokens`` (the KV capacity, or paged its blocks beyond the
        watermark).
    until_s : float
        Window end [s], non-decreasing across calls (``inf`` = run to completion).
    ids : array_like of int64, shape (n,), optional
        Global request ids (default ``0..n-1``; :class:`BatchingReplica` numbers them).
    check : bool, default True
        Validate the arrivals (sorted, finite, not before the previous window, token counts
        ``>= 1`` and fitting the KV cache): an O(n) pass.  ``False`` is for callers that
        generate valid inputs; the kernel never checks, and invalid inputs then give
        undefined results.

    Returns
    -------
    BatchingResult
        Requests completed in this call, in completion order, and the ids of the requests
        dropped by the waiting-queue limit in this call.  ``state.stats`` accumulates
        iteration statistics (``STAT_*``); mean batch size is
        ``stats[STAT_BATCH_SUM] / stats[STAT_ITERATIONS]``.

    References
    ----------
    .. [3] G.-I. Yu et al., "Orca: A Distributed Serving System for Transformer-Based
       Generative Models", OSDI 2022.
    .. [4] W. Kwon et al., "Efficient Memory Management for Large Language Model Serving with
       PagedAttention", SOSP 2023.
    .. [5] A. Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
       Sarathi-Serve", OSDI 2024.
    """
    return _step(
        _validate_params(params),
        state,
        arrivals,
        prompt_tokens,
        output_tokens,
        until_s,
        ids,
        check,
    )


def _step(p, state, arrivals, prompt_tokens, output_tokens, until_s, ids, check=True):
    """:func:`batching_step` with already validated parameters ``p``."""
    if state.run_i.shape[1] != p.max_batch:
        raise ValueError("state was built for another max_batch")
    until = float(until_s)
    tstate = state.time
    if math.isnan(until) or until < tstate[_T_UNTIL]:
        raise ValueError("until_s must be non-decreasing across calls")
    arrivals, prompt, out = _check_batch_arrivals(
        p, tstate[_T_UNTIL], tstate[_T_LASTARR], arrivals, prompt_tokens, output_tokens, check
    )
    n = arrivals.shape[0]
    if ids is None:
        ids = np.arange(n, dtype=np.int64)
    else:
        ids = _as_i64("ids", ids)
        if ids.shape[0] != n:
            raise ValueError("ids must have the length of arrivals")
    scal = state.scal
    n_wait = scal.item(_S_WCOUNT)
    if n_wait + n > state.wait_f.shape[0]:
        state.reserve_waiting(n_wait + n)
    m = scal.item(_S_NRUN) + scal.item(_S_NPRE) + n_wait + n
    o_id = np.empty(m, dtype=np.int64)
    o_f = np.empty((_N_O, m), dtype=np.float64)
    o_drop = np.empty(n_wait - scal.item(_S_WQUEUED) + n, dtype=np.int64)
    k, d = _batching_kernel(
        p.mode,
        p.iteration,
        p.prefilled,
        p.max_batch,
        p.kv_capacity_tokens,
        p.token_budget,
        p.max_waiting,
        p.event_skipping,
        p.kv_block_tokens,
        p.swap_s_per_token,
        scal,
        tstate,
        state.run_i,
        state.run_f,
        state.wait_i,
        state.wait_f,
        ids,
        arrivals,
        prompt,
        out,
        until,
        o_id,
        o_f,
        o_drop,
        state.stats,
        state.tbt,
    )
    tstate[_T_UNTIL] = until
    if n:
        tstate[_T_LASTARR] = arrivals[-1]
    return BatchingResult(o_id[:k], *o_f[:, :k], o_drop[:d])


class BatchingReplica:
    """One LLM replica: owns its :class:`BatchingParams`, :class:`BatchingState` and ids.

    Parameters
    ----------
    mode : {"vllm", "sarathi"} or int
    c0, c_pf, c_b, c_kv : float
        Iteration-time coefficients (see :func:`batching_step`).
    max_batch : int
    kv_capacity_tokens : int
    token_budget : int, default 0
    waiting_capacity : int, default 1024
        Initial waiting-ring capacity (grows on demand).
    max_waiting : int, default -1
        Waiting-queue limit (keyword only; ``-1`` or None = none), see :func:`batching_step`.
    event_skipping : bool, default True
        Jump over decode-only runs in closed form (keyword only); ``False`` steps every
        iteration.
    iteration : numpy.ndarray, optional
        A packed iteration-time model (keyword only) in place of the four coefficients.
    prefilled : bool, default False
        Every arrival brings its prompt's KV cache and first token (keyword only).
    kv_block_tokens : int, default 0
        Paged KV in blocks of this many tokens (keyword only); 0 reserves the full footprint.
    swap_s_per_token : float, default -1
        Paged preemption by swap at this many seconds per KV token each way (keyword
        only); negative recomputes.

    Examples
    --------
    >>> r = BatchingReplica("sarathi", 0.01, 1e-4, 1e-4, 1e-7, 32, 100_000, 512)
    >>> res = r.step([0.0, 0.5], [100, 200], [10, 20], until_s=1.0)
    """

    def __init__(
        self,
        mode,
        c0,
        c_pf,
        c_b,
        c_kv,
        max_batch,
        kv_capacity_tokens,
        token_budget=0,
        waiting_capacity=1024,
        *,
        max_waiting=-1,
        event_skipping=True,
        iteration=None,
        prefilled=False,
        kv_block_tokens=0,
        swap_s_per_token=-1.0,
    ):
        self.params = _validate_params(
            BatchingParams(
                mode,
                c0,
                c_pf,
                c_b,
                c_kv,
                max_batch,
                kv_capacity_tokens,
                token_budget,
                max_waiting,
                event_skipping,
                iteration,
                prefilled,
                kv_block_tokens,
                swap_s_per_token,
            )
        )
        self.state = BatchingState(self.params.max_batch, waiting_capacity)
        self.next_id = 0

    def step(
        self, arrivals, prompt_tokens, output_tokens, until_s, ids=None, *, check=True
    ) -> BatchingResult:
        """Advance to ``until_s`` (see :func:`batching_step`); ids default to a counter."""
        if ids is None:
            n = np.shape(arrivals)[0]
            ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
            self.next_id += n
        return _step(
            self.params, self.state, arrivals, prompt_tokens, output_tokens, until_s, ids, check
        )

    @property
    def stats(self) -> np.ndarray:
        """Accumulated statistics, float64 shape (N_STATS,), indexed by ``STAT_*``."""
        return self.state.stats


# --------------------------------------------------------------------------------------------
# Continuous-batching plain-Python reference twin
# --------------------------------------------------------------------------------------------
