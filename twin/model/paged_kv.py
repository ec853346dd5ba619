"""The paged-KV settings of an llm service as the batching kernel takes them
(:class:`~twin.kernels.batching_state.BatchingParams` ``kv_block_tokens``,
``swap_s_per_token``)."""

from __future__ import annotations

from twin.config.schema import Service


def kv_paging(service: Service) -> dict[str, int | float]:
    """``kv_block_tokens`` (0: reserve) and ``swap_s_per_token`` (negative: recompute) of
    ``service``: a swap moves ``kv_bytes_per_token`` bytes per token over ``swap_gbps``."""
    if service.kv_admission == "reserve":
        return {"kv_block_tokens": 0, "swap_s_per_token": -1.0}
    swap_s = -1.0
    if service.preemption == "swap":
        assert service.model is not None  # twin.config.validate requires it
        swap_s = service.model.kv_bytes_per_token * 8.0 / (service.swap_gbps * 1e9)
    return {"kv_block_tokens": service.kv_block_tokens, "swap_s_per_token": swap_s}
