"""The ``greedy`` scheduler (backfilling with no reservation) on hand-built job lists whose
schedule can be worked out by hand, beside EASY on the same lists."""

from __future__ import annotations

import pytest

HOUR_S = 3600.0


def starts(model_kit, scheduler: str, jobs) -> list[float | None]:
    sites = [model_kit.site("s", 4)]
    world = model_kit.run_jobs(model_kit.scenario(sites, "least_loaded", scheduler=scheduler), jobs)
    return [job.start_s for job in sorted(world.jobs, key=lambda job: job.id)]


def test_a_late_wide_job_is_overtaken_without_a_reservation(model_kit) -> None:
    """4 accelerators. A: 2 for 100 s at 0; B: all 4 for 10 s at 1; C: 2 for 1000 s at 2.
    EASY reserves t = 100 for B, so C (which would hold 2 past it) waits for B: 110.
    Greedy starts C at once, and B waits for C's end: 1002."""
    spec = model_kit.JobSpec
    jobs = [spec(0.0, 2, 100.0), spec(1.0, 4, 10.0), spec(2.0, 2, 1000.0)]
    assert starts(model_kit, "easy_backfill", jobs) == [0.0, 100.0, 110.0]
    assert starts(model_kit, "greedy", jobs) == [0.0, 1002.0, 2.0]


def test_simultaneous_ends_are_seen_together(model_kit) -> None:
    """4 accelerators: A (1) and B (3) run; both end at t = 1 h (A submitted at 0 for 1 h,
    B at 0.5 h for 0.5 h). C wants all 4 and was queued first, D wants 1 and came later.
    Deciding once per instant, C sees all 4 free and starts at 1 h; D waits until C ends.
    Decided at A's end alone, D would have taken A's accelerator and C would start at 2 h."""
    spec = model_kit.JobSpec
    jobs = [
        spec(0.0, 1, HOUR_S),
        spec(0.5 * HOUR_S, 3, 0.5 * HOUR_S),
        spec(0.6 * HOUR_S, 4, HOUR_S),
        spec(0.7 * HOUR_S, 1, HOUR_S),
    ]
    assert starts(model_kit, "greedy", jobs) == pytest.approx(
        [0.0, 0.5 * HOUR_S, HOUR_S, 2 * HOUR_S]
    )


def test_every_job_that_fits_starts_in_submission_order(model_kit) -> None:
    """4 accelerators, a 3-job running until 50 s; then at 10 s a 2-job (does not fit: 1 is
    free), a 1-job (fits: starts) and another 1-job (no room left). At 50 s both waiting
    jobs start."""
    spec = model_kit.JobSpec
    jobs = [spec(0.0, 3, 50.0), spec(10.0, 2, 20.0), spec(10.0, 1, 100.0), spec(10.0, 1, 5.0)]
    assert starts(model_kit, "greedy", jobs) == [0.0, 50.0, 10.0, 50.0]
