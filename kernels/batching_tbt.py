"""Time between tokens (TBT) of the continuous-batching kernel, counted as it happens.

Every output token after a request's first closes a *gap*: the time since that request's
previous token (one iteration, or longer across a vLLM prefill stall, a preemption or a
swap). The kernel counts each gap into its replica's dense log-bucket histogram ``tbt`` (the
sketch layout of :mod:`twin.kernels.sketch`, column ``i`` bucket ``INDEX_MIN + i``), and the
gaps and their sum into ``STAT_GAPS`` and ``STAT_GAP_SUM``. Gaps are token-level: a window's
histogram holds the gaps of the tokens produced in it, by requests that may complete later.
Every request in an iteration shares its replica's batch, so TBT is a property of the
replica's iterations, counted per replica (not per demand region).
"""

from __future__ import annotations

from twin.kernels._jit import njit
from twin.kernels.batching_state import STAT_GAP_SUM, STAT_GAPS
from twin.kernels.sketch import GAMMA, INDEX_MAX, INDEX_MIN, LOG_GAMMA, _bucket


@njit(cache=True, inline="always")
def gap_bucket(gap_s):
    """The histogram column (bucket offset from ``INDEX_MIN``) of a gap [s]."""
    return _bucket(gap_s, LOG_GAMMA, INDEX_MIN, INDEX_MAX) - INDEX_MIN


@njit(cache=True)
def count_progression(tbt, stats, n_run, a, b, first, last):
    """Count, for each of the ``n_run`` running requests, the gaps ``a + b·i`` of the
    iterations ``i = first .. last`` of a jumped decode run (``b >= 0``: the gaps grow).

    The progression is cut where it crosses a bucket boundary, so the work is the buckets
    it spans, not its length; each piece is counted as the stepped iterations would count
    it (the bucket of every term), and the sum of its gaps exactly. Stepped iterations
    compute each gap as a difference of clock times, so a term within rounding of a bucket
    boundary may fall into the neighbouring bucket there.
    """
    i = first
    while i <= last:
        bucket = gap_bucket(a + b * i)
        hi = last
        if b > 0.0 and bucket + INDEX_MIN < INDEX_MAX:
            upper = GAMMA ** (bucket + INDEX_MIN)  # bucket holds (upper / GAMMA, upper]
            hi = min(max(int((upper - a) / b), i), last)
            while hi < last and gap_bucket(a + b * (hi + 1)) == bucket:
                hi += 1
            while hi > i and gap_bucket(a + b * hi) != bucket:
                hi -= 1
        count = hi - i + 1
        tbt[bucket] += count * n_run
        stats[STAT_GAPS] += count * n_run
        stats[STAT_GAP_SUM] += (a + b * 0.5 * (i + hi)) * count * n_run
        i = hi + 1
