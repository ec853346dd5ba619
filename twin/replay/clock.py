"""A trace's clock mapped onto a scenario's: alignment, offset, window and load factor
(the keys every ``*.trace`` shares, :class:`twin.config.schema_traces.TransferTrace` etc.)."""

from __future__ import annotations

import numpy as np

from twin.config.schema_traces import RequestTrace, TrainingTrace, TransferTrace


def replay_times(
    trace_s: np.ndarray, spec: TrainingTrace | RequestTrace | TransferTrace, horizon_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the records replayed, their scenario times), in the records' order.

    Trace time ``t`` counts from the origin (the first record with ``align: first``, the
    trace's zero with ``align: zero``); the records with ``window.start ≤ t < window.end``
    are replayed at ``offset + (t − window.start) / rate_scale``, those before the horizon.
    """
    trace_s = np.asarray(trace_s, dtype=np.float64)
    origin = float(trace_s.min()) if spec.align == "first" and len(trace_s) else 0.0
    since = trace_s - origin
    first = spec.window.start if spec.window is not None else 0.0
    last = spec.window.end if spec.window is not None and spec.window.end is not None else np.inf
    at_s = spec.offset + (since - first) / spec.rate_scale
    kept = np.flatnonzero((since >= first) & (since < last) & (at_s < horizon_s))
    return kept, at_s[kept]
