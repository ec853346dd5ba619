"""The ``profile`` iteration model from the shipped A100 Llama-3-8B profiles: its saturation
throughput against the kernel's, a scenario that runs on it, and the loader's checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from twin.kernels import queueing as q

from twin.config.data_files import trace_file
from twin.config.errors import ConfigError
from twin.config.loader import load_config
from twin.importers.iteration_profile import read_iteration_profile
from twin.model.iteration import IterationModel, packed_profile

TP1 = "builtin:a100_llama3_8b_tp1_iterations.csv.gz"


def _tp1() -> IterationModel:
    table = read_iteration_profile(trace_file(TP1))
    return IterationModel(0.0, 0.0, 0.0, 0.0, 10**7, packed_profile(table))


def _kernel_rps(model: IterationModel, mode, batch, prompt, output, budget, arrivals):
    replica = q.BatchingReplica(
        mode, 0, 0, 0, 0, batch, model.kv_capacity_tokens, budget, iteration=model.packed
    )
    n = len(arrivals)
    res = replica.step(arrivals, np.full(n, prompt), np.full(n, output), math.inf)
    finish = np.sort(res.finish_s)
    first, last = n // 4, 3 * n // 4  # the steady middle half
    return (last - first) / (finish[last] - finish[first])


@pytest.mark.parametrize(("batch", "prompt", "output"), [(32, 512, 64), (8, 2048, 128)])
def test_vllm_saturation_throughput_from_the_table_matches_the_kernel(batch, prompt, output):
    """A burst saturates a vLLM replica in synchronised batches: one prefill iteration of
    ``batch`` prompts, then ``output − 1`` decodes, all read off the table."""
    model = _tp1()
    predicted = model.throughput_rps(batch, prompt, output, 0, "vllm")
    measured = _kernel_rps(model, "vllm", batch, prompt, output, 0, np.zeros(4000))
    assert measured == pytest.approx(predicted, rel=0.02)


@pytest.mark.parametrize(
    ("budget", "prompt", "output"), [(512, 512, 64), (512, 300, 200), (512, 1000, 100)]
)
def test_sarathi_saturation_throughput_from_the_table_matches_the_kernel(budget, prompt, output):
    """Sarathi's mean iteration (decodes at the mean context, prompts in chunks, a share of
    the iterations with a prefill) is an average, so 3 %, not vLLM's 2 %."""
    model = _tp1()
    predicted = model.throughput_rps(64, prompt, output, budget, "sarathi")
    rng = np.random.default_rng(4)
    arrivals = np.cumsum(rng.exponential(1 / (3 * predicted), 6000))  # 3× overload
    measured = _kernel_rps(model, "sarathi", 64, prompt, output, budget, arrivals)
    assert measured == pytest.approx(predicted, rel=0.03)


def test_the_table_s_prefill_convexity_reaches_the_replica():
    """A 4,096-token prompt costs 9.1 × a 512-token one in the profile (convex); the
    model keeps that, where a line through the small prompts would not."""
    model = _tp1()
    assert model.prefill_s(512) == pytest.approx(0.0390021, rel=1e-9)
    assert model.prefill_s(4096) == pytest.approx(0.355639, rel=1e-9)
    assert model.decode_s(1, 513) == pytest.approx(0.0108503, rel=1e-9)


def _service(kit, iteration):
    service = kit.llm(
        peak_rps=3.0,
        replicas={"a": 2},
        prompt={"dist": "uniform", "low": 100, "high": 3000},
        output={"dist": "uniform", "low": 10, "high": 300},
        iteration=iteration,
    )
    service["accelerators_per_replica"] = 1
    service["model"] = {"parameters_b": 8, "kv_bytes_per_token": 131072}
    return service


def test_a_scenario_runs_on_a_profile(kit, tmp_path):
    iteration = {"model": "profile", "file": TP1}
    data = kit.scenario(
        [kit.site("a", 4)], [kit.region("r")], [_service(kit, iteration)], horizon=300.0
    )
    manifest, table, _ = kit.run_trace(data, tmp_path / "run")
    served = int(np.sum(kit.column(table, "served")))
    assert served > 0.8 * 3.0 * 300
    # TTFT is never below the table's fastest prefill, nor TPOT below batch 1's decode
    assert np.nanmin(kit.column(table, "ttft_p50_ms")) >= 11.2
    assert np.nanmin(kit.column(table, "tpot_p50_ms")) >= 10.85
    assert manifest["status"] == "complete"


def test_the_loader_refuses_a_bad_profile(kit, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "kind,prefill_tokens,decode_batch,decode_context,time_ms\n"
        "prefill,512,0,0,39\ndecode,0,1,513,10.8\ndecode,0,8,1024,11.5\n"
    )
    iteration = {"model": "profile", "file": "bad.csv"}  # relative to the YAML's folder
    data = kit.scenario([kit.site("a", 4)], [kit.region("r")], [_service(kit, iteration)])
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "inference.services[0].iteration.file" in text
    assert "no row of batch 1 at context 1024" in text
    service = _service(kit, {"model": "profile", "file": TP1})
    del service["model"]
    data = kit.scenario([kit.site("a", 4)], [kit.region("r")], [service])
    with pytest.raises(ConfigError, match=r"iteration\.kv_capacity_tokens"):
        kit.build(data)
