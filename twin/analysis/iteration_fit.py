"""Fitting the ``calibrated`` iteration-time model to a measured profile, and how well it
follows each kind of iteration (``twin fit-iteration``).

A profile lists iterations of one replica (the shipped Vidur-derived A100 profiles'
columns): ``kind`` (prefill, decode or mixed), ``label`` (``decode B=8 ctx=513``,
``chunk 256 + 8 decodes ctx=576``), ``num_requests``, ``total_q_tokens`` and ``total_ms``.
Each row becomes the terms of ``t = c0 + c_pf·P + c_b·B + c_kv·K``: a prefill of ``P`` =
``total_q_tokens``; a decode of ``B`` = ``num_requests`` at context ``ctx`` (``K = B·ctx``);
a mixed batch of a ``chunk`` prefill (``P``) and ``B`` decodes at ``ctx``. The coefficients
are fitted by non-negative least squares on relative error (each row weighted by 1 / its
time), so short decode iterations count as much as long prefills.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from twin.importers.common import LineErrors, number
from twin.importers.csv_rows import CsvRecords

KINDS = ("prefill", "decode", "mixed")
REQUIRED = ("kind", "label", "num_requests", "total_q_tokens", "total_ms")
_CTX = re.compile(r"ctx=(\d+)")
_CHUNK = re.compile(r"chunk (\d+)")
TERMS = ("c0_s", "prefill_s_per_token", "decode_s_per_request", "decode_s_per_context_token")
"""The ``calibrated`` keys, in the order of the fitted coefficients."""


@dataclass(frozen=True)
class Profile:
    """A profile's iterations as the model's terms: one row per iteration."""

    kind: list[str]
    label: list[str]
    terms: np.ndarray
    """(rows, 4): 1, P, B, K."""
    time_s: np.ndarray


@dataclass(frozen=True)
class KindError:
    """How far the fit is from one kind of iteration (relative errors, fitted − measured)."""

    kind: str
    rows: int
    mean_abs: float
    worst: float
    worst_label: str


@dataclass(frozen=True)
class Fit:
    coefficients: dict[str, float]
    errors: list[KindError]
    fitted_s: np.ndarray


def read_profile(path: Path) -> Profile:
    """The iterations of a profile CSV; a bad row is refused with its line number."""
    errors = LineErrors(path)
    records = CsvRecords(path, REQUIRED, errors=errors)
    kinds, labels, rows, times = [], [], [], []
    for line, record in records:
        try:
            kind, label = record["kind"], record["label"]
            if kind not in KINDS:
                raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
            requests = number(record["num_requests"], "num_requests")
            q_tokens = number(record["total_q_tokens"], "total_q_tokens")
            time_s = number(record["total_ms"], "total_ms") / 1000
            if time_s <= 0:
                raise ValueError("total_ms: expected a positive time")
            rows.append(_terms(kind, label, requests, q_tokens))
        except ValueError as error:
            errors.add(line, str(error))
            continue
        kinds.append(kind)
        labels.append(label)
        times.append(time_s)
    errors.raise_any()
    if not rows:
        errors.add(1, "no iterations")
        errors.raise_any()
    return Profile(kinds, labels, np.array(rows, dtype=float), np.array(times))


def _terms(kind: str, label: str, requests: float, q_tokens: float) -> list[float]:
    if kind == "prefill":
        return [1.0, q_tokens, 0.0, 0.0]
    context = _CTX.search(label)
    if context is None:
        raise ValueError(f"label: no ctx=N in {label!r}")
    ctx = float(context.group(1))
    if kind == "decode":
        return [1.0, 0.0, requests, requests * ctx]
    chunk = _CHUNK.search(label)
    if chunk is None:
        raise ValueError(f"label: no 'chunk N' in {label!r}")
    prefill = float(chunk.group(1))
    decodes = q_tokens - prefill  # one query token per decoding request
    return [1.0, prefill, decodes, decodes * ctx]


def fit_calibrated(profile: Profile) -> Fit:
    """Non-negative least squares on relative error; the fit's error per kind."""
    weights = 1.0 / profile.time_s
    solution, _ = nnls(profile.terms * weights[:, None], profile.time_s * weights)
    fitted = profile.terms @ solution
    relative = fitted / profile.time_s - 1.0
    errors = []
    for kind in KINDS:
        rows = [i for i, k in enumerate(profile.kind) if k == kind]
        if not rows:
            continue
        worst = max(rows, key=lambda i: abs(relative[i]))
        errors.append(
            KindError(
                kind,
                len(rows),
                float(np.mean(np.abs(relative[rows]))),
                float(relative[worst]),
                profile.label[worst],
            )
        )
    coefficients = dict(zip(TERMS, (float(c) for c in solution), strict=True))
    return Fit(coefficients, errors, fitted)
