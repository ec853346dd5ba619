"""Cross-checks of a service's ``disaggregation`` block (prefill/decode pools and the KV
transfer), on raw config data so that every problem comes back with its path."""

from __future__ import annotations

from typing import Any

from twin.config.errors import ConfigIssue
from twin.config.raw_checks import known


def check_disaggregation(
    path: str,
    service: dict[str, Any],
    site_ids: list[str],
    catalogue: list[str],
    fidelity: Any,
) -> list[ConfigIssue]:
    """A disaggregated service is an ``llm`` one at the ``request`` fidelity with static
    replicas: prefill replicas at known sites (some), decode replicas (its own) at some
    site, known accelerator types, and KV bytes per token (from its model or given)."""
    block = service.get("disaggregation")
    if not isinstance(block, dict):
        return []
    here = f"{path}.disaggregation"
    if service.get("kind") != "llm":
        return [ConfigIssue(here, "only kind llm services can be disaggregated")]
    issues: list[ConfigIssue] = []
    if fidelity == "fluid":
        issues.append(
            ConfigIssue(here, "needs workloads.inference.fidelity request (fluid has no pools)")
        )
    if service.get("autoscale") is not None:
        issues.append(
            ConfigIssue(
                f"{path}.autoscale",
                "not supported with disaggregation: give both pools static replicas "
                "(replicas and disaggregation.prefill.replicas)",
            )
        )
    decode = service.get("replicas")
    if isinstance(decode, dict) and not any(_positive(n) for n in decode.values()):
        issues.append(
            ConfigIssue(
                f"{path}.replicas",
                "a disaggregated service needs decode replicas (its own replicas) at some site",
            )
        )
    prefill = block.get("prefill")
    if isinstance(prefill, dict):
        issues += _check_prefill(f"{here}.prefill", prefill, service, site_ids, catalogue)
    transfer = block.get("kv_transfer")
    transfer = transfer if isinstance(transfer, dict) else {}
    if transfer.get("bytes_per_token") is None and not isinstance(service.get("model"), dict):
        issues.append(
            ConfigIssue(
                f"{here}.kv_transfer.bytes_per_token",
                "required when the service has no model (its kv_bytes_per_token is the default)",
            )
        )
    return issues


def _check_prefill(
    here: str,
    prefill: dict[str, Any],
    service: dict[str, Any],
    site_ids: list[str],
    catalogue: list[str],
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    replicas = prefill.get("replicas")
    if isinstance(replicas, dict):
        for site_id in replicas:
            if site_id not in site_ids:
                issues.append(
                    ConfigIssue(f"{here}.replicas.{site_id}", f"unknown site; {known(site_ids)}")
                )
        if not any(_positive(n) for n in replicas.values()):
            issues.append(
                ConfigIssue(f"{here}.replicas", "the prefill pool needs replicas at some site")
            )
    kinds = prefill.get("accelerator_types")
    for k, kind in enumerate(kinds if isinstance(kinds, list) else []):
        if kind not in catalogue:
            issues.append(
                ConfigIssue(
                    f"{here}.accelerator_types[{k}]",
                    f"unknown accelerator {kind!r}; {known(catalogue)}",
                )
            )
    iteration = prefill.get("iteration")
    if iteration is None:
        iteration = service.get("iteration")
    iteration = iteration if isinstance(iteration, dict) else {}
    if iteration.get("model", "roofline") == "roofline" and service.get("model") is None:
        issues.append(
            ConfigIssue(
                f"{here}.iteration",
                "the roofline iteration model needs the service's model; give it, or a "
                "calibrated or profile iteration model",
            )
        )
    if (
        iteration.get("model") == "profile"
        and iteration.get("kv_capacity_tokens") is None
        and service.get("model") is None
    ):
        issues.append(
            ConfigIssue(
                f"{here}.iteration.kv_capacity_tokens",
                "required with the profile iteration model when the service has no model",
            )
        )
    scheduler = _first(prefill.get("scheduler"), service.get("scheduler"), "sarathi")
    budget = _first(prefill.get("token_budget"), service.get("token_budget"), 512)
    batch = _first(prefill.get("max_batch"), service.get("max_batch"), 64)
    if (
        scheduler == "sarathi"
        and isinstance(budget, int)
        and isinstance(batch, int)
        and budget < batch
    ):
        issues.append(
            ConfigIssue(
                f"{here}.token_budget",
                f"sarathi needs token_budget >= max_batch ({batch}), got {budget}",
            )
        )
    return issues


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _first(*values: Any) -> Any:
    """The first value that is set (not None)."""
    return next(value for value in values if value is not None)
