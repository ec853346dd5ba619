"""Input checks shared by the queueing kernels' public wrappers (plain Python, plus fused
compiled scans of the arrival arrays).
"""

from __future__ import annotations

import numpy as np
from twin.kernels._jit import njit

# ============================================================================================
# Shared validation helpers (plain Python)
# ============================================================================================


_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def _as_f64(name: str, a) -> np.ndarray:
    if type(a) is np.ndarray and a.dtype is _F64 and a.ndim == 1 and a.flags.c_contiguous:
        return a  # fast path: per-window calls are frequent
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _as_i64(name: str, a) -> np.ndarray:
    if type(a) is np.ndarray and a.dtype is _I64 and a.ndim == 1 and a.flags.c_contiguous:
        return a
    arr = np.asarray(a)
    if (
        arr.dtype.kind not in "iu"
        and arr.size
        and not np.all(np.isfinite(arr) & (arr == np.floor(arr)))
    ):
        raise ValueError(f"{name} must hold integers")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _check_inplace(name: str, a, dtype, ndim: int = 1) -> None:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim:
        raise TypeError(f"{name} must be a {ndim}-D numpy array of dtype {np.dtype(dtype)}")
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable (it is updated in place)")


# One fused pass instead of several numpy reductions: cheap for large arrays (one memory
# pass) and for the small per-window arrays of the hybrid model (one dispatch, ~1 us).
_SCAN_MESSAGES = {
    1: "arrivals must be finite",
    2: "arrivals must be sorted ascending",
    3: "arrivals must not precede the previous window's until_s or its last arrival",
    4: "service must be finite and >= 0",
    5: "prompt_tokens and output_tokens must be >= 1",
    6: "a request's prompt + output tokens exceed kv_capacity_tokens",
}


@njit(cache=True)
def _scan_arrivals(arrivals, t_min):
    """0 if ``arrivals`` is finite, sorted and ``>= t_min``; else an error code."""
    prev = t_min
    for i in range(arrivals.shape[0]):
        a = arrivals[i]
        if not np.isfinite(a):
            return 1
        if a < prev:
            return 2 if i > 0 else 3
        prev = a
    return 0


@njit(cache=True)
def _scan_fcfs(arrivals, service):
    """Error code of FCFS inputs (0 = valid): arrivals sorted/finite, service finite >= 0."""
    code = _scan_arrivals(arrivals, -np.inf)
    if code != 0:
        return code
    for i in range(service.shape[0]):
        s = service[i]
        if not (np.isfinite(s) and s >= 0.0):
            return 4
    return 0


@njit(cache=True)
def _scan_requests(arrivals, prompt, output, kv_cap, t_min):
    """Error code of batching inputs (0 = valid)."""
    code = _scan_arrivals(arrivals, t_min)
    if code != 0:
        return code
    for i in range(prompt.shape[0]):
        if prompt[i] < 1 or output[i] < 1:
            return 5
        if prompt[i] + output[i] > kv_cap:
            return 6
    return 0


def _raise_scan(code: int) -> None:
    if code:
        raise ValueError(_SCAN_MESSAGES[code])


def _out_array(name: str, out, n: int, dtype) -> np.ndarray:
    if out is None:
        return np.empty(n, dtype=dtype)
    _check_inplace(name, out, dtype)
    if out.shape[0] < n:
        raise ValueError(f"{name} has length {out.shape[0]} < {n} requests")
    return out[:n]
