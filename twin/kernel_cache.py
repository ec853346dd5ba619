"""Compiling the numba kernels into their cache ahead of the first run (``twin compile``).

A run compiles each kernel the first time the model calls it, and caches it (where:
:mod:`twin.kernels._cache`); later runs load it. Cold, an hour of europe spends about
24 s of CPU compiling (measured here: its inference kernels about 10 s, its network kernels
about 14 s). :func:`compile_kernels` compiles the two parts in parallel processes, each
running an hour of that part of europe with no trace written, so the kernels get the
argument types a run passes them; on two free cores the wait is the longer part.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO

PARTS: dict[str, tuple[str, ...]] = {
    "network": ("workloads.inference.enabled=false",),
    "inference": ("workloads.training.enabled=false", "workloads.transfers.enabled=false"),
}
"""Parts of ``SCENARIO`` that between them call every kernel: the overrides of each."""
SCENARIO = "europe"
HORIZON = "1h"


class KernelCompileError(RuntimeError):
    """A compiling process failed (a bug, not a user mistake): its part and its stderr."""


@dataclass
class CompileReport:
    """What :func:`compile_kernels` did: signatures compiled and loaded, where they are."""

    compiled: int = 0
    loaded: int = 0
    caches: set[str] = field(default_factory=set)
    wall_s: float = 0.0
    processes: int = 0


def compile_kernels(
    jobs: int | None = None,
    scenario: str = SCENARIO,
    parts: dict[str, tuple[str, ...]] = PARTS,
) -> CompileReport:
    """Compile (or load) every kernel the parts of ``scenario`` call, running each part for
    ``HORIZON`` in its own process, ``jobs`` at a time (default: one per part, at most one
    per core); KernelCompileError if one fails."""
    from twin.kernels import _cache

    _cache.configure()  # the processes inherit the choice of cache folder
    waiting = list(parts)
    jobs = max(1, min(len(waiting), jobs or os.cpu_count() or 1))
    report = CompileReport(processes=jobs)
    started = time.perf_counter()
    running: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                part = waiting.pop(0)
                errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed once it is read)
                command = [sys.executable, "-m", "twin.kernel_cache", scenario, *parts[part]]
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
                running.append((part, process, errors))
            part, process, errors = running.pop(0)
            with errors:
                output, _ = process.communicate()
                if process.returncode != 0:
                    errors.seek(0)
                    tail = errors.read().decode(errors="replace").strip().splitlines()[-5:]
                    raise KernelCompileError(
                        f"compiling the {part} kernels failed: " + "\n".join(tail)
                    )
            counts = json.loads(output)
            report.compiled += counts["compiled"]
            report.loaded += counts["loaded"]
            report.caches.update(counts["caches"])
    finally:
        for _, process, errors in running:
            process.kill()
            process.wait()
            errors.close()
    report.wall_s = time.perf_counter() - started
    return report


def run_part(scenario: str, overrides: list[str]) -> dict[str, object]:
    """Run ``scenario`` with ``overrides`` for ``HORIZON`` (nothing written but the kernel
    cache); how many signatures were compiled and loaded, and the cache folders."""
    from twin.config import load_config
    from twin.kernels._jit import loaded_kernels
    from twin.model.world import World

    World(load_config(scenario, overrides=[f"horizon={HORIZON}", *overrides])).run()
    compiled = loaded = 0
    caches = set()
    for kernel in loaded_kernels():
        stats = getattr(kernel, "stats", None)  # none with NUMBA_DISABLE_JIT
        if stats is None:
            continue
        compiled += sum(stats.cache_misses.values())
        loaded += sum(stats.cache_hits.values())
        if stats.cache_misses or stats.cache_hits:
            caches.add(str(stats.cache_path))
    return {"compiled": compiled, "loaded": loaded, "caches": sorted(caches)}


if __name__ == "__main__":
    print(json.dumps(run_part(sys.argv[1], sys.argv[2:])))
