"""Cross-checks of an inference service's source of requests: the synthetic stream
(``peak_rps`` and length distributions) or a trace (``trace``), never half of each."""

from __future__ import annotations

from typing import Any

from twin.config.errors import ConfigIssue
from twin.config.raw_checks import known

SYNTHETIC_KEYS = (
    "peak_rps",
    "service_s",
    "prompt_tokens",
    "output_tokens",
    "lengths_pairing",
    "lengths_rank_correlation",
)
"""What a traced service takes from its trace instead of its own keys."""


def traced(service: dict[str, Any]) -> bool:
    """Whether a (raw) service replays a trace."""
    return isinstance(service.get("trace"), dict)


def check_request_source(
    path: str, service: dict[str, Any], region_ids: list[str], fidelity: Any
) -> list[ConfigIssue]:
    """A synthetic service has ``peak_rps``; a traced one has none of :data:`SYNTHETIC_KEYS`
    (the trace gives every request its time and lengths), only known regions in
    ``trace.regions``, and runs at the ``request`` fidelity."""
    if not traced(service):
        if service.get("peak_rps") is None:
            return [ConfigIssue(f"{path}.peak_rps", "required for a service without a trace")]
        return []
    issues = [
        ConfigIssue(
            f"{path}.{key}",
            "not used by a traced service: the trace gives every request its arrival and its "
            "own lengths (set the rate with trace.rate_scale or trace.peak_rps); remove it",
        )
        for key in SYNTHETIC_KEYS
        if service.get(key) is not None
    ]
    shares = service["trace"].get("regions")
    for region_id in shares if isinstance(shares, dict) else ():
        if region_id not in region_ids:
            issues.append(
                ConfigIssue(
                    f"{path}.trace.regions.{region_id}", f"unknown region; {known(region_ids)}"
                )
            )
    if fidelity == "fluid":
        issues.append(
            ConfigIssue(
                f"{path}.trace",
                "a trace is replayed request by request: expected workloads.inference.fidelity "
                "request (fluid draws arrivals from rates and lengths from distributions)",
            )
        )
    return issues
