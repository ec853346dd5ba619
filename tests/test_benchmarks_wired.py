"""The benchmarks reach into the model to time its kernels (bench_speed swaps the bank
factory and the compiled bank kernels for timed ones): the names they patch must exist with
the signatures they call, or a benchmark fails only when someone runs it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def test_every_benchmark_parses_and_has_a_main_guard() -> None:
    scripts = sorted(BENCHMARKS.glob("bench_*.py"))
    assert len(scripts) >= 10
    for script in scripts:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
        guards = [
            node
            for node in tree.body
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
        ]
        assert guards, f"{script.name} runs on import"


def test_what_bench_speed_patches_exists() -> None:
    from twin.kernels import batching_bank
    from twin.kernels.queueing import STAT_ITERATIONS, STAT_JUMPED

    import twin.model.service_site as service_site

    assert list(inspect.signature(service_site._bank).parameters) == [
        "service",
        "model",
        "prefilled",
    ]
    for name in ("_bank_kernel", "_bank_kernel_parallel"):
        assert callable(getattr(batching_bank, name))
    assert STAT_ITERATIONS != STAT_JUMPED
    source = (BENCHMARKS / "bench_speed.py").read_text(encoding="utf-8")
    assert (
        "service_site._bank = bank" in source and "make_bank(service, model, prefilled)" in source
    )
