"""Iteration time of an LLM replica under continuous batching.

One iteration takes ``t = c0 + c_pf·P + c_b·B + c_kv·K`` seconds, where ``P`` is the prompt
tokens prefilled in it, ``B`` the requests decoding and ``K`` the sum of their contexts.

**Roofline** (default), for a replica of ``g`` accelerators with tensor parallelism, each with
BF16 peak ``F`` FLOP/s and HBM bandwidth ``W`` bytes/s:

* prefill is compute-bound: ``2 × parameters`` FLOPs per token, so
  ``c_pf = 2·N / (g·F·η_c)``;
* every iteration streams the weights once from HBM: ``c0 = overhead + weights / (g·W·η_m)``;
* each decoding request reads its KV cache, ``c_kv = kv_bytes_per_token / (g·W·η_m)``, and
  computes one token, ``c_b = 2·N / (g·F·η_c)``;
* the KV capacity is what HBM holds beyond the weights:
  ``(g · memory · memory_fraction − weights) / kv_bytes_per_token`` tokens.

Assumptions: compute and memory phases add rather than overlap (conservative); attention
FLOPs of long prompts, communication between the ``g`` accelerators and quantisation are not
modelled; efficiencies default to η_c = 0.5 and η_m = 0.7, typical of measured vLLM serving
(Kwon et al., SOSP 2023; Agrawal et al., OSDI 2024). For a 70B model on 8 × H100 this gives
about 500 output tokens/s per GPU at batch 64, inside the 300–900 measured for vLLM (Lambda
Labs vLLM benchmark, 2024). A calibrated model takes measured coefficients instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.config.schema import Accelerator, Calibrated, Roofline, Service


class ReplicaDoesNotFitError(ValueError):
    """The model's weights leave no room for a KV cache on the replica's accelerators."""


@dataclass(frozen=True)
class IterationModel:
    """Coefficients of the linear iteration-time model of one replica (seconds)."""

    c0: float
    c_pf: float
    c_b: float
    c_kv: float
    kv_capacity_tokens: int

    def prefill_s(self, tokens: float) -> float:
        return self.c0 + self.c_pf * tokens

    def decode_s(self, batch: float, context_tokens: float) -> float:
        return self.c0 + self.c_b * batch + self.c_kv * batch * context_tokens

    def throughput_rps(
        self, batch: int, prompt: float, output: float, token_budget: int = 0
    ) -> float:
        """Requests/s a saturated replica completes at ``batch`` with mean lengths.

        Each request costs its prefill work and ``output − 1`` decode steps; a batch of
        ``batch`` shares every iteration's fixed cost. With a per-iteration token budget the
        number of decode iterations per request is at least its output tokens.
        """
        batch = max(1, min(batch, self.kv_capacity_tokens // max(1, int(prompt + output))))
        context = prompt + output / 2
        decode_step = self.c0 + self.c_b * batch + self.c_kv * batch * context
        per_batch = batch * self.c_pf * prompt + self.c0 + max(0.0, output - 1) * decode_step
        return batch / per_batch


def iteration_model(service: Service, accelerator: Accelerator) -> IterationModel:
    """The iteration model of one replica of ``service`` on ``accelerator``s."""
    spec = service.iteration
    if isinstance(spec, Calibrated):
        return IterationModel(
            spec.c0_s,
            spec.prefill_s_per_token,
            spec.decode_s_per_request,
            spec.decode_s_per_context_token,
            spec.kv_capacity_tokens,
        )
    assert isinstance(spec, Roofline) and service.model is not None
    if accelerator.hbm_tbps is None:
        raise ReplicaDoesNotFitError("the roofline model needs the accelerator's hbm_tbps")
    g = service.accelerators_per_replica
    model = service.model
    weights = model.weight_bytes or 2.0 * model.parameters_b * 1e9
    flops = g * accelerator.bf16_tflops * 1e12 * spec.compute_efficiency
    bandwidth = g * accelerator.hbm_tbps * 1e12 * spec.memory_efficiency
    per_token_flops = 2.0 * model.parameters_b * 1e9
    memory = g * accelerator.memory_gb * 1e9 * spec.memory_fraction
    kv_tokens = int((memory - weights) // model.kv_bytes_per_token)
    if kv_tokens < 2:
        raise ReplicaDoesNotFitError(
            f"{g} × {accelerator.memory_gb:g} GB cannot hold {weights / 1e9:g} GB of weights "
            "and a KV cache"
        )
    return IterationModel(
        c0=spec.overhead_s + weights / bandwidth,
        c_pf=per_token_flops / flops,
        c_b=per_token_flops / flops,
        c_kv=model.kv_bytes_per_token / bandwidth,
        kv_capacity_tokens=kv_tokens,
    )
