"""Prefill/decode disaggregation: the books balance with requests between the pools, a lone
request's latencies are the hand-computed prefill + KV transfer + decode iterations, the KV
bytes are bytes per token × prompt tokens, and a run is deterministic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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


def test_a_disaggregated_run_is_deterministic(kit, tmp_path: Path) -> None:
    data = disaggregated(kit, peak_rps=4.0, horizon=60.0)
    kit.run_trace(data, tmp_path / "one")
    kit.run_trace(data, tmp_path / "two")
    for name in ("inference.arrow", "inference_regions.arrow"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
