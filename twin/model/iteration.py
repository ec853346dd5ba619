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
A calibrated model takes measured coefficients instead, with optional terms the roofline
leaves out: a prefill intercept, attention's quadratic prefill cost and tensor-parallel
communication. A profile model interpolates a table of measured iterations
(:mod:`twin.kernels.iteration_time` states how), so prefill cost convex in the prompt and
decode cost in batch and context follow the engine that was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from twin.config.data_files import trace_file
from twin.config.schema import Accelerator, Calibrated, LLMModel, Profile, Roofline, Service
from twin.kernels.iteration_time import (
    PROFILE,
    iteration_s,
    linear_model,
    prefill_chunk_s,
    profile_model,
)


class ReplicaDoesNotFitError(ValueError):
    """The model's weights leave no room for a KV cache on the replica's accelerators."""


@dataclass(frozen=True)
class IterationModel:
    """The iteration-time model of one replica: the packed kernel model, the KV capacity,
    and the line ``c0 + c_pf·P + c_b·B + c_kv·K`` nearest to it (the model itself when it is
    linear; a least-squares fit of a profile), which the fluid fidelity uses."""

    c0: float
    c_pf: float
    c_b: float
    c_kv: float
    kv_capacity_tokens: int
    packed: np.ndarray | None = None
    """The kernel's model (:mod:`twin.kernels.iteration_time`); None: the line above."""

    @property
    def kernel_model(self) -> np.ndarray:
        if self.packed is not None:
            return self.packed
        return linear_model(self.c0, self.c_pf, self.c_b, self.c_kv)

    @property
    def is_profile(self) -> bool:
        return self.packed is not None and self.packed[0] == PROFILE

    def prefill_s(self, tokens: float) -> float:
        """A prefill-only iteration of one prompt of ``tokens`` tokens."""
        return self._iteration([int(tokens)], 0, 0.0)

    def decode_s(self, batch: float, context_tokens: float) -> float:
        """A decode-only iteration of ``batch`` requests at mean context ``context_tokens``."""
        return self._iteration([], int(batch), batch * context_tokens)

    def _iteration(self, prompts: list[int], decodes: int, contexts: float) -> float:
        model = self.kernel_model
        cost = sum(prefill_chunk_s(model, 0, p) for p in prompts) if self.is_profile else 0.0
        total = sum(prompts)
        square = sum(p * p for p in prompts)
        return float(iteration_s(model, total, square, cost, decodes, contexts))

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
        output)⌋``.

        * ``vllm``: a batch of ``batch`` requests runs ``g`` prefill-only iterations, then
          ``output − 1`` decode iterations of the whole batch at contexts ``prompt + 1`` …
          ``prompt + output − 1``: the throughput is ``batch`` over that cycle's time. ``g =
          1``, or under a prompt-token cap ``token_budget > 0``, ``g = ⌈batch / max(1,
          ⌊token_budget / prompt⌋)⌉``.
        * ``sarathi``: a request holds a running slot for about ``output`` iterations, and an
          iteration carries at most ``token_budget`` tokens, of which a request needs
          ``prompt + output − 1``: an iteration completes ``m = min(batch / output,
          token_budget / (prompt + output − 1))`` requests (the slot bound, or the
          token-budget bound) and holds ``m·(output − 1)`` decodes at mean context ``prompt
          + output / 2`` beside ``m·prompt`` prefill tokens in chunks of at most the budget
          left over: ``m`` over its time.

        For the linear model these are ``m / (c0 + m·w)`` with the linear work ``w =
        c_pf·prompt + (output − 1)·(c_b + c_kv·(prompt + output/2))`` per request, the
        saturation rates ``tests/kernels/test_queueing.py`` checks against the batching
        kernel (vLLM with synchronised batches is its upper bound).
        """
        output = max(1.0, float(output))
        prompt = max(1.0, float(prompt))
        batch = max(1, min(batch, self.kv_capacity_tokens // max(1, int(prompt + output))))
        prefills = 1
        if scheduler != "sarathi" and token_budget > 0:
            prefills = math.ceil(batch / max(1, int(token_budget // prompt)))
        if self.packed is not None:
            if scheduler == "sarathi":
                return self._sarathi_rps(batch, prompt, output, token_budget)
            return batch / self._vllm_cycle_s(batch, prompt, output, prefills)
        work = self.c_pf * prompt + (output - 1) * (self.c_b + self.c_kv * (prompt + output / 2))
        if scheduler == "sarathi":
            per_iteration = batch / output
            if token_budget > 0:
                per_iteration = min(per_iteration, token_budget / (prompt + output - 1))
        else:
            per_iteration = batch / (prefills + output - 1)
        return per_iteration / (self.c0 + per_iteration * work)

    def _vllm_cycle_s(self, batch: int, prompt: float, output: float, prefills: int) -> float:
        model = self.kernel_model
        if not self.is_profile:
            c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp = model[1:8]
            prefill = prefills * (c0 + c_p0) + batch * prompt * (c_pf + c_tp + c_pf2 * prompt)
            decodes = output - 1
            contexts = batch * (decodes * prompt + output * decodes / 2)
            return prefill + decodes * (c0 + (c_b + c_tp) * batch) + c_kv * contexts
        prefill = batch * float(prefill_chunk_s(model, 0, round(prompt)))
        decode = 0.0
        for k in range(1, round(output)):
            decode += float(iteration_s(model, 0, 0, 0.0, batch, batch * (prompt + k)))
        return prefill + decode

    def _sarathi_rps(self, batch: int, prompt: float, output: float, budget: int) -> float:
        per_iteration = batch / output
        if budget > 0:
            per_iteration = min(per_iteration, budget / (prompt + output - 1))
        decodes = per_iteration * (output - 1)
        context = prompt + output / 2
        room = max(1.0, budget - decodes) if budget > 0 else prompt
        chunks = max(1, math.ceil(prompt / room))  # a prompt's chunks, each c_p0 past the first
        share = min(1.0, per_iteration * chunks)  # of the iterations, those with a prefill
        model = self.kernel_model
        if not self.is_profile:
            c0, c_pf, c_b, c_kv, c_p0, c_pf2, c_tp = model[1:8]
            tokens = per_iteration * prompt
            dt = c0 + c_pf * tokens + (c_b + c_kv * context) * decodes + share * c_p0
            dt += c_pf2 * per_iteration * prompt * prompt + c_tp * (tokens + decodes)
            return per_iteration / dt
        whole = float(prefill_chunk_s(model, 0, round(prompt)))
        cost = per_iteration * (whole + (chunks - 1) * float(model[7]))
        decode = float(iteration_s(model, 0, 0, 0.0, decodes, decodes * context))
        if decodes < 1:
            return per_iteration / max(cost, decode)
        # what a prefill iteration saves against its parts apart, at its chunk size
        tokens = max(1, round(per_iteration * prompt / share))
        mixed = float(iteration_s(model, tokens, 0, 0.0, decodes, decodes * context))
        return per_iteration / (decode + cost - share * (decode - mixed))


def iteration_model(service: Service, accelerator: Accelerator) -> IterationModel:
    """The iteration model of one replica of ``service`` on ``accelerator``s."""
    spec = service.iteration
    if isinstance(spec, Calibrated):
        packed = linear_model(
            spec.c0_s,
            spec.prefill_s_per_token,
            spec.decode_s_per_request,
            spec.decode_s_per_context_token,
            spec.prefill_c0_s,
            spec.prefill_s_per_token_squared,
            spec.tp_comm_s_per_token,
        )
        extra = spec.prefill_c0_s or spec.prefill_s_per_token_squared or spec.tp_comm_s_per_token
        return IterationModel(
            spec.c0_s,
            spec.prefill_s_per_token + spec.tp_comm_s_per_token,
            spec.decode_s_per_request + spec.tp_comm_s_per_token,
            spec.decode_s_per_context_token,
            spec.kv_capacity_tokens,
            packed if extra else None,
        )
    if isinstance(spec, Profile):
        packed, line = _profile(spec.file)
        capacity = spec.kv_capacity_tokens
        if capacity is None:
            assert service.model is not None  # the loader requires one of them
            memory = service.accelerators_per_replica * accelerator.memory_gb * 1e9
            capacity = _kv_tokens(service, accelerator, memory * spec.memory_fraction)
        return IterationModel(*line, kv_capacity_tokens=capacity, packed=packed)
    assert isinstance(spec, Roofline) and service.model is not None
    if accelerator.hbm_tbps is None:
        raise ReplicaDoesNotFitError("the roofline model needs the accelerator's hbm_tbps")
    g = service.accelerators_per_replica
    model = service.model
    weights = _weights(model)
    flops = g * accelerator.bf16_tflops * 1e12 * spec.compute_efficiency
    bandwidth = g * accelerator.hbm_tbps * 1e12 * spec.memory_efficiency
    per_token_flops = 2.0 * model.parameters_b * 1e9
    memory = g * accelerator.memory_gb * 1e9 * spec.memory_fraction
    return IterationModel(
        c0=spec.overhead_s + weights / bandwidth,
        c_pf=per_token_flops / flops,
        c_b=per_token_flops / flops,
        c_kv=model.kv_bytes_per_token / bandwidth,
        kv_capacity_tokens=_kv_tokens(service, accelerator, memory),
    )


def _weights(model: LLMModel) -> float:
    return model.weight_bytes or 2.0 * model.parameters_b * 1e9


def _kv_tokens(service: Service, accelerator: Accelerator, memory: float) -> int:
    """The KV tokens ``memory`` bytes hold beyond the weights; refused if under two."""
    assert service.model is not None
    weights = _weights(service.model)
    kv_tokens = int((memory - weights) // service.model.kv_bytes_per_token)
    if kv_tokens < 2:
        g = service.accelerators_per_replica
        raise ReplicaDoesNotFitError(
            f"{g} × {accelerator.memory_gb:g} GB cannot hold {weights / 1e9:g} GB of weights "
            "and a KV cache"
        )
    return kv_tokens


def _profile(file: str) -> tuple[np.ndarray, tuple[float, ...]]:
    """The packed profile model of a profile file and the line fitted to it."""
    from twin.importers.iteration_profile import read_iteration_profile_once

    table = read_iteration_profile_once(trace_file(file))
    return packed_profile(table), _fitted_line(table)


def packed_profile(table) -> np.ndarray:
    """The kernel's profile model of an :class:`~twin.importers.iteration_profile.
    IterationProfile` (repeated rows averaged; the loader has checked its shape)."""
    kind, time = table.kind, table.time_s
    prefill = (kind == "prefill") & (table.prompts == 1)
    tokens, prefill_s = _mean_by(table.prefill_tokens[prefill], time[prefill])
    decode = kind == "decode"
    batches, contexts, decode_s = _grid(
        table.decode_batch[decode], table.decode_context[decode], time[decode]
    )
    mixed = kind == "mixed"
    if not mixed.any():
        return profile_model(tokens, prefill_s, batches, contexts, decode_s)
    chunks, mixed_decodes, mixed_s = _grid(
        table.prefill_tokens[mixed], table.decode_batch[mixed], time[mixed]
    )
    context = float(table.decode_context[mixed][0])
    return profile_model(
        tokens, prefill_s, batches, contexts, decode_s, chunks, mixed_decodes, mixed_s, context
    )


def _mean_by(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axis, index = np.unique(keys, return_inverse=True)
    return axis, np.bincount(index, values) / np.bincount(index)


def _grid(rows: np.ndarray, cols: np.ndarray, values: np.ndarray):
    """The axes and the mean value at each (row, col) of a full grid of points."""
    row_axis, i = np.unique(rows, return_inverse=True)
    col_axis, j = np.unique(cols, return_inverse=True)
    flat = i * len(col_axis) + j
    size = len(row_axis) * len(col_axis)
    grid = np.bincount(flat, values, size) / np.bincount(flat, minlength=size)
    return row_axis, col_axis, grid.reshape(len(row_axis), len(col_axis))


def _fitted_line(table) -> tuple[float, float, float, float]:
    """``c0, c_pf, c_b, c_kv`` nearest to the profile's prefill and decode rows (relative
    least squares, non-negative): the fluid fidelity's view of a profile."""
    single = (table.kind != "prefill") | (table.prompts == 1)
    prefill = np.where(table.kind == "decode", 0, table.prefill_tokens)[single]
    batch = table.decode_batch[single].astype(float)
    terms = np.column_stack(
        [np.ones(len(batch)), prefill, batch, batch * table.decode_context[single]]
    )
    time = table.time_s[single]
    solution, _ = nnls(terms / time[:, None], np.ones(len(time)))
    c0 = max(float(solution[0]), 1e-6)
    return c0, float(solution[1]), float(solution[2]), float(solution[3])
