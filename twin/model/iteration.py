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
(Kwon et al., SOSP 2023; Agrawal et al., OSDI 2024). For a 70B model on 8 × H100 (BF16) and
the mean Azure conversation lengths (prompt 1,155, output 211 tokens), decode-only
iterations at batch 64 give about 530 output tokens/s per GPU (context 1,155 + 211/2), inside
the 300–900 measured for vLLM (Lambda Labs vLLM benchmark, 2024). Counting the prefills as
well, a saturated replica completes about 11 requests/s (:meth:`IterationModel.throughput_rps`,
vLLM or Sarathi with a 512-token budget alike): about 290 output tokens/s per GPU.
A calibrated model takes measured coefficients instead.
"""

from __future__ import annotations

import math
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
        self,
        batch: int,
        prompt: float,
        output: float,
        token_budget: int = 0,
        scheduler: str = "vllm",
    ) -> float:
        """Requests/s a saturated replica completes, with at most ``batch`` running and mean
        prompt and output lengths.

        ``batch`` is first capped by the KV cache, ``⌊kv_capacity_tokens / (prompt +
        output)⌋``. Each request costs the linear work ``w = c_pf·prompt + (output − 1)·(c_b
        + c_kv·(prompt + output/2))`` (prefill, then decodes at their mean context), and
        every iteration the fixed ``c0``; if an iteration completes ``m`` requests on
        average, the throughput is ``m / (c0 + m·w)``, where

        * ``vllm``: a batch of ``batch`` requests runs ``g`` prefill-only iterations, then
          ``output − 1`` decode iterations: ``m = batch / (g + output − 1)``, with ``g = 1``,
          or under a prompt-token cap ``token_budget > 0``, ``g = ⌈batch / max(1,
          ⌊token_budget / prompt⌋)⌉``;
        * ``sarathi``: a request holds a running slot for about ``output`` iterations, and an
          iteration carries at most ``token_budget`` tokens, of which a request needs
          ``prompt + output − 1``: ``m = min(batch / output, token_budget / (prompt + output
          − 1))`` (the slot bound, or the token-budget bound).

        These are the saturation rates that ``tests/kernels/test_queueing.py`` checks against
        the batching kernel (vLLM with synchronised batches is its upper bound).
        """
        output = max(1.0, float(output))
        prompt = max(1.0, float(prompt))
        batch = max(1, min(batch, self.kv_capacity_tokens // max(1, int(prompt + output))))
        work = self.c_pf * prompt + (output - 1) * (self.c_b + self.c_kv * (prompt + output / 2))
        if scheduler == "sarathi":
            per_iteration = batch / output
            if token_budget > 0:
                per_iteration = min(per_iteration, token_budget / (prompt + output - 1))
        else:
            prefills = 1
            if token_budget > 0:
                prefills = math.ceil(batch / max(1, int(token_budget // prompt)))
            per_iteration = batch / (prefills + output - 1)
        return per_iteration / (self.c0 + per_iteration * work)


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
