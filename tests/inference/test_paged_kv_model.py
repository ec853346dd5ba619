"""A service with ``kv_admission: paged`` writes its preemptions per window in
inference.arrow (null for reserve services) and keeps its books: arrivals = served +
dropped + in flight, preempted requests counted in flight."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.config import ConfigError

from .test_inference import check_conservation, llm_with_drops, two_regions, two_sites


def paged_scenario(kit, preemption: str) -> dict:
    paged = llm_with_drops(kit, kv_admission="paged", preemption=preemption, max_queue=8)
    reserve = llm_with_drops(kit, max_queue=8) | {"id": "plain"}
    return kit.scenario(
        two_sites(kit),
        two_regions(kit),
        [paged, reserve],
        horizon=125.0,
        window=10.0,
        routing="slo_aware",
        interval=30.0,
    )


@pytest.mark.parametrize("preemption", ["recompute", "swap"])
def test_paged_service_writes_preemptions_and_balances_its_books(kit, tmp_path: Path, preemption):
    manifest, table, regions = kit.run_trace(paged_scenario(kit, preemption), tmp_path / "run")
    paged = kit.rows(table, service="chat")
    counts = paged.column("preemptions")
    assert counts.null_count == 0
    assert int(np.sum(counts.to_numpy())) > 0  # the small KV cache runs out
    assert kit.rows(table, service="plain").column("preemptions").null_count == len(
        kit.rows(table, service="plain")
    )
    assert manifest["inference"]["chat"]["served"] > 0
    check_conservation(kit, manifest, table, regions)


def test_swap_needs_the_model_bytes_per_token(kit) -> None:
    data = paged_scenario(kit, "swap")
    del data["workloads"]["inference"]["services"][0]["model"]
    data["workloads"]["inference"]["services"][0]["iteration"] = {
        "model": "calibrated",
        "c0_s": 0.01,
        "prefill_s_per_token": 1e-4,
        "decode_s_per_request": 1e-4,
        "decode_s_per_context_token": 1e-7,
        "kv_capacity_tokens": 50_000,
    }
    with pytest.raises(ConfigError) as caught:
        kit.build(data)
    assert "workloads.inference.services[0].preemption" in str(caught.value)
