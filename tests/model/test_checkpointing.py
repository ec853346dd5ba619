"""The checkpoint arithmetic of :mod:`twin.model.checkpointing`, against its definition.

A segment is ``R`` of restart, then compute in intervals of ``τ`` each followed by a
checkpoint stall ``C``, and a last piece of compute with no checkpoint after it. An
interruption keeps the compute of the completed checkpoints and loses the rest (a checkpoint
being written included). The properties are checked on random segments; the timelines and
Young's interval on figures worked out by hand.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.model.checkpointing import Segment, completed, interrupted, young_daly_interval_s

TOL = {"rel_tol": 1e-9, "abs_tol": 1e-6}

segments = st.builds(
    Segment,
    restart_s=st.one_of(st.just(0.0), st.floats(0.0, 3600.0)),
    compute_s=st.floats(0.0, 1e6),
    interval_s=st.one_of(st.just(math.inf), st.floats(60.0, 1e5)),
    cost_s=st.one_of(st.just(0.0), st.floats(0.0, 3600.0)),
)


def parts(progress) -> float:
    return progress.useful_s + progress.lost_s + progress.checkpoint_s + progress.restart_s


@settings(max_examples=400, deadline=None)
@given(segment=segments, share=st.floats(0.0, 1.0))
def test_an_interruption_splits_the_elapsed_time_exactly(segment, share) -> None:
    elapsed = share * segment.duration_s
    progress = interrupted(segment, elapsed)
    assert math.isclose(parts(progress), elapsed, **TOL)
    assert min(progress.useful_s, progress.lost_s, progress.checkpoint_s) >= 0.0
    assert 0 <= progress.checkpoints <= segment.checkpoints
    # the work kept is exactly the completed checkpoints' intervals, never more than planned
    if progress.checkpoints:
        assert progress.useful_s == progress.checkpoints * segment.interval_s
    else:
        assert progress.useful_s == 0.0
    assert progress.useful_s <= segment.compute_s * (1 + 1e-12)
    # what is lost is less than one interval; checkpoint stalls at most one more than done
    assert progress.lost_s <= min(segment.interval_s, segment.compute_s) * (1 + 1e-12) + 1e-9
    assert progress.checkpoint_s <= (progress.checkpoints + 1) * segment.cost_s + 1e-9
    assert progress.checkpoint_s >= progress.checkpoints * segment.cost_s - 1e-9
    assert progress.restart_s == min(elapsed, segment.restart_s)


@settings(max_examples=300, deadline=None)
@given(segment=segments, a=st.floats(0.0, 1.0), b=st.floats(0.0, 1.0))
def test_the_work_kept_never_decreases_with_time(segment, a, b) -> None:
    early, late = sorted((a, b))
    first = interrupted(segment, early * segment.duration_s)
    second = interrupted(segment, late * segment.duration_s)
    assert second.useful_s >= first.useful_s
    assert second.checkpoints >= first.checkpoints


@settings(max_examples=300, deadline=None)
@given(segment=segments, extra=st.floats(0.0, 1e6))
def test_a_completed_segment_counts_all_its_compute(segment, extra) -> None:
    done = completed(segment)
    assert math.isclose(parts(done), segment.duration_s, **TOL)
    assert done.useful_s == segment.compute_s and done.lost_s == 0.0
    assert done.checkpoint_s == segment.checkpoints * segment.cost_s
    # an interruption after the end is clamped to the end: the same time, the same split
    late = interrupted(segment, segment.duration_s + extra)
    assert math.isclose(parts(late), segment.duration_s, **TOL)
    assert late.checkpoints == segment.checkpoints


@settings(max_examples=300, deadline=None)
@given(segment=segments)
def test_checkpoints_complete_one_period_apart(segment) -> None:
    ends = segment.checkpoint_ends_s()
    assert len(ends) == segment.checkpoints
    period = segment.interval_s + segment.cost_s
    for k, end in enumerate(ends, start=1):
        assert math.isclose(end, segment.restart_s + k * period, **TOL)
        assert end <= segment.duration_s * (1 + 1e-12)
        # just after its end a checkpoint counts; just before, it does not yet (at the very
        # instant it is a matter of rounding)
        assert interrupted(segment, end + 1e-6 * period).checkpoints == k
        assert interrupted(segment, end - 1e-3 * period).checkpoints == k - 1


def test_a_timeline_worked_by_hand() -> None:
    """R = 600, 10,000 s of compute, τ = 1,000, C = 60: nine checkpoints (none after the
    last interval), 600 + 10,000 + 540 = 11,140 s."""
    segment = Segment(600.0, 10_000.0, 1_000.0, 60.0)
    assert segment.checkpoints == 9
    assert segment.duration_s == 11_140.0
    assert segment.checkpoint_ends_s()[:3] == [1660.0, 2720.0, 3780.0]
    cases = {
        # elapsed: (useful, lost, checkpoint, restart, checkpoints)
        300.0: (0.0, 0.0, 0.0, 300.0, 0),
        1100.0: (0.0, 500.0, 0.0, 600.0, 0),
        1630.0: (0.0, 1000.0, 30.0, 600.0, 0),  # the first checkpoint half written: lost
        1660.0: (1000.0, 0.0, 60.0, 600.0, 1),
        3000.0: (2000.0, 280.0, 120.0, 600.0, 2),
        11_140.0: (9000.0, 1000.0, 540.0, 600.0, 9),
    }
    for elapsed, expected in cases.items():
        got = interrupted(segment, elapsed)
        assert (
            got.useful_s,
            got.lost_s,
            got.checkpoint_s,
            got.restart_s,
            got.checkpoints,
        ) == pytest.approx(expected), elapsed


def test_checkpoint_counts_at_the_edges() -> None:
    assert Segment(0.0, 3000.0, 1000.0, 60.0).checkpoints == 2  # none after the last piece
    assert Segment(0.0, 3000.5, 1000.0, 60.0).checkpoints == 3
    assert Segment(0.0, 1000.0, 1000.0, 60.0).checkpoints == 0
    assert Segment(0.0, 1e6, math.inf, 60.0).checkpoints == 0
    assert Segment(0.0, 0.0, 1000.0, 60.0).duration_s == 0.0
    # no checkpoints: an interruption loses everything since the restart
    assert interrupted(Segment(100.0, 5000.0, math.inf, 60.0), 2100.0).lost_s == 2000.0


def test_young_daly_by_hand() -> None:
    assert young_daly_interval_s(60.0, 21_600.0) == pytest.approx(1609.9689, abs=1e-4)
    assert young_daly_interval_s(60.0, 10_800.0) == pytest.approx(1138.4200, abs=1e-4)
    assert young_daly_interval_s(1.0, 0.5) == pytest.approx(1.0)
    # four times the MTBF, twice the interval
    assert young_daly_interval_s(30.0, 4 * 5000.0) == pytest.approx(
        2 * young_daly_interval_s(30.0, 5000.0)
    )


def test_young_daly_is_infinite_when_nothing_fails_or_checkpoints_are_free() -> None:
    assert young_daly_interval_s(60.0, math.inf) == math.inf
    assert young_daly_interval_s(0.0, 3600.0) == math.inf
    assert young_daly_interval_s(0.0, math.inf) == math.inf
