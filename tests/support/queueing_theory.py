"""Queueing theory the tests hold twin against, and the M/M/c factory scenario several of them
run: one copy, in :mod:`twin.validation.theory` and :mod:`twin.validation.scenarios`, shared
with the validation report."""

from twin.validation.scenarios import mmc_factory
from twin.validation.theory import (
    erlang_b,
    erlang_c,
    erlang_c_mean_wait,
    mmc_sojourn_quantile,
    mmc_sojourn_survival,
    pollaczek_khinchine_mean_wait,
)

__all__ = [
    "erlang_b",
    "erlang_c",
    "erlang_c_mean_wait",
    "mmc_factory",
    "mmc_sojourn_quantile",
    "mmc_sojourn_survival",
    "pollaczek_khinchine_mean_wait",
]
