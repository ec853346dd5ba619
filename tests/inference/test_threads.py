"""A run gives the same tables on one thread as on two: replicas stepped side by side on
numba's threads are independent of each other."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml


def test_one_and_two_threads_give_byte_identical_tables(kit, tmp_path):
    # 4 replicas taking ~6,000 requests per 10 s window: calls large enough to run threaded
    data = kit.scenario(
        [kit.site("a", 32)],
        [kit.region("r")],
        [kit.llm(peak_rps=600.0, replicas={"a": 4}, max_batch=64, token_budget=512)],
        horizon=120.0,
        window=10.0,
    )
    config = tmp_path / "threads.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    tables = {}
    for threads in (1, 2):
        out = tmp_path / f"run{threads}"
        env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
        command = [sys.executable, "-m", "twin", "run", str(config), "-q", "--out", str(out)]
        subprocess.run(command, env=env, check=True, capture_output=True)
        tables[threads] = {
            name: (out / f"{name}.arrow").read_bytes()
            for name in ("inference", "inference_regions", "sites", "events", "jobs")
        }
    assert tables[1] == tables[2]
    # and the windows did take the threaded path
    from twin.kernels import batching_bank

    threaded = batching_bank._bank_kernel_parallel
    calls = []

    def counted(*args):
        calls.append(len(args[10]))  # the slots stepped
        return threaded(*args)

    batching_bank._bank_kernel_parallel = counted
    try:
        kit.run_world(data)
    finally:
        batching_bank._bank_kernel_parallel = threaded
    assert calls and min(calls) == 4
