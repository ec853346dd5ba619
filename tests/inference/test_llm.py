"""LLM services: the roofline iteration model by hand, placement, and latencies at low load.

Hand numbers for a 70B model (Llama-3.1-70B class) on a replica of 8 × H100 SXM (989 dense
BF16 TFLOPS, 3.35 TB/s HBM, 80 GB) with the schema's defaults (η_c = 0.5, η_m = 0.7,
4 ms overhead, 90 % of HBM usable):

* weights 2 × 70e9 = 140 GB; KV bytes/token 2 × 80 layers × 8 KV heads × 128 × 2 = 327,680;
* c_pf = c_b = 2 × 70e9 / (8 × 989e12 × 0.5) = 140e9 / 3.956e15 = 3.5389e-5 s per token;
* c0 = 0.004 + 140e9 / (8 × 3.35e12 × 0.7) = 0.004 + 140e9 / 1.876e13 = 0.0114627 s;
* c_kv = 327,680 / 1.876e13 = 1.74670e-8 s per context token;
* KV capacity = ⌊(8 × 80e9 × 0.9 − 140e9) / 327,680⌋ = ⌊436e9 / 327,680⌋ = 1,330,566 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from twin.kernels.batching_bank import ReplicaBank
from twin.kernels.queueing import BatchingReplica

from twin.config import load_config
from twin.config.errors import ConfigError
from twin.model.iteration import IterationModel, ReplicaDoesNotFitError, iteration_model
from twin.model.world import World

C_PF = 3.5389282103134479e-05
C0 = 0.004 + 0.0074626865671641791
C_KV = 1.7466950959488273e-08
KV_TOKENS = 1_330_566


def service_and_h100(kit: Any, **extra: Any):
    data = kit.scenario(
        [kit.site("a", 16)], [kit.region("r")], [kit.llm(peak_rps=1.0, replicas={"a": 1}, **extra)]
    )
    scenario = kit.build(data)
    return scenario.workloads.inference.services[0], scenario.accelerators["H100"]


def test_roofline_coefficients_by_hand(kit) -> None:
    assert kit.LLAMA_70B["kv_bytes_per_token"] == 2 * 80 * 8 * 128 * 2
    assert pytest.approx(140e9 / 3.956e15, rel=1e-12) == C_PF
    assert pytest.approx(140e9 / 1.876e13, rel=1e-12) == C0 - 0.004
    assert pytest.approx(327680 / 1.876e13, rel=1e-12) == C_KV
    assert KV_TOKENS == 436e9 // 327680
    model = iteration_model(*service_and_h100(kit))
    assert model.c_pf == pytest.approx(C_PF, rel=1e-12)
    assert model.c_b == pytest.approx(C_PF, rel=1e-12)
    assert model.c0 == pytest.approx(C0, rel=1e-12)
    assert model.c_kv == pytest.approx(C_KV, rel=1e-12)
    assert model.kv_capacity_tokens == KV_TOKENS
    assert model.prefill_s(1000) == pytest.approx(C0 + 1000 * C_PF)
    assert model.decode_s(4, 2000) == pytest.approx(C0 + 4 * C_PF + 4 * 2000 * C_KV)


def test_roofline_decode_throughput_is_in_the_measured_range(kit) -> None:
    """The module's claim: ~500 output tokens/s per GPU decoding at batch 64 (measured vLLM
    70B on 8 × H100: 300–900). Mean Azure conversation lengths: prompt 1,155, output 211."""
    model = iteration_model(*service_and_h100(kit))
    context = 1155 + 211 / 2
    per_gpu = 64 / model.decode_s(64, context) / 8
    assert 300 < per_gpu < 900
    assert per_gpu == pytest.approx(529, rel=0.02)


def test_europe_chat_service_uses_these_coefficients() -> None:
    scenario = load_config("europe")
    chat = next(s for s in scenario.workloads.inference.services if s.id == "chat")
    model = iteration_model(chat, scenario.accelerators["H100"])
    assert (model.c0, model.c_pf, model.c_kv, model.kv_capacity_tokens) == pytest.approx(
        (C0, C_PF, C_KV, KV_TOKENS), rel=1e-12
    )


def test_roofline_options_move_the_coefficients(kit) -> None:
    service, h100 = service_and_h100(
        kit,
        model={**kit.LLAMA_70B, "weight_bytes": 70e9},  # 8-bit weights
        iteration={"model": "roofline", "compute_efficiency": 0.25, "overhead_s": 0.0},
    )
    model = iteration_model(service, h100)
    assert model.c0 == pytest.approx(70e9 / 1.876e13)
    assert model.c_pf == pytest.approx(2 * C_PF)  # FLOPs follow parameters, not bytes
    assert model.kv_capacity_tokens == (576_000_000_000 - 70_000_000_000) // 327680


def test_calibrated_coefficients_pass_through(kit) -> None:
    service, h100 = service_and_h100(
        kit,
        iteration={
            "model": "calibrated",
            "c0_s": 0.02,
            "prefill_s_per_token": 1e-4,
            "decode_s_per_request": 2e-4,
            "decode_s_per_context_token": 3e-8,
            "kv_capacity_tokens": 50_000,
        },
    )
    model = iteration_model(service, h100)
    assert (model.c0, model.c_pf, model.c_b, model.c_kv, model.kv_capacity_tokens) == (
        0.02,
        1e-4,
        2e-4,
        3e-8,
        50_000,
    )


# ---------------------------------------------------------------- replicas that do not fit

LLAMA_405B = {"parameters_b": 405, "kv_bytes_per_token": 516096}


def test_a_model_too_large_for_the_replica_is_rejected(kit) -> None:
    service, h100 = service_and_h100(kit, model=LLAMA_405B)
    with pytest.raises(ReplicaDoesNotFitError, match=r"8 × 80 GB cannot hold 810 GB"):
        iteration_model(service, h100)
    # the roofline needs the HBM bandwidth
    with pytest.raises(ReplicaDoesNotFitError, match="hbm_tbps"):
        iteration_model(service_and_h100(kit)[0], h100.model_copy(update={"hbm_tbps": None}))


def test_a_model_that_fits_no_hosting_site_is_a_config_error(kit) -> None:
    """405B in BF16 needs 810 GB; 8 × 80 GB × 0.9 = 576 GB. Rather than silently dropping
    all its demand, building the world fails with the config path at fault."""
    data = kit.scenario(
        [kit.site("a", 16)],
        [kit.region("r")],
        [
            kit.single("embed", peak_rps=1.0, replicas={"a": 1}),
            kit.llm(peak_rps=2.0, replicas={"a": 1}, model=LLAMA_405B),
        ],
        horizon=300.0,
    )
    with pytest.raises(ConfigError) as caught:
        World(kit.build(data))
    (issue,) = caught.value.issues
    assert issue.path == "workloads.inference.services[1].model"
    assert "8 × 80 GB cannot hold 810 GB" in issue.message
    assert "expected" in issue.message


@pytest.mark.parametrize(
    ("extra", "path", "words"),
    [
        ({"accelerators_per_replica": 32}, "accelerators_per_replica", "16 × H100"),
        ({"accelerator_types": ["B200"]}, "accelerator_types", "B200"),
    ],
)
def test_a_service_no_hosting_site_can_hold_is_a_config_error(
    kit, extra: dict, path: str, words: str
) -> None:
    catalogue = {**kit.scenario([], [], [])["accelerators"]}
    catalogue["B200"] = {**catalogue["H100"], "memory_gb": 192.0}
    data = kit.scenario(
        [kit.site("a", 16)],
        [kit.region("r")],
        [kit.llm(peak_rps=2.0, replicas={"a": 1}, **extra)],
        accelerators=catalogue,
    )
    with pytest.raises(ConfigError) as caught:
        World(kit.build(data))
    (issue,) = caught.value.issues
    assert issue.path == f"workloads.inference.services[0].{path}"
    assert words in issue.message


def test_hosting_sites_the_model_does_not_fit_are_skipped(kit) -> None:
    """Autoscaled over two sites, the 405B model fits only the one with 192 GB parts: the
    other is left out (no replica, no accelerator held, no demand routed there)."""
    catalogue = {
        "H100": {"tdp_w": 700.0, "bf16_tflops": 989.0, "memory_gb": 80.0, "hbm_tbps": 3.35},
        "BIG": {"tdp_w": 1000.0, "bf16_tflops": 500.0, "memory_gb": 192.0, "hbm_tbps": 5.0},
    }
    small = kit.site("a", 16)
    big = kit.site("b", lat=48.0, lon=2.0)
    big["pools"] = [{"accelerator": "BIG", "count": 16}]
    service = kit.llm(
        peak_rps=0.5,
        model=LLAMA_405B,
        replicas={},
        autoscale={"min_replicas": 1, "max_replicas": 2},
    )
    data = kit.scenario(
        [small, big], [kit.region("r")], [service], horizon=300.0, accelerators=catalogue
    )
    world = kit.run_world(data)
    model = world.inference.services[0]
    assert [site.factory.id for site in model.sites] == ["b"]
    assert model.unplaced == ["a"]
    assert world.factories[0].reserved_accelerators == 0
    assert model.sites[0].count == 1
    assert model.totals["arrivals"] > 50
    assert model.totals["dropped"] == 0


def test_replicas_go_to_a_pool_they_fit_in(kit) -> None:
    """A faster pool that cannot hold the model is skipped for a slower one that can."""
    big = {"tdp_w": 1000.0, "bf16_tflops": 500.0, "memory_gb": 192.0, "hbm_tbps": 5.0}
    catalogue = {
        "H100": {"tdp_w": 700.0, "bf16_tflops": 989.0, "memory_gb": 80.0, "hbm_tbps": 3.35},
        "BIG": {**big, "speed": 0.5},
    }
    site = kit.site("a")
    site["pools"] = [{"accelerator": "H100", "count": 8}, {"accelerator": "BIG", "count": 8}]
    data = kit.scenario(
        [site],
        [kit.region("r")],
        [kit.llm(peak_rps=0.5, replicas={"a": 1}, model=LLAMA_405B)],
        horizon=120.0,
        accelerators=catalogue,
    )
    world = kit.run_world(data)
    placed = world.inference.services[0].sites[0]
    assert placed.count == 1
    assert placed.pool.accelerator == "BIG"
    assert world.factories[0].pools["BIG"].free == 0
    assert world.factories[0].pools["H100"].free == 8
    assert placed.iteration.kv_capacity_tokens == int((8 * 192e9 * 0.9 - 810e9) // 516096)


# ---------------------------------------------------------------- latencies at low load

PROMPT, OUTPUT = 1000, 50
FAR_LON = 17.0  # the region is ~500 km east of the site


def lone_requests(
    kit: Any, scheduler: str, peak_rps: float = 0.02, horizon: float = 4 * 3600.0, **extra: Any
) -> dict:
    """By default one request every 50 s on average, each ~0.6 s of work: almost always
    alone."""
    return kit.scenario(
        [kit.site("a", 8)],
        [kit.region("r", lon=FAR_LON)],
        [
            kit.llm(
                peak_rps=peak_rps,
                replicas={"a": 1},
                prompt={"dist": "constant", "value": PROMPT},
                output={"dist": "constant", "value": OUTPUT},
                scheduler=scheduler,
                token_budget=512 if scheduler == "sarathi" else 0,
                **extra,
            )
        ],
        horizon=horizon,
        window=10.0,
    )


@pytest.mark.parametrize("scheduler", ["sarathi", "vllm"])
def test_lone_request_latencies(kit, tmp_path: Path, scheduler: str) -> None:
    """TTFT = prefill + round trip; TPOT = one decode iteration at batch 1, averaged over the
    growing context; end to end = TTFT + (output − 1) × TPOT."""
    rtt = kit.rtt_s(50.0, FAR_LON, 50.0, 10.0)
    # sarathi prefills in chunks of the 512-token budget (512 + 488): two iterations
    prefill = (2 if scheduler == "sarathi" else 1) * C0 + PROMPT * C_PF
    # decode j = 1..49 produces token j + 1 with context PROMPT + j: mean PROMPT + OUTPUT/2
    tpot = C0 + C_PF + C_KV * (PROMPT + OUTPUT / 2)
    _, table, _ = kit.run_trace(lone_requests(kit, scheduler), tmp_path / "run")
    done = table.filter(kit.column(table, "served") > 0)
    assert done.num_rows > 150
    ttft = kit.column(done, "ttft_p50_ms") / 1000
    tpots = kit.column(done, "tpot_p50_ms") / 1000
    e2e = kit.column(done, "latency_p50_ms") / 1000
    alone = np.isclose(ttft, prefill + rtt, rtol=1e-9)
    assert alone.mean() > 0.95  # the rest overlapped with another request
    assert np.median(ttft) == pytest.approx(prefill + rtt, rel=1e-9)
    assert np.median(tpots) == pytest.approx(tpot, rel=1e-9)
    assert np.median(e2e) == pytest.approx(prefill + (OUTPUT - 1) * tpot + rtt, rel=1e-9)
    assert np.all(ttft >= prefill + rtt - 1e-12)
    np.testing.assert_allclose(np.median(kit.column(done, "mean_batch")), 1.0, atol=0.01)


def test_impossible_slo_makes_every_request_a_miss(kit, tmp_path: Path) -> None:
    data = lone_requests(kit, "sarathi", peak_rps=2.0, horizon=600.0, slo={"ttft_s": 1e-6})
    _, table, regions = kit.run_trace(data, tmp_path / "run")
    served = kit.column(table, "served")
    assert served.sum() > 500
    np.testing.assert_array_equal(
        kit.column(table, "slo_misses"), served + kit.column(table, "dropped")
    )
    assert int(kit.column(regions, "slo_misses").sum()) == int(served.sum())


@pytest.mark.parametrize(
    ("slo", "all_miss"),
    [({"ttft_s": 10.0, "tpot_s": 1.0}, False), ({"ttft_s": 10.0, "tpot_s": 0.005}, True)],
    ids=["generous", "tpot-too-tight"],
)
def test_slo_misses_follow_the_objectives(kit, tmp_path: Path, slo: dict, all_miss: bool) -> None:
    """Decoding takes ~12 ms per token: a 1 s TPOT is always met, a 5 ms one never."""
    data = lone_requests(kit, "sarathi", horizon=1800.0, slo=slo)
    _, table, _ = kit.run_trace(data, tmp_path / "run")
    served = int(kit.column(table, "served").sum())
    misses = int(kit.column(table, "slo_misses").sum())
    assert served > 10
    assert misses == (served if all_miss else 0)


# ---------------------------------------------------------------- queue limit per replica


@pytest.mark.parametrize("window", [2.0, 10.0])
def test_llm_queue_limit_bounds_the_waiting_queue_not_arrivals_per_window(
    kit, tmp_path: Path, window: float
) -> None:
    """At 6 req/s a replica (batch 64, KV for 1.3 M tokens) holds ~30 requests, all
    running: without a limit nothing ever waits for admission, so max_queue = 4 should
    almost never drop a request — whatever the window. (Measured: 66 % dropped with 2 s
    windows, 93 % with 10 s.)"""
    data = kit.scenario(
        [kit.site("a", 8)],
        [kit.region("r")],
        [kit.llm(peak_rps=6.0, replicas={"a": 1})],
        horizon=600.0,
        window=window,
    )
    manifest, table, _ = kit.run_trace(data, tmp_path / "unlimited")
    assert manifest["inference"]["chat"]["dropped"] == 0
    assert int(kit.column(table, "in_system").max()) < 64  # no one waits at window ends
    data["workloads"]["inference"]["services"][0]["max_queue"] = 4
    manifest, table, _ = kit.run_trace(data, tmp_path / "limited")
    totals = manifest["inference"]["chat"]
    assert totals["dropped"] < 0.01 * totals["arrivals"]


def test_llm_queue_limit_bounds_each_replicas_waiting_queue_under_overload(
    kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 req/s on one replica that completes ~11 req/s, max_queue = 4: most requests are
    dropped, and the replica's waiting queue (requests taken in but not yet admitted) never
    holds more than 4, at any window end. Drops are counted per region, and the books
    balance."""
    data = kit.scenario(
        [kit.site("a", 8)],
        [kit.region("r", share=3.0), kit.region("q", lat=49.0, lon=9.0)],
        [kit.llm(peak_rps=30.0, replicas={"a": 1}, max_queue=4)],
        horizon=300.0,
        window=7.0,
    )
    queued: list[int] = []
    original = ReplicaBank.step

    def step(self: ReplicaBank, slots: list[int], *args: Any, **kwargs: Any) -> Any:
        result = original(self, slots, *args, **kwargs)
        queued.extend(self.n_queued(slot) for slot in slots)
        return result

    monkeypatch.setattr(ReplicaBank, "step", step)
    manifest, table, regions = kit.run_trace(data, tmp_path / "run")
    totals = manifest["inference"]["chat"]
    assert 0.4 < totals["dropped"] / totals["arrivals"] < 0.8
    assert max(queued) == 4
    assert float(np.median(kit.column(table, "busy"))) > 0.95  # saturated
    dropped = {
        region: int(kit.column(kit.rows(regions, region=region), "dropped").sum())
        for region in ("r", "q")
    }
    assert sum(dropped.values()) == totals["dropped"]
    assert dropped["r"] > 2 * dropped["q"] > 0  # shares 3 : 1
    left = int(kit.column(table, "in_system")[-1])
    assert totals["arrivals"] == totals["served"] + totals["dropped"] + left


def test_llm_max_queue_zero_is_a_config_error(kit) -> None:
    """Every llm request waits at least for the next iteration boundary: a waiting queue of
    0 would drop them all (single services keep max_queue = 0: an Erlang loss system)."""
    data = kit.scenario(
        [kit.site("a", 8)], [kit.region("r")], [kit.llm(peak_rps=1.0, replicas={"a": 1})]
    )
    data["workloads"]["inference"]["services"][0]["max_queue"] = 0
    with pytest.raises(ConfigError) as caught:
        kit.build(data)
    assert [i.path for i in caught.value.issues] == ["workloads.inference.services[0].max_queue"]
    data["workloads"]["inference"]["services"][0]["max_queue"] = 1
    assert kit.build(data).workloads.inference.services[0].max_queue == 1


# ---------------------------------------------------------------- saturated throughput


@pytest.mark.parametrize(
    ("scheduler", "budget", "arrivals"),
    [
        ("vllm", 0, "burst"),
        ("vllm", 1024, "burst"),  # 2 prompts per prefill iteration: 16 prefills per batch
        ("sarathi", 4096, "poisson"),  # slot-bound
        ("sarathi", 64, "poisson"),  # token-budget-bound
    ],
)
def test_throughput_bound_matches_the_batching_kernel(
    scheduler: str, budget: int, arrivals: str
) -> None:
    """``IterationModel.throughput_rps`` (used for routing and autoscaling) is the rate the
    kernel completes when saturated, the token budget included."""
    model = IterationModel(c0=0.004, c_pf=2e-5, c_b=1e-4, c_kv=5e-8, kv_capacity_tokens=10**9)
    prompt, output, batch, n = 512, 64, 32, 20_000
    want = model.throughput_rps(batch, prompt, output, budget, scheduler=scheduler)
    rng = np.random.default_rng(9)
    times = (
        np.zeros(n)
        if arrivals == "burst"
        else np.cumsum(rng.exponential(1 / (3 * want), n))  # 3x overload
    )
    replica = BatchingReplica(scheduler, 0.004, 2e-5, 1e-4, 5e-8, batch, 10**9, budget)
    done = replica.step(times, np.full(n, prompt), np.full(n, output), np.inf)
    finish = np.sort(done.finish_s)
    measured = (n // 2) / (finish[3 * n // 4] - finish[n // 4])
    assert measured == pytest.approx(want, rel=0.01)


def test_throughput_uses_the_token_budget() -> None:
    model = IterationModel(c0=0.004, c_pf=2e-5, c_b=1e-4, c_kv=5e-8, kv_capacity_tokens=10**9)
    rates = [model.throughput_rps(32, 512, 64, b, scheduler="sarathi") for b in (64, 256, 4096)]
    assert rates[0] < rates[1] < rates[2]
    # vLLM without a cap is the synchronised-batch rate of the old formula
    assert model.throughput_rps(32, 512, 64) == model.throughput_rps(32, 512, 64, 0, "vllm")
    assert model.throughput_rps(32, 512, 64, 1024) < model.throughput_rps(32, 512, 64)
    # the KV cache caps the batch: 10 requests of 576 tokens fit in 5,760
    small = IterationModel(0.004, 2e-5, 1e-4, 5e-8, kv_capacity_tokens=5760)
    assert small.throughput_rps(32, 512, 64) == model.throughput_rps(10, 512, 64)
