"""Fuzzing ``twin run``: configs that validate also run, without a traceback or a hang.

Mutants of ``tiny`` and ``europe`` that keep the scenario valid (numbers scaled far from their
shipped values, optional keys deleted) are run for a short horizon, each in a forked process
with a time limit. The run must end complete or with a clean user error (exit 2).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin_fuzz.runs import accepted_mutant, run_with_limit

from twin.config import builtin_scenarios
from twin.config.loader import read_yaml

BASES = {name: read_yaml(path) for name, path in builtin_scenarios().items()}
HORIZON = {"tiny": "3h", "europe": "1h"}
LIMIT_S = 120.0
"""Far above what any of these short runs needs (a few seconds); only a hang reaches it."""
RUNS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("base", ["tiny", "europe"])
@RUNS
@given(rng=st.randoms(use_true_random=False))
def test_accepted_mutants_run_to_the_end_or_a_clean_error(base, rng, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mutant")
    overrides = [f"horizon={HORIZON[base]}"]
    found = accepted_mutant(rng, BASES[base], folder, overrides)
    if found is None:
        return
    path, notes = found
    verdict = run_with_limit(path, overrides, folder / "run", LIMIT_S)
    what = f"{verdict.kind} after {verdict.seconds:.1f} s for {notes}"
    assert verdict.ok, f"{what}:\n{verdict.output}"
