"""Time between tokens (TBT) of the continuous-batching kernel, counted as it happens.

Every output token after a request's first closes a *gap*: the time since that request's
previous token (one iteration, or longer across a vLLM prefill stall, a preemption or a
swap). The kernel counts each gap into a dense log-bucket histogram per demand region of
the replica (the sketch layout of :mod:`twin.kernels.sketch`), ``tbt[region, bucket]``,
with the request's region read from its id (``id & region_mask``). A cell's first count
appends its flat index ``region * BUCKETS + bucket`` to ``touched`` (``scal[_S_NTBT]``
entries), so that a caller reads and clears only the cells a window touched instead of the
whole histogram. Gaps are token-level: a window's TBT sketch holds the gaps of the tokens
produced in it, by requests that may complete later.
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit
from twin.kernels.batching_state import _RI_ID, _S_NTBT, STAT_GAP_SUM, STAT_GAPS
from twin.kernels.sketch import BUCKETS, GAMMA, INDEX_MAX, INDEX_MIN, LOG_GAMMA, _bucket


@njit(cache=True, inline="always")
def count_gaps(tbt, touched, scal, stats, region, bucket, gap_s, count):
    """Count ``count`` gaps of ``gap_s`` seconds, all in ``bucket`` (offset from
    ``INDEX_MIN``), for ``region``."""
    if tbt[region, bucket] == 0:
        touched[scal[_S_NTBT]] = region * BUCKETS + bucket
        scal[_S_NTBT] += 1
    tbt[region, bucket] += count
    stats[STAT_GAPS] += count
    stats[STAT_GAP_SUM] += gap_s * count


@njit(cache=True, inline="always")
def gap_bucket(gap_s):
    """The histogram column (bucket offset from ``INDEX_MIN``) of a gap [s]."""
    return _bucket(gap_s, LOG_GAMMA, INDEX_MIN, INDEX_MAX) - INDEX_MIN


@njit(cache=True)
def count_progression(tbt, touched, scal, stats, run_i, n_run, region_mask, a, b, first, last):
    """Count, for each of the ``n_run`` running requests, the gaps ``a + b·i`` of the
    iterations ``i = first .. last`` of a jumped decode run (``b >= 0``: the gaps grow).

    The progression is cut where it crosses a bucket boundary, so the work is the buckets
    it spans times ``n``, not its length; each piece is counted as the stepped iterations
    would count it (the bucket of every term), and the sum of its gaps exactly.
    Stepped iterations compute each gap as a difference of clock times, so a term within
    rounding of a bucket boundary may fall into the neighbouring bucket there.
    """
    i = first
    while i <= last:
        value = a + b * i
        bucket = gap_bucket(value)
        hi = last
        if b > 0.0 and bucket + INDEX_MIN < INDEX_MAX:
            upper = GAMMA ** (bucket + INDEX_MIN)  # bucket holds (upper / GAMMA, upper]
            guess = int((upper - a) / b)
            hi = min(max(guess, i), last)
            while hi < last and gap_bucket(a + b * (hi + 1)) == bucket:
                hi += 1
            while hi > i and gap_bucket(a + b * hi) != bucket:
                hi -= 1
        count = hi - i + 1
        mean = a + b * 0.5 * (i + hi)
        for j in range(n_run):
            region = run_i[_RI_ID, j] & region_mask
            count_gaps(tbt, touched, scal, stats, region, bucket, mean, count)
        i = hi + 1


@njit(cache=True)
def take_touched(tbt, touched, scal, slots):
    """The cells the replicas ``slots`` counted into since the last call, as flat keys
    ``region * BUCKETS + bucket`` and their counts (int64; one entry per replica and cell,
    replica after replica), each cell cleared for the next window."""
    n = 0
    for k in range(slots.shape[0]):
        n += scal[slots[k], _S_NTBT]
    keys = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    o = 0
    for k in range(slots.shape[0]):
        r = slots[k]
        flat = tbt[r].reshape(-1)
        for i in range(scal[r, _S_NTBT]):
            key = touched[r, i]
            keys[o] = key
            counts[o] = flat[key]
            flat[key] = 0
            o += 1
        scal[r, _S_NTBT] = 0
    return keys, counts
