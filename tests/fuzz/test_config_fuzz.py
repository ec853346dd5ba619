"""Fuzzing ``twin validate``: every input is accepted, or rejected with exit 2 and a path.

Hypothesis drives seeded mutations of the shipped scenarios and what-ifs (see
``tests/support/twin_fuzz``), a fixed list of special files, and ``--set``/``--horizon``/
``--seed`` arguments. Each answer must come within a few seconds, without a traceback, and
name where the mistake is. The examples are derandomised, so CI checks the same inputs every
time; ``python -m twin_fuzz.campaign`` explores many more.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twin_fuzz.arguments import HOSTILE_SETS, option_arguments, set_argument
from twin_fuzz.mutations import mutate, single_target
from twin_fuzz.special import SPECIAL_ARGUMENTS, SPECIAL_FILES
from twin_fuzz.verdict import Verdict, issue_paths, judge, points_near

from twin.config import builtin_scenarios, builtin_whatifs
from twin.config.loader import read_yaml

BASES = {name: read_yaml(path) for name, path in builtin_scenarios().items()}
WHATIFS = {name: read_yaml(path) for name, path in builtin_whatifs().items()}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def assert_good(verdict: Verdict, what: object) -> None:
    assert verdict.ok, f"{verdict.kind} after {verdict.seconds:.2f} s for {what}:\n{verdict.output}"


@FUZZ
@given(
    rng=st.randoms(use_true_random=False),
    base=st.sampled_from(["tiny"] * 4 + ["europe", "lublin_256"]),
)
def test_mutated_scenarios_are_accepted_or_rejected_with_a_path(rng, base, tmp_path):
    mutant = mutate(rng, BASES[base])
    path = tmp_path / "mutant.yaml"
    path.write_text(mutant.yaml_text(), encoding="utf-8")
    verdict = judge([str(path)], [str(path)])
    assert_good(verdict, mutant.notes)
    target = single_target(mutant.notes) if mutant.data is not None else None
    if verdict.kind == "rejected" and target is not None and issue_paths(verdict.output):
        assert points_near(verdict.output, target), (mutant.notes, verdict.output)


@settings(FUZZ, max_examples=50)
@given(rng=st.randoms(use_true_random=False), name=st.sampled_from(sorted(WHATIFS)))
def test_mutated_whatifs_are_accepted_or_rejected_with_a_path(rng, name, tmp_path):
    mutant = mutate(rng, WHATIFS[name])
    path = tmp_path / "whatif.yaml"
    path.write_text(mutant.yaml_text(), encoding="utf-8")
    assert_good(judge(["europe", "--whatif", str(path)], [str(path)]), mutant.notes)


@settings(FUZZ, max_examples=100)
@given(rng=st.randoms(use_true_random=False), count=st.integers(1, 3))
def test_set_arguments_are_accepted_or_rejected_with_a_path(rng, count):
    args = ["tiny"]
    for _ in range(count):
        args += ["--set", set_argument(rng, BASES["tiny"])]
    assert_good(judge(args, ["--set"]), args)


@pytest.mark.parametrize("assignment", HOSTILE_SETS, ids=lambda a: repr(a)[:40])
def test_hostile_set_arguments(assignment):
    verdict = judge(["tiny", "--set", assignment], ["--set"])
    assert_good(verdict, assignment)
    assert verdict.kind == "rejected" or assignment.startswith("name=["), verdict.output


@pytest.mark.parametrize("seed", range(10))
def test_horizon_and_seed_options(seed):
    args = ["tiny", *option_arguments(random.Random(seed))]
    assert_good(judge(args, ["--horizon", "--seed"]), args)


@pytest.mark.parametrize("name", sorted(SPECIAL_FILES))
def test_special_files(name, tmp_path):
    args = SPECIAL_FILES[name](tmp_path)
    verdict = judge(args, [args[-1]])
    assert_good(verdict, name)
    acceptable = {"bom", "crlf", "europe"}
    assert (verdict.kind == "accepted") == (name in acceptable), verdict.output


@pytest.mark.parametrize("name", sorted(SPECIAL_ARGUMENTS))
def test_special_arguments(name):
    args = SPECIAL_ARGUMENTS[name]
    verdict = judge(args, [repr(args[-1])[:20]])
    assert verdict.kind == "rejected", verdict.output


def test_the_judge_catches_what_it_must():
    """The judge itself: a report whose issues lack paths is a failure."""
    from twin_fuzz.verdict import names_a_place

    assert names_a_place("error: 2 problems in x:\n  a.b: bad\n  c[0]: worse\n", [])
    assert not names_a_place("error: 1 problem in x:\n  something is wrong\n", [])
    assert not names_a_place("error: expected a mapping\n", ["file.yaml"])
    assert names_a_place("error: file.yaml: expected a mapping\n", ["file.yaml"])
