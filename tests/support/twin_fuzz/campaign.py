"""A fuzz campaign over ``twin validate``: mutated scenarios, special files, ``--set`` arguments.

Prints, per input family, how many inputs were tried and how each was answered (accepted,
rejected with a path, and the failures: tracebacks, hangs, answers without a path, messages
too long), and the slowest answer. Every case is reproducible from its seed.

Usage (from the repository root)::

    PYTHONPATH=tests/support python -m twin_fuzz.campaign --configs 2000 --sets 800
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from twin.config import builtin_scenarios, builtin_whatifs
from twin.config.loader import read_yaml

from .arguments import option_arguments, set_argument
from .mutations import mutate, single_target
from .runs import accepted_mutant, run_with_limit
from .special import SPECIAL_ARGUMENTS, SPECIAL_FILES
from .verdict import Verdict, issue_paths, judge, points_near

BASES = ("tiny", "europe", "lublin_256")  # lublin_256: a training trace replayed


def base_data(name: str) -> dict:
    return read_yaml(builtin_scenarios()[name])


def wrong_places(folder: Path, count: int, seed: int) -> tuple[int, int, list[str]]:
    """Of rejected lone value mutations: how many, how many not pointing near the change."""
    tiny = base_data("tiny")
    judged, wrong, examples = 0, 0, []
    for case in range(count):
        rng = random.Random(seed * 3_000_017 + case)
        mutant = mutate(rng, tiny)
        target = single_target(mutant.notes)
        if target is None or mutant.data is None:
            continue
        path = folder / f"place{case}.yaml"
        path.write_text(mutant.yaml_text(), encoding="utf-8")
        verdict = judge([str(path)], [str(path)])
        if verdict.kind != "rejected" or not issue_paths(verdict.output):
            continue
        judged += 1
        if not points_near(verdict.output, target):
            wrong += 1
            examples.append(f"{mutant.notes[0][:90]} -> {verdict.output.splitlines()[1:3]}")
    return judged, wrong, examples


def mutated_files(folder: Path, count: int, seed: int) -> Iterator[tuple[str, list[str], str]]:
    """(case label, validate arguments, the file) for ``count`` mutated scenarios."""
    bases = {name: base_data(name) for name in BASES}
    for case in range(count):
        rng = random.Random(seed * 1_000_003 + case)
        name = BASES[case % len(BASES)] if case % 5 == 0 else "tiny"
        mutant = mutate(rng, bases[name])
        path = folder / f"case{case}.yaml"
        path.write_text(mutant.yaml_text(), encoding="utf-8")
        yield f"{name} seed={seed} case={case}: {'; '.join(mutant.notes)}", [str(path)], str(path)


def mutated_whatifs(folder: Path, count: int, seed: int) -> Iterator[tuple[str, list[str], str]]:
    """(label, arguments, file) for mutated copies of the built-in what-ifs over europe."""
    whatifs = {name: read_yaml(path) for name, path in builtin_whatifs().items()}
    names = sorted(whatifs)
    for case in range(count):
        rng = random.Random(seed * 7_000_003 + case)
        name = names[case % len(names)]
        mutant = mutate(rng, whatifs[name])
        path = folder / f"whatif{case}.yaml"
        path.write_text(mutant.yaml_text() if mutant.data is not None else mutant.text or "")
        label = f"whatif {name} seed={seed} case={case}: {'; '.join(mutant.notes)}"
        yield label, ["europe", "--whatif", str(path)], str(path)


def set_arguments(count: int, seed: int) -> Iterator[tuple[str, list[str], str]]:
    """(label, arguments, the option) for ``count`` runs of ``--set``/``--horizon``/``--seed``."""
    tiny = base_data("tiny")
    for case in range(count):
        rng = random.Random(seed * 9_000_011 + case)
        if rng.random() < 0.15:
            args = ["tiny", *option_arguments(rng)]
        else:
            args = ["tiny"]
            for _ in range(rng.choice((1, 1, 2, 3))):
                args += ["--set", set_argument(rng, tiny)]
        yield f"set seed={seed} case={case}: {args[1:]}", args, "--"


def special_inputs(folder: Path) -> Iterator[tuple[str, list[str], str]]:
    for name, build in SPECIAL_FILES.items():
        args = build(folder)
        yield f"special {name}", args, args[-1]
    for name, args in SPECIAL_ARGUMENTS.items():
        yield f"special argument {name}", args, repr(args[-1])[:20]


def run_campaign(folder: Path, count: int, seed: int) -> int:
    """Run ``count`` accepted mutants (tiny for 3 h, europe for 1 h); print the counts."""
    bases = {name: base_data(name) for name in BASES}
    kinds: Counter[str] = Counter()
    slowest = (0.0, "")
    failures = 0
    for case in range(count):
        rng = random.Random(seed * 5_000_011 + case)
        name = "europe" if case % 3 == 0 else "tiny"
        overrides = [f"horizon={'1h' if name == 'europe' else '3h'}"]
        case_folder = folder / f"run{case}"
        case_folder.mkdir()
        found = accepted_mutant(rng, bases[name], case_folder, overrides)
        if found is None:
            kinds["no valid mutant"] += 1
            continue
        path, notes = found
        verdict = run_with_limit(path, overrides, case_folder / "out", 120.0)
        kinds[verdict.kind] += 1
        slowest = max(slowest, (verdict.seconds, f"{name} case={case}: {notes}"))
        if not verdict.ok:
            failures += 1
            print(
                f"  FAIL {verdict.kind}: {name} case={case}: {notes}\n    {verdict.output[-800:]}"
            )
    print(
        f"runs of accepted mutants: tried {count}, complete {kinds['complete']}, clean user "
        f"errors {kinds['user_error']}, no valid mutant {kinds['no valid mutant']}; tracebacks "
        f"{kinds['traceback']}, hangs {kinds['hang']}; slowest {slowest[0]:.1f} s "
        f"({slowest[1][:80]})"
    )
    return failures


def report(family: str, verdicts: list[tuple[str, Verdict]]) -> int:
    """Print a family's counts and its failures; the number of failures."""
    if not verdicts:
        return 0
    kinds = Counter(verdict.kind for _, verdict in verdicts)
    slowest = max(verdicts, key=lambda item: item[1].seconds)
    failures = [(label, v) for label, v in verdicts if not v.ok]
    print(
        f"{family}: tried {len(verdicts)}, accepted {kinds['accepted']}, rejected with a path "
        f"{kinds['rejected']}; tracebacks {kinds['traceback']}, hangs {kinds['slow']}, "
        f"without a path {kinds['no_place']}, too long {kinds['too_long']}; slowest "
        f"{slowest[1].seconds:.2f} s ({slowest[0][:70]})"
    )
    for label, verdict in failures[:10]:
        print(f"  FAIL {verdict.kind}: {label}\n    {verdict.output[-800:]!r}")
    return len(failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=1000, help="mutated scenario files")
    parser.add_argument("--whatifs", type=int, default=200, help="mutated what-if files")
    parser.add_argument("--sets", type=int, default=500, help="--set/--horizon/--seed cases")
    parser.add_argument("--runs", type=int, default=0, help="accepted mutants to run")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        families = {
            "scenario files": mutated_files(folder, options.configs, options.seed),
            "special inputs": special_inputs(folder),
            "what-if files": mutated_whatifs(folder, options.whatifs, options.seed),
            "--set/--horizon/--seed arguments": set_arguments(options.sets, options.seed),
        }
        for family, cases in families.items():
            verdicts = [(label, judge(args, [place])) for label, args, place in cases]
            failures += report(family, verdicts)
        failures += run_campaign(folder, options.runs, options.seed)
        judged, wrong, examples = wrong_places(folder, options.configs, options.seed)
        print(f"lone value mutations rejected: {judged}, not pointing at the change: {wrong}")
        for example in examples[:15]:
            print(f"  WRONG PLACE {example}")
        failures += wrong
    print(f"failures: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
