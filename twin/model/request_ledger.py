"""Values a pool keeps for the requests it holds, by their sequence number.

A site numbers its requests in arrival order (``id >> REGION_BITS``, see
:func:`twin.kernels.dealing.deal`); the batching kernel carries only ids, so what a later
stage needs of a request (its original arrival, its lengths, the latency before it reached
the pool) waits here until the request leaves. Old entries are forgotten once no request of
that number or below is left, so memory follows the requests in the system, not the run.
"""

from __future__ import annotations

import numpy as np

from twin.kernels.dealing import REGION_BITS

_COMPACT_AT = 4096
"""Entries kept before forgetting is considered (and then only past twice the live ones)."""


class RequestLedger:
    """Float64 rows of values (``rows`` per request) for sequence numbers from :attr:`base`."""

    def __init__(self, rows: int) -> None:
        self.base = 0
        """Sequence number of the first entry held."""
        self.values = np.zeros((rows, 0))

    @property
    def end(self) -> int:
        """The sequence number the next entry gets."""
        return self.base + self.values.shape[1]

    def extend(self, first: int, values: np.ndarray) -> None:
        """Add the values (rows × n) of requests numbered ``first``, ``first + 1``, …"""
        if first != self.end:
            raise ValueError(f"requests numbered from {first}, expected {self.end}")
        self.values = np.concatenate([self.values, np.atleast_2d(values)], axis=1)

    def take(self, ids: np.ndarray) -> np.ndarray:
        """The values (rows × m) of the requests with these ids."""
        return self.values[:, (ids >> REGION_BITS) - self.base]

    def forget_before(self, live_ids: np.ndarray, live: int) -> None:
        """Drop the entries below the smallest of ``live_ids`` (none: all of them), when the
        ledger holds many more than the ``live`` requests it must keep."""
        held = self.values.shape[1]
        if held < _COMPACT_AT or held < 2 * live:
            return
        first = int(live_ids.min() >> REGION_BITS) if len(live_ids) else self.end
        self.values = self.values[:, first - self.base :].copy()
        self.base = first
