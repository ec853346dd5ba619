"""Iteration time of a continuous-batching LLM replica, as one packed float64 array the
batching kernel evaluates: a linear model with optional quadratic-prefill and communication
terms, or a measured profile interpolated piecewise-linearly.

Packed layout (``model[0]`` names the kind):

* :data:`LINEAR` ``[0, c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp]``: an iteration prefilling
  chunks ``c_j`` (each after ``d_j`` tokens of its prompt) and decoding ``nd`` requests
  whose contexts sum to ``K`` takes

      ``c0 + c_pf·P + c_b·nd + c_kv·K + c_p0·[P > 0] + c_pf2·Q + c_tp·(P + nd)``

  with ``P = Σ c_j`` and ``Q = Σ c_j·(2·d_j + c_j)`` (attention over the prompt so far: a
  prompt's ``Q`` is ``p²`` however it is chunked).
* :data:`PROFILE` ``[1, n_p, n_b, n_c, n_mp, n_mn, mixed_context, c_p0, tables…]``: a
  prefill curve ``f(p)`` (one prompt of ``p`` tokens, ``n_p`` points), a decode grid
  ``D(B, c)`` (``B`` requests at mean context ``c``, ``n_b × n_c`` points) and, optionally,
  a mixed grid (one chunk of ``x`` tokens beside ``B`` decodes at ``mixed_context``,
  ``n_mp × n_mn`` points) stored as the *overlap* ``O(x, B) = f(x) + D(B, ctx) − M(x, B)``
  that a mixed iteration saves against running its parts apart. Then

  - a prefill-only iteration takes ``Σ chunk_j`` with ``chunk = f(c)`` for a chunk from a
    prompt's start and ``c_p0 + f(d + c) − f(d)`` after ``d`` tokens (prompts do not batch:
    the profiles show ``n`` prompts costing about ``n`` times one);
  - a decode-only iteration ``D(nd, K / nd)``;
  - a mixed one ``D(nd, K / nd) + Σ chunk_j − O(P, nd)``, with ``O = c_p0`` (the fixed cost
    counted once) when the profile has no mixed rows.

  Each axis is piecewise-linear between table points, so the model is exact at them and
  monotone where the data is; below an axis' first point the first value holds, beyond the
  last the last segment extends (the overlap holds at both ends). ``c_p0`` is the prefill
  curve's first segment extended to 0 tokens. An iteration takes at least 1 µs.
"""

from __future__ import annotations

import math

import numpy as np
from twin.kernels._jit import njit

LINEAR = 0
PROFILE = 1
_HEAD = 8  # profile: header length before the tables
_LONG_RUN = 1 << 62  # a decode run the model keeps linear for ever
_SHORTEST_S = 1e-6
"""Floor of a profile's iteration (an extrapolated table must not stop the clock)."""


def linear_model(
    c0: float,
    c_pf: float,
    c_b: float,
    c_kv: float,
    c_p0: float = 0.0,
    c_pf2: float = 0.0,
    c_tp: float = 0.0,
) -> np.ndarray:
    """The packed linear model (seconds, s/token, s/request, s/token, s, s/token², s/token)."""
    coefficients = np.array([LINEAR, c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp], dtype=np.float64)
    names = ("c0", "c_pf", "c_b", "c_kv", "c_p0", "c_pf2", "c_tp")
    for name, value in zip(names, coefficients[1:], strict=True):
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name} must be finite and >= 0")
    if c0 + c_b + c_tp <= 0.0 or c0 + c_p0 + c_pf + c_tp <= 0.0:
        raise ValueError("every iteration must take positive time (c0 + c_pf, c0 + c_b > 0)")
    return coefficients


def profile_model(
    prefill_tokens,
    prefill_times,
    decode_batches,
    decode_contexts,
    decode_times,
    mixed_chunks=(),
    mixed_decodes=(),
    mixed_times=None,
    mixed_context: float = 0.0,
) -> np.ndarray:
    """The packed profile model from its tables (tokens, requests, seconds).

    ``prefill_tokens``/``prefill_times``: the prefill curve (increasing tokens); ``decode_times``
    has shape ``(len(decode_batches), len(decode_contexts))`` over increasing axes;
    ``mixed_times`` (optional) shape ``(len(mixed_chunks), len(mixed_decodes))``, measured at
    ``mixed_context``.
    """
    xp, yp = _axis("prefill tokens", prefill_tokens), _times("prefill", prefill_times)
    bs, cs = _axis("decode batches", decode_batches), _axis("decode contexts", decode_contexts)
    table = _times("decode", decode_times).reshape(-1)
    if len(yp) != len(xp) or len(table) != len(bs) * len(cs):
        raise ValueError("each table needs one time per point of its axes")
    c_p0 = float(yp[0])
    if len(xp) > 1:
        slope = (yp[1] - yp[0]) / (xp[1] - xp[0])
        c_p0 = min(max(float(yp[0] - slope * xp[0]), 0.0), float(yp[0]))
    head = [PROFILE, len(xp), len(bs), len(cs), 0, 0, 0.0, c_p0]
    parts = [np.array(head, dtype=np.float64), xp, yp, bs, cs, table]
    if mixed_times is not None and len(mixed_chunks):
        mp, mn = _axis("mixed chunks", mixed_chunks), _axis("mixed decodes", mixed_decodes)
        measured = _times("mixed", mixed_times).reshape(len(mp), len(mn))
        head[4], head[5], head[6] = len(mp), len(mn), float(mixed_context)
        parts[0] = np.array(head, dtype=np.float64)
        partial = np.concatenate(parts)
        overlap = np.empty_like(measured)
        for i, chunk in enumerate(mp):
            for j, decodes in enumerate(mn):
                parts_s = prefill_chunk_s(partial, 0, int(chunk))
                if decodes > 0:
                    parts_s += decode_s(partial, float(decodes), float(mixed_context))
                overlap[i, j] = parts_s - measured[i, j]
        parts += [mp, mn, overlap.reshape(-1)]
    return np.concatenate(parts)


def _axis(name: str, values) -> np.ndarray:
    axis = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(axis) == 0 or not np.all(np.isfinite(axis)) or np.any(np.diff(axis) <= 0):
        raise ValueError(f"{name}: expected increasing finite values")
    return axis


def _times(name: str, values) -> np.ndarray:
    times = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(times)) or np.any(times <= 0):
        raise ValueError(f"{name} times: expected positive seconds")
    return times


# -------------------------------------------------------------------- compiled evaluation


@njit(cache=True, inline="always")
def _offsets(model):
    """Start of each profile table: prefill x, prefill y, batches, contexts, decode grid,
    mixed chunks, mixed decodes, overlap grid."""
    n_p, n_b, n_c, n_mp = int(model[1]), int(model[2]), int(model[3]), int(model[4])
    o_px = _HEAD
    o_py = o_px + n_p
    o_b = o_py + n_p
    o_c = o_b + n_b
    o_d = o_c + n_c
    o_mp = o_d + n_b * n_c
    o_mn = o_mp + n_mp
    o_mo = o_mn + int(model[5])
    return o_px, o_py, o_b, o_c, o_d, o_mp, o_mn, o_mo


@njit(cache=True)
def _segment(model, start, n, x):
    """Index ``s`` with ``axis[s] <= x < axis[s+1]`` (binary search); -1 below the first
    point, ``n - 1`` at or beyond the last."""
    if x < model[start]:
        return -1
    lo, hi = 0, n - 1
    if x >= model[start + hi]:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if model[start + mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True)
def _weight(model, start, n, x, hold_beyond):
    """``(s, w)``: ``x`` lies a share ``w`` of the way from point ``s`` to ``s + 1`` of the
    axis (``w = 0`` below it; beyond the last, the last segment extends unless held)."""
    if n == 1:
        return 0, 0.0
    s = _segment(model, start, n, x)
    if s < 0:
        return 0, 0.0
    if s >= n - 1:
        if hold_beyond:
            return n - 2, 1.0
        s = n - 2
    x0 = model[start + s]
    return s, (x - x0) / (model[start + s + 1] - x0)


@njit(cache=True)
def _curve(model, xs, ys, n, x):
    """The piecewise-linear curve ``ys(xs)`` at ``x``."""
    s, w = _weight(model, xs, n, x, False)
    if n == 1:
        return model[ys]
    return model[ys + s] + w * (model[ys + s + 1] - model[ys + s])


@njit(cache=True)
def _grid(model, rows, n_r, cols, n_c, table, r, c, hold):
    """Bilinear interpolation of ``table`` (``n_r × n_c``, row-major) at ``(r, c)``."""
    i, u = _weight(model, rows, n_r, r, hold)
    j, v = _weight(model, cols, n_c, c, hold)
    i1 = i + 1 if n_r > 1 else i
    j1 = j + 1 if n_c > 1 else j
    a = model[table + i * n_c + j]
    b = model[table + i * n_c + j1]
    lower = a + v * (b - a)
    a = model[table + i1 * n_c + j]
    b = model[table + i1 * n_c + j1]
    upper = a + v * (b - a)
    return lower + u * (upper - lower)


@njit(cache=True)
def prefill_chunk_s(model, done, chunk):
    """Profile model: time of a prefill chunk of ``chunk`` tokens after ``done`` tokens of
    its prompt (``f(chunk)`` from the start, ``c_p0 + f(done + chunk) − f(done)`` later)."""
    o_px, o_py = _HEAD, _HEAD + int(model[1])
    n_p = int(model[1])
    if done == 0:
        return _curve(model, o_px, o_py, n_p, float(chunk))
    after = _curve(model, o_px, o_py, n_p, float(done + chunk))
    return model[7] + after - _curve(model, o_px, o_py, n_p, float(done))


@njit(cache=True)
def decode_s(model, batch, context):
    """Profile model: a decode-only iteration of ``batch`` requests at mean ``context``."""
    o = _offsets(model)
    return _grid(model, o[2], int(model[2]), o[3], int(model[3]), o[4], batch, context, False)


@njit(cache=True)
def _overlap_s(model, prefill_tokens, decodes):
    """Profile model: what a mixed iteration saves against its prefill and decode apart."""
    if model[4] == 0:
        return model[7]
    o = _offsets(model)
    n_mp, n_mn = int(model[4]), int(model[5])
    return _grid(model, o[5], n_mp, o[6], n_mn, o[7], float(prefill_tokens), float(decodes), True)


@njit(cache=True)
def iteration_s(model, prefill_tokens, prefill_square, prefill_cost, decodes, contexts):
    """Time of one iteration: ``prefill_tokens`` prompt tokens in chunks whose quadratic
    sum is ``prefill_square`` (linear) or whose profile costs sum to ``prefill_cost``, and
    ``decodes`` decoding requests with ``contexts`` tokens of context in all."""
    if model[0] == LINEAR:
        dt = model[1] + model[2] * prefill_tokens + model[3] * decodes + model[4] * contexts
        if prefill_tokens > 0:
            dt += model[5] + model[6] * prefill_square
        return dt + model[7] * (prefill_tokens + decodes)
    if decodes == 0:
        dt = prefill_cost
    else:
        dt = decode_s(model, float(decodes), contexts / decodes)
        if prefill_tokens > 0:
            dt += prefill_cost - _overlap_s(model, prefill_tokens, decodes)
    return max(dt, _SHORTEST_S)


@njit(cache=True)
def decode_line(model, batch, contexts):
    """A run of decode-only iterations of ``batch`` requests from ``contexts`` tokens of
    context in all (each iteration adds one token per request) as ``(a, b, m)``: iteration
    ``i < m`` of the run takes ``a + b·i`` seconds."""
    if model[0] == LINEAR:
        a = model[1] + model[3] * batch + model[4] * contexts + model[7] * batch
        return a, model[4] * batch, _LONG_RUN
    o = _offsets(model)
    n_c = int(model[3])
    mean = contexts / batch
    a = decode_s(model, float(batch), mean)
    s = _segment(model, o[3], n_c, mean)
    if s < 0:  # held at the first context point until the run reaches it
        return a, 0.0, int(model[o[3]] - mean) + 1  # positive: int() floors
    if n_c == 1:
        return a, 0.0, _LONG_RUN
    end = s + 1
    m = _LONG_RUN
    if s >= n_c - 1:
        s = n_c - 2
    else:
        m = int(model[o[3] + end] - mean) + 1
    # the slope along context of the batch row, between context points s and s + 1
    c0, c1 = model[o[3] + s], model[o[3] + s + 1]
    rise = decode_s(model, float(batch), c1) - decode_s(model, float(batch), c0)
    return a, rise / (c1 - c0), m
