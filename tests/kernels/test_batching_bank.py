"""A bank of replicas computes what the same replicas stepped one by one compute, bit for bit,
whichever path (serial or on numba's threads) a call takes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from twin.kernels import batching_bank
from twin.kernels.batching import BatchingReplica
from twin.kernels.batching_bank import ReplicaBank
from twin.kernels.batching_state import BatchingParams

PARAMS = ("sarathi", 0.0115, 3.5e-5, 3.5e-5, 1.75e-8, 32, 60_000, 512)


def _window(rng, start, until, counts):
    arrivals = [np.sort(rng.uniform(start, until, c)) for c in counts]
    prompts = [rng.integers(1, 3000, c) for c in counts]
    outputs = [rng.integers(1, 400, c) for c in counts]
    return arrivals, prompts, outputs


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("max_waiting", [-1, 20])
def test_bank_equals_replicas_stepped_one_by_one(parallel, max_waiting, monkeypatch):
    if parallel:
        monkeypatch.setattr(batching_bank, "PARALLEL_MIN_REQUESTS", 0)  # always on threads
    rng = np.random.default_rng(3)
    bank = ReplicaBank(BatchingParams(*PARAMS, max_waiting), capacity=1, waiting_capacity=4)
    slots = [bank.add() for _ in range(3)]
    alone = [BatchingReplica(*PARAMS, max_waiting=max_waiting) for _ in slots]
    start, next_id = 0.0, 0
    for window in range(40):
        until = start + 7.5
        counts = rng.poisson(12 if window < 30 else 0, len(slots))  # then they drain
        arrivals, prompts, outputs = _window(rng, start, until, counts)
        ids = [np.arange(next_id, next_id + c) for c in counts]
        next_id += int(counts.sum())
        got = bank.step(
            slots,
            counts,
            np.concatenate(arrivals),
            np.concatenate(prompts),
            np.concatenate(outputs),
            np.concatenate(ids),
            until,
        )
        wants = [
            replica.step(arrivals[k], prompts[k], outputs[k], until, ids[k])
            for k, replica in enumerate(alone)
        ]
        for mine, *theirs in zip(got.result, *wants, strict=True):  # slot after slot
            np.testing.assert_array_equal(mine, np.concatenate(theirs))
        np.testing.assert_array_equal(got.done, [len(want.ids) for want in wants])
        np.testing.assert_array_equal(got.dropped, [len(want.dropped_ids) for want in wants])
        start = until
    for slot, replica in zip(slots, alone, strict=True):
        np.testing.assert_array_equal(bank.stats[slot], replica.stats)
        assert bank.n_running(slot) == replica.state.n_running
        assert bank.n_waiting(slot) == replica.state.n_waiting
    assert bank.wait_f.shape[1] > 4 and bank.capacity >= 3  # rings and slots grew


def test_a_reused_slot_starts_empty():
    bank = ReplicaBank(BatchingParams(*PARAMS))
    first = bank.add()
    bank.step(
        [first],
        np.array([3]),
        np.array([0.0, 0.1, 0.2]),
        np.array([10, 10, 10]),
        np.array([5, 5, 5]),
        np.array([0, 1, 2]),
        0.05,
    )
    assert bank.n_running(first) + bank.n_waiting(first) > 0 and bank.stats[first].any()
    bank.remove(first)
    again = bank.add()
    assert again == first
    assert bank.n_running(again) == bank.n_waiting(again) == 0
    assert not bank.stats[again].any() and bank.last_arrival(again) == -math.inf


def test_requests_in_system_are_those_running_or_waiting():
    bank = ReplicaBank(BatchingParams(*PARAMS))
    slots = [bank.add(), bank.add()]
    arrivals = np.array([0.0, 0.1, 0.2, 0.0, 0.3])
    tokens = np.array([10, 10, 10, 10, 10])
    bank.step(slots, np.array([3, 2]), arrivals, tokens, tokens, np.arange(5), 0.05)
    each = [bank.n_running(s) + bank.n_waiting(s) for s in slots]
    assert bank.in_system(slots) == sum(each) and bank.in_system(slots[1:]) == each[1]
    assert bank.in_system([]) == 0
