"""The size of the run a scenario asks for, bounded so that no config can make twin hang.

Each field's range (``twin.config.schema``) says what is physically meaningful; this module
bounds what they add up to: telemetry samples over the horizon, training jobs and bulk
transfers submitted, inference windows and the requests of one window. The bounds are far
above any scenario shipped with twin (a year of ``europe`` is well inside them) and are raised
100-fold by ``--large-input`` (:data:`twin.config.yaml_input.LARGE_LIMITS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.config.errors import ConfigIssue
from twin.config.schema import Scenario

RAISE = "shorten the horizon, coarsen the setting, or pass --large-input"


@dataclass(frozen=True)
class WorkBounds:
    """The largest run a scenario may ask for (multiplied by ``InputLimits.work_scale``)."""

    telemetry_samples: float = 2e6
    """Telemetry stamps over the horizon (horizon / interval)."""
    training_jobs: float = 5e7
    """Expected training jobs submitted."""
    bulk_transfers: float = 5e7
    """Expected bulk transfers started."""
    inference_windows: float = 2e7
    """Windows of one service at one site over the horizon (horizon / window)."""
    window_requests: float = 2e7
    """Requests of one service in one window at the continental peak (peak_rps × window)."""
    scaling_decisions: float = 2e7
    """Autoscaling decisions of one service over the horizon (horizon / interval)."""
    series_steps: float = 1e6
    """Steps of one grid series file (carbon, price or power cap; rows of the file)."""


def check_budget(scenario: Scenario, scale: float = 1.0) -> list[ConfigIssue]:
    """The scenario's work measures that exceed :class:`WorkBounds` × ``scale``."""
    bounds = WorkBounds()
    horizon = scenario.horizon
    issues: list[ConfigIssue] = []

    def bound(path: str, amount: float, limit: float, what: str) -> None:
        if amount > limit * scale:
            issues.append(
                ConfigIssue(
                    path, f"asks for {amount:,.3g} {what}, more than {limit * scale:,.3g}; {RAISE}"
                )
            )

    bound(
        "telemetry.interval",
        horizon / scenario.telemetry.interval,
        bounds.telemetry_samples,
        "telemetry samples over the horizon",
    )
    training = scenario.workloads.training
    if training is not None and training.enabled and training.arrivals_per_day is not None:
        span = min(horizon, training.stop_after if training.stop_after is not None else horizon)
        bound(
            "workloads.training.arrivals_per_day",
            training.arrivals_per_day * span / 86400,
            bounds.training_jobs,
            "training jobs over the horizon",
        )
    transfers = scenario.workloads.transfers
    if transfers is not None and transfers.enabled and transfers.arrivals_per_day is not None:
        bound(
            "workloads.transfers.arrivals_per_day",
            transfers.arrivals_per_day * horizon / 86400,
            bounds.bulk_transfers,
            "bulk transfers over the horizon",
        )
    inference = scenario.workloads.inference
    if inference is not None and inference.enabled:
        bound(
            "workloads.inference.window",
            horizon / inference.window,
            bounds.inference_windows,
            "windows per service and site over the horizon",
        )
        for i, service in enumerate(inference.services):
            path = f"workloads.inference.services[{i}]"
            if service.peak_rps is not None:  # a trace's requests are bounded by its size
                bound(
                    f"{path}.peak_rps",
                    service.peak_rps * inference.window,
                    bounds.window_requests,
                    "requests in one window at the peak",
                )
            if service.autoscale is not None:
                bound(
                    f"{path}.autoscale.interval",
                    horizon / service.autoscale.interval,
                    bounds.scaling_decisions,
                    "autoscaling decisions over the horizon",
                )
    return issues
