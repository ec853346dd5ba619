"""The continuous-batching replicas of one service at one site, stepped in one compiled call.

A :class:`ReplicaBank` stacks the carried state of up to ``capacity`` replicas (the arrays of
:class:`~twin.kernels.batching_state.BatchingState` with a leading replica axis) and
:meth:`ReplicaBank.step` advances any set of them to a window's end in one compiled call.
The replicas are independent, so a call with enough work runs them on numba's threads side
by side (``NUMBA_NUM_THREADS``, default every core; see :data:`PARALLEL_MIN_REQUESTS`), and
the results do not depend on how many threads there are. Each replica computes exactly what a
:class:`~twin.kernels.batching.BatchingReplica` with the same parameters computes (the same
compiled kernel runs on its slice of the bank).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from twin.kernels._jit import njit, prange
from twin.kernels.batching_kernel import _batching_kernel
from twin.kernels.batching_state import (
    _N_O,
    _N_RF,
    _N_RI,
    _N_S,
    _N_WI,
    _RI_ID,
    _S_NPRE,
    _S_NRUN,
    _S_WCOUNT,
    _S_WHEAD,
    _S_WQUEUED,
    _T_LASTARR,
    _T_UNTIL,
    _WI_ID,
    N_STATS,
    BatchingParams,
    BatchingResult,
    _validate_params,
)
from twin.kernels.sketch import BUCKETS


def _bank_body(
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
    slots,
    scal,
    tstate,
    run_i,
    run_f,
    wait_i,
    wait_f,
    stats,
    tbt,
    new_id,
    new_arr,
    new_prompt,
    new_out,
    counts,
    until_s,
):
    """Advance the replicas ``slots`` (bank rows) to ``until_s``: replica ``k`` of the call
    takes the next ``counts[k]`` arrivals. Returns the completions (ids, and the five float
    rows of :class:`~twin.kernels.batching_state.BatchingResult`) and the drops of every
    replica, one replica after the other, and each replica's numbers of them.
    Semantics of each replica: :func:`twin.kernels.batching_step`."""
    n_slots = slots.shape[0]
    in_start = np.zeros(n_slots + 1, dtype=np.int64)
    out_start = np.zeros(n_slots + 1, dtype=np.int64)
    drop_start = np.zeros(n_slots + 1, dtype=np.int64)
    for j in range(n_slots):
        slot = slots[j]
        waiting = scal[slot, _S_WCOUNT]
        in_start[j + 1] = in_start[j] + counts[j]
        # completions each can report: running, preempted, waiting, new; drops: those not
        # queued yet
        held = scal[slot, _S_NRUN] + scal[slot, _S_NPRE]
        out_start[j + 1] = out_start[j] + held + waiting + counts[j]
        drop_start[j + 1] = drop_start[j] + waiting - scal[slot, _S_WQUEUED] + counts[j]
    out_id = np.empty(out_start[n_slots], dtype=np.int64)
    out_f = np.empty((_N_O, out_start[n_slots]))
    out_drop = np.empty(drop_start[n_slots], dtype=np.int64)
    done = np.zeros(n_slots, dtype=np.int64)
    dropped = np.zeros(n_slots, dtype=np.int64)
    for k in prange(n_slots):
        r = slots[k]
        lo, hi = in_start[k], in_start[k + 1]
        o, d = out_start[k], drop_start[k]
        n_done, n_drop = _batching_kernel(
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
            scal[r],
            tstate[r],
            run_i[r],
            run_f[r],
            wait_i[r],
            wait_f[r],
            new_id[lo:hi],
            new_arr[lo:hi],
            new_prompt[lo:hi],
            new_out[lo:hi],
            until_s,
            out_id[o:],
            out_f[:, o:],
            out_drop[d:],
            stats[r],
            tbt[r],
        )
        done[k] = n_done
        dropped[k] = n_drop
        tstate[r, _T_UNTIL] = until_s
        if hi > lo:
            tstate[r, _T_LASTARR] = new_arr[hi - 1]
    o = 0
    d = 0
    for k in range(slots.shape[0]):  # each moves left or stays: safe in place, in order
        for i in range(out_start[k], out_start[k] + done[k]):
            out_id[o] = out_id[i]
            for row in range(out_f.shape[0]):
                out_f[row, o] = out_f[row, i]
            o += 1
        for i in range(drop_start[k], drop_start[k] + dropped[k]):
            out_drop[d] = out_drop[i]
            d += 1
    return out_id[:o], out_f[:, :o], out_drop[:d], done, dropped


_bank_kernel = njit(cache=True)(_bank_body)
_bank_kernel_parallel = njit(cache=True, parallel=True)(_bank_body)
PARALLEL_MIN_REQUESTS = 4000
"""A call with fewer new requests than this runs its replicas one after another: below it,
starting numba's threads costs more than they save (and on a busy machine far more)."""


class ReplicaBank:
    """The carried state of up to ``capacity`` replicas with the same parameters.

    Slots are handed out by :meth:`add` and given back by :meth:`remove` (the slot's state is
    cleared when it is handed out again); :meth:`step` advances any list of slots.
    """

    def __init__(
        self,
        params: BatchingParams,
        capacity: int = 4,
        waiting_capacity: int = 256,
    ):
        self.params = _validate_params(params)
        self._free: list[int] = []
        self.size = 0
        """Slots handed out so far (used or free)."""
        self._allocate(max(int(capacity), 1), max(int(waiting_capacity), 1))

    # ------------------------------------------------------------ slots

    def _allocate(self, capacity: int, waiting: int) -> None:
        batch = self.params.max_batch
        self.scal = np.zeros((capacity, _N_S), dtype=np.int64)
        self.time = np.full((capacity, 3), -math.inf)
        self.run_i = np.zeros((capacity, _N_RI, batch), dtype=np.int64)
        self.run_f = np.zeros((capacity, _N_RF, batch))
        self.wait_i = np.zeros((capacity, _N_WI, waiting), dtype=np.int64)
        self.wait_f = np.zeros((capacity, waiting))
        self.stats = np.zeros((capacity, N_STATS))
        self.tbt = np.zeros((capacity, BUCKETS), dtype=np.int64)

    @property
    def capacity(self) -> int:
        return self.scal.shape[0]

    def add(self) -> int:
        """A slot for a new replica, its state cleared (idle, nothing queued, no stats)."""
        if self._free:
            slot = self._free.pop()
        else:
            if self.size == self.capacity:
                self._grow_slots(2 * self.capacity)
            slot = self.size
            self.size += 1
        self.scal[slot] = 0
        self.time[slot] = -math.inf
        self.stats[slot] = 0.0
        self.tbt[slot] = 0
        return slot

    def remove(self, slot: int) -> None:
        """Give a slot back (its replica is gone); it may be handed out again."""
        self._free.append(slot)

    def _grow_slots(self, capacity: int) -> None:
        old = self._arrays()
        self._allocate(capacity, self.wait_f.shape[1])
        for new, previous in zip(self._arrays(), old, strict=True):
            new[: previous.shape[0]] = previous

    def _arrays(self) -> tuple[np.ndarray, ...]:
        """Every per-slot array of the bank."""
        return (
            self.scal,
            self.time,
            self.run_i,
            self.run_f,
            self.wait_i,
            self.wait_f,
            self.stats,
            self.tbt,
        )

    def _reserve_waiting(self, needed: int) -> None:
        """Grow every waiting ring (unrolled to head 0) so each holds ``needed`` entries."""
        width = self.wait_f.shape[1]
        if needed <= width:
            return
        new_width = max(2 * width, needed)
        wait_i = np.zeros((self.capacity, _N_WI, new_width), dtype=np.int64)
        wait_f = np.zeros((self.capacity, new_width))
        for slot in range(self.size):
            head, count = int(self.scal[slot, _S_WHEAD]), int(self.scal[slot, _S_WCOUNT])
            ring = (head + np.arange(count)) % width
            wait_i[slot, :, :count] = self.wait_i[slot][:, ring]
            wait_f[slot, :count] = self.wait_f[slot, ring]
            self.scal[slot, _S_WHEAD] = 0
        self.wait_i, self.wait_f = wait_i, wait_f

    # ------------------------------------------------------------ per replica

    def n_running(self, slot: int) -> int:
        return int(self.scal[slot, _S_NRUN])

    def n_waiting(self, slot: int) -> int:
        """Requests not running (queued, pending until the next boundary, or preempted)."""
        return int(self.scal[slot, _S_WCOUNT] + self.scal[slot, _S_NPRE])

    def n_preempted(self, slot: int) -> int:
        """Requests preempted (paged KV) and not resumed yet."""
        return int(self.scal[slot, _S_NPRE])

    def in_system(self, slots: list[int]) -> int:
        """Requests running, preempted or waiting in the replicas ``slots``, together."""
        held = self.scal[slots]
        return int(held[:, _S_NRUN].sum() + held[:, _S_NPRE].sum() + held[:, _S_WCOUNT].sum())

    def n_queued(self, slot: int) -> int:
        """Requests in the waiting queue (taken in, not admitted): what ``max_waiting`` bounds."""
        return int(self.scal[slot, _S_WQUEUED])

    def request_ids(self, slot: int) -> np.ndarray:
        """The ids of the requests in the replica ``slot``: running, preempted, then
        waiting (int64)."""
        running = self.run_i[slot, _RI_ID, : int(self.scal[slot, _S_NRUN])]
        preempted = self.run_i[slot, _RI_ID, self.params.max_batch - self.n_preempted(slot) :]
        head, count = int(self.scal[slot, _S_WHEAD]), int(self.scal[slot, _S_WCOUNT])
        ring = (head + np.arange(count)) % self.wait_f.shape[1]
        return np.concatenate([running, preempted, self.wait_i[slot, _WI_ID][ring]])

    def last_arrival(self, slot: int) -> float:
        """The arrival time of the last request the replica was given."""
        return float(self.time[slot, _T_LASTARR])

    # ------------------------------------------------------------ stepping

    def step(
        self,
        slots: list[int],
        counts: np.ndarray,
        arrivals: np.ndarray,
        prompt: np.ndarray,
        output: np.ndarray,
        ids: np.ndarray,
        until_s: float,
    ) -> BankStep:
        """Advance ``slots`` to ``until_s``; slot ``slots[k]`` takes the next ``counts[k]``
        requests of the (float64 / int64) arrays, which must satisfy the checks of
        :func:`twin.kernels.batching_step` (not repeated here). The completions and drops of
        every slot in one result, slot after slot."""
        index = np.asarray(slots, dtype=np.int64)
        if len(slots):
            self._reserve_waiting(int((self.scal[index, _S_WCOUNT] + counts).max()))
        p = self.params
        kernel = _bank_kernel
        if len(slots) > 1 and len(arrivals) >= PARALLEL_MIN_REQUESTS:  # the same either way
            kernel = _bank_kernel_parallel
        out_id, out_f, out_drop, done, dropped = kernel(
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
            index,
            self.scal,
            self.time,
            self.run_i,
            self.run_f,
            self.wait_i,
            self.wait_f,
            self.stats,
            self.tbt,
            ids,
            arrivals,
            prompt,
            output,
            np.asarray(counts, dtype=np.int64),
            float(until_s),
        )
        result = BatchingResult(out_id, *out_f, out_drop)
        return BankStep(result, done, dropped)

    def take_tbt(self, slots: list[int]) -> np.ndarray:
        """The gaps between tokens the replicas ``slots`` counted since the last call, as
        one dense histogram (int64, BUCKETS long); they start counting afresh."""
        index = np.asarray(slots, dtype=np.int64)
        dense = self.tbt[index].sum(axis=0)
        self.tbt[index] = 0
        return dense


class BankStep(NamedTuple):
    """What one :meth:`ReplicaBank.step` did."""

    result: BatchingResult
    """The completions and drops of every slot stepped, slot after slot."""
    done: np.ndarray
    """Completions of each slot (int64, one per slot, in the order of the call)."""
    dropped: np.ndarray
    """Drops of each slot (int64)."""
