"""Fitting the ``calibrated`` iteration-time model to a measured profile, and how well it
follows each kind of iteration (``twin fit-iteration``).

The extended model (the default) is the kernel's
``t = c0 + c_p0·[P > 0] + c_pf·P + c_pf2·Q + c_b·nd + c_kv·K + c_tp·(P + nd)``; the
4-term one keeps ``c0, c_pf, c_b, c_kv``. A profile row (see
:mod:`twin.importers.iteration_profile`) gives the terms: a prefill of ``n`` prompts of
``P`` tokens in all has ``Q = n·(P/n)²``; a decode of ``nd`` requests at context ``ctx``
has ``K = nd·ctx``; a mixed row prefills a chunk from its prompt's start (``Q = chunk²``)
beside its decodes. When the profile measures tensor-parallel communication (a column with
a non-zero value), ``c_tp`` is fitted alone to it, as the slope of ``latency + c_tp·(P +
nd)``, and the other terms to the time less ``c_tp·(P + nd)``: the communication that does
not grow with the tokens (an all-reduce's latency, 3 ms of a 7 ms TP4 decode) goes to
``c0``, not into the slope or lost; else ``c_tp`` is 0. Every fit is
non-negative least squares on relative error (each row weighted by 1 / its time), so short
decode iterations count as much as long prefills.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from twin.importers.iteration_profile import KINDS, IterationProfile

FOUR_TERMS = ("c0_s", "prefill_s_per_token", "decode_s_per_request", "decode_s_per_context_token")
"""The 4-term ``calibrated`` keys, in the order of the fitted coefficients."""
TP_TERM = "tp_comm_s_per_token"
"""The key of the communication term, fitted apart on the communication column."""
EXTENDED_TERMS = (
    "c0_s",
    "prefill_c0_s",
    "prefill_s_per_token",
    "prefill_s_per_token_squared",
    "decode_s_per_request",
    "decode_s_per_context_token",
    TP_TERM,
)
"""The extended ``calibrated`` keys, in the order of the fitted coefficients."""
MIN_C0_S = 1e-6
"""The least ``c0_s`` the config accepts: the fit keeps c0 at least this, so the snippet it
prints is always a valid config even for a profile that leaves c0 free."""


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
    """Fitted coefficients (``calibrated`` key → value, in the model's order), the error per
    kind of iteration present, and the fitted time of every row, s."""

    coefficients: dict[str, float]
    errors: list[KindError]
    fitted_s: np.ndarray


def term_columns(profile: IterationProfile) -> dict[str, np.ndarray]:
    """Each ``calibrated`` key's term per row: what its coefficient multiplies."""
    tokens = profile.prefill_tokens.astype(np.float64)
    batch = profile.decode_batch.astype(np.float64)
    return {
        "c0_s": np.ones_like(tokens),
        "prefill_c0_s": (tokens > 0).astype(np.float64),
        "prefill_s_per_token": tokens,
        "prefill_s_per_token_squared": tokens**2 / profile.prompts,
        "decode_s_per_request": batch,
        "decode_s_per_context_token": batch * profile.decode_context,
        TP_TERM: tokens + batch,
    }


def fit_calibrated(profile: IterationProfile, extended: bool = True) -> Fit:
    """The extended (or 4-term) ``calibrated`` coefficients closest to ``profile`` in
    relative error, and that fit's error per kind of iteration."""
    columns = term_columns(profile)
    weights = 1.0 / profile.time_s
    coefficients = {}
    if extended:
        # comm ≈ latency + c_tp·(P + nd): the latency, which the term has not, is left to c0
        comm_s = np.nan_to_num(profile.tp_comm_s, nan=0.0)
        comm_terms = np.column_stack([columns["c0_s"], columns[TP_TERM]])
        coefficients[TP_TERM] = _nnls(comm_terms, comm_s, weights)[1]
    # The time the communication term leaves (not time − comm, which would lose the latency)
    rest_s = profile.time_s - coefficients.get(TP_TERM, 0.0) * columns[TP_TERM] - MIN_C0_S
    names = [name for name in (EXTENDED_TERMS if extended else FOUR_TERMS) if name != TP_TERM]
    terms = np.column_stack([columns[name] for name in names])
    coefficients |= zip(names, _nnls(terms, rest_s, weights), strict=True)
    coefficients["c0_s"] += MIN_C0_S
    ordered = {name: coefficients[name] for name in columns if name in coefficients}
    fitted = sum(columns[name] * value for name, value in ordered.items())
    return Fit(ordered, _errors(profile, fitted), fitted)


def _nnls(terms: np.ndarray, target: np.ndarray, weights: np.ndarray) -> list[float]:
    solution, _ = nnls(terms * weights[:, None], target * weights)
    return [float(value) for value in solution]


def _errors(profile: IterationProfile, fitted_s: np.ndarray) -> list[KindError]:
    relative = fitted_s / profile.time_s - 1.0
    errors = []
    for kind in KINDS:
        rows = np.flatnonzero(profile.kind == kind)
        if not len(rows):
            continue
        worst = rows[np.argmax(np.abs(relative[rows]))]
        errors.append(
            KindError(
                kind,
                len(rows),
                float(np.mean(np.abs(relative[rows]))),
                float(relative[worst]),
                profile.label[worst],
            )
        )
    return errors
