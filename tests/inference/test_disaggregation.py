"""Prefill/decode disaggregation: the books balance with requests between the pools, a lone
request's latencies are the hand-computed prefill + KV transfer + decode iterations, the KV
bytes are bytes per token × prompt tokens, and a run is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.trace.reader import open_run
from twin.trace.summary import summarize

from .test_inference import check_conservation

LINE = {
    "model": "calibrated",
    "c0_s": 0.01,
    "prefill_s_per_token": 1e-4,
    "decode_s_per_request": 1e-4,
    "decode_s_per_context_token": 1e-7,
    "kv_capacity_tokens": 200_000,
}
KV_BYTES = 327_680.0


def disaggregated(kit, *, peak_rps: float, prompt=None, output=None, horizon=100.0, window=10.0):
    chat = kit.llm(
        peak_rps=peak_rps,
        replicas={"a": 1},
        prompt=prompt,
        output=output,
        iteration=LINE,
        max_queue=8,
        disaggregation={
            "prefill": {"replicas": {"a": 1}, "scheduler": "vllm", "token_budget": 8192}
        },
    )
    return kit.scenario(
        [kit.site("a", 16)], [kit.region("r")], [chat], horizon=horizon, window=window
    )


@pytest.mark.parametrize("horizon", [100.0, 105.0])
def test_books_balance_with_requests_between_the_pools(kit, tmp_path: Path, horizon) -> None:
    data = disaggregated(kit, peak_rps=6.0, horizon=horizon)
    manifest, table, regions = kit.run_trace(data, tmp_path / "run")
    totals = manifest["inference"]["chat"]
    assert totals["dropped"] > 0 and totals["in_system"] > 0  # the checks are not vacuous
    check_conservation(kit, manifest, table, regions)


def test_a_lone_request_sees_prefill_then_transfer_then_decodes(kit, tmp_path: Path) -> None:
    prompt, output = 1000, 11
    data = disaggregated(
        kit,
        peak_rps=0.02,
        prompt={"dist": "constant", "value": prompt},
        output={"dist": "constant", "value": output},
        horizon=2000.0,
        window=100.0,
    )
    manifest, table, _ = kit.run_trace(data, tmp_path / "run")
    assert manifest["inference"]["chat"]["served"] >= 5
    prefill_s = 0.01 + 1e-4 * prompt
    transfer_s = 1e-5 + prompt * KV_BYTES * 8 / (8 * 400e9)
    decode_s = sum(0.01 + 1e-4 + 1e-7 * (prompt + k) for k in range(1, output))
    ttft = kit.column(table, "ttft_p50_ms")
    latency = kit.column(table, "latency_p50_ms")
    served = kit.column(table, "served") > 0
    np.testing.assert_allclose(ttft[served], (prefill_s + transfer_s) * 1000, rtol=1e-9)
    np.testing.assert_allclose(
        latency[served], (prefill_s + transfer_s + decode_s) * 1000, rtol=1e-9
    )
    sent = kit.column(table, "kv_transfers")
    np.testing.assert_allclose(
        kit.column(table, "kv_transfer_mean_ms")[sent > 0], transfer_s * 1000, rtol=1e-9
    )
    # KV bytes = bytes per token × prompt tokens, summed over the caches sent
    assert kit.column(table, "kv_transfer_bytes").sum() == pytest.approx(
        KV_BYTES * prompt * sent.sum()
    )
    # a lone request's token gaps are the decode pool's iterations at batch 1, and it is
    # admitted at once by both pools
    gaps = [0.01 + 1e-4 + 1e-7 * (prompt + k) for k in range(1, output)]
    np.testing.assert_allclose(
        kit.column(table, "tbt_mean_ms")[served], np.mean(gaps) * 1000, rtol=1e-9
    )
    np.testing.assert_allclose(kit.column(table, "sched_delay_mean_ms")[served], 0.0, atol=1e-9)
    summary = summarize(open_run(tmp_path / "run"))
    (chat,) = summary.services
    assert chat["serving"] == "disaggregated"
    assert chat["tbt_p50_ms"] == pytest.approx(np.median(gaps) * 1000, rel=0.01)


def test_a_disaggregated_run_is_deterministic(kit, tmp_path: Path) -> None:
    data = disaggregated(kit, peak_rps=4.0, horizon=60.0)
    kit.run_trace(data, tmp_path / "one")
    kit.run_trace(data, tmp_path / "two")
    for name in ("inference.arrow", "inference_regions.arrow"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def _goodput_share(kit, tmp_path: Path, data, name: str) -> float:
    """Of the requests finished or dropped, the share served within every SLO."""
    _, table, _ = kit.run_trace(data, tmp_path / name)
    finished = kit.column(table, "served").sum() + kit.column(table, "dropped").sum()
    return 1.0 - kit.column(table, "slo_misses").sum() / finished


def _pair(kit, *, prompt: int, output: int, rps: float, slo: dict) -> tuple[dict, dict]:
    """Co-located (two replicas) and disaggregated (one prefill + one decode replica) on the
    same 16 accelerators, vLLM, the same load and SLOs."""
    lengths = {
        "prompt": {"dist": "constant", "value": prompt},
        "output": {"dist": "constant", "value": output},
    }
    common = {"iteration": LINE, "max_queue": 8, "scheduler": "vllm", "token_budget": 0, "slo": slo}
    colocated = kit.llm(peak_rps=rps, replicas={"a": 2}, **lengths, **common)
    split = kit.llm(
        peak_rps=rps,
        replicas={"a": 1},
        **lengths,
        **common,
        disaggregation={"prefill": {"replicas": {"a": 1}}},
    )
    return tuple(
        kit.scenario([kit.site("a", 16)], [kit.region("r")], [svc], horizon=300.0, window=10.0)
        for svc in (colocated, split)
    )


def test_prefill_heavy_load_meets_a_tight_tpot_slo_only_disaggregated(kit, tmp_path: Path):
    """Long prompts, short outputs: co-located vLLM stalls running decodes for every new
    prompt's 0.41 s prefill, so TPOT (≈ 11 ms per decode) breaks a 15 ms SLO whenever a
    prompt arrives mid-decode; a decode pool never stalls."""
    colocated, split = _pair(
        kit, prompt=4000, output=40, rps=1.5, slo={"ttft_s": 10, "tpot_s": 0.015}
    )
    together = _goodput_share(kit, tmp_path, colocated, "colocated")
    apart = _goodput_share(kit, tmp_path, split, "split")
    assert apart > 0.99 and together < 0.9, (together, apart)


def test_decode_heavy_load_is_served_better_co_located(kit, tmp_path: Path):
    """Short prompts, long outputs at 12 requests/s: one decode replica saturates (about
    9 requests/s at batch 64) while its prefill twin idles; two co-located replicas keep up."""
    colocated, split = _pair(
        kit, prompt=100, output=400, rps=12.0, slo={"ttft_s": 2, "tpot_s": 0.05}
    )
    together = _goodput_share(kit, tmp_path, colocated, "colocated")
    apart = _goodput_share(kit, tmp_path, split, "split")
    assert together > 0.95 and apart < 0.85, (together, apart)
