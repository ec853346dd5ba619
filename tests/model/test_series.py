"""twin.model.series: step series evaluated and integrated against sums done by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.model.series import StepSeries

STARTS = [0.0, 3600.0, 5400.0, 10_800.0]
VALUES = [10.0, -4.0, 25.0, 7.0]  # a negative step, as prices can be


def brute(series: StepSeries, t0: float, t1: float, pieces: int = 200_000) -> float:
    """Midpoint sum on a fine grid (exact for a step function up to the steps' cells)."""
    edges = np.linspace(t0, t1, pieces + 1)
    middles = (edges[:-1] + edges[1:]) / 2
    return float(np.sum(series.values_at(middles)) * (t1 - t0) / pieces)


def test_values_hold_from_each_start_until_the_next() -> None:
    series = StepSeries(STARTS, VALUES)
    assert series.value(0.0) == 10.0
    assert series.value(3599.9) == 10.0
    assert series.value(3600.0) == -4.0
    assert series.value(5399.0) == -4.0
    assert series.value(5400.0) == 25.0
    assert series.value(1e9) == 7.0  # the last step holds on
    assert series.value(-50.0) == 10.0  # before the first: the first
    assert series.constant is None


def test_integral_by_hand_across_steps() -> None:
    """[1800, 7200]: 1800 s at 10, 1800 s at −4, 1800 s at 25."""
    series = StepSeries(STARTS, VALUES)
    assert series.integral(1800.0, 7200.0) == pytest.approx(1800 * 10 - 1800 * 4 + 1800 * 25)
    assert series.integral(4000.0, 5000.0) == -4.0 * 1000.0  # inside one step: exact
    assert series.integral(10_000.0, 20_000.0) == pytest.approx(800 * 25 + 9200 * 7)
    assert series.integral(500.0, 500.0) == 0.0
    assert series.integral(600.0, 500.0) == 0.0


def test_a_constant_integrates_with_a_constants_arithmetic() -> None:
    series = StepSeries.of_constant(56.0)
    assert series.constant == 56.0
    assert series.value(123.0) == 56.0
    assert series.integral(0.1, 0.7) == 56.0 * (0.7 - 0.1)  # bit for bit
    assert series.steps_within(0.0, 1e9) == []


def test_a_daily_profile_repeats_each_day_from_the_start_offset() -> None:
    hourly = [float(h * h) for h in range(24)]
    series = StepSeries.of_day(hourly, midnight_offset_s=5.5 * 3600)  # starts 05:30 UTC
    assert series.value(0.0) == hourly[5]
    assert series.value(1800.0) == hourly[6]
    assert series.value(18.5 * 3600) == hourly[0]  # next midnight
    assert series.value(3 * 86400 + 1800.0) == hourly[6]
    assert series.integral(0.0, 86400.0) == pytest.approx(3600 * sum(hourly))
    assert series.integral(1000.0, 1000.0 + 10 * 86400) == pytest.approx(10 * 3600 * sum(hourly))
    # 05:30 to 07:15: 1800 s of hour 5, 3600 s of hour 6, 900 s of hour 7
    expected = 1800 * hourly[5] + 3600 * hourly[6] + 900 * hourly[7]
    assert series.integral(0.0, 6300.0) == pytest.approx(expected, rel=1e-12)


def test_a_repeating_series_wraps_after_its_span() -> None:
    """Steps over [0, 4h) (the last one as long as the one before), shifted by 3h."""
    series = StepSeries(
        [0.0, 7200.0, 10_800.0], [1.0, 2.0, 5.0], period_s=14_400.0, shift_s=3 * 3600
    )
    assert series.value(0.0) == 5.0  # 3h into the span
    assert series.value(3600.0) == 1.0  # wrapped
    assert series.value(3600.0 + 14_400.0 * 7) == 1.0
    period_integral = 7200 * 1 + 3600 * 2 + 3600 * 5
    assert series.integral(0.0, 14_400.0) == pytest.approx(period_integral)
    assert series.integral(0.0, 4200.0) == pytest.approx(3600 * 5 + 600 * 1)
    assert series.steps_within(0.0, 14_400.0) == [(3600.0, 1.0), (10_800.0, 2.0)]


@settings(max_examples=60, deadline=None)
@given(
    t0=st.floats(-2000.0, 40_000.0),
    width=st.floats(0.0, 50_000.0),
    period=st.booleans(),
)
def test_integrals_match_a_fine_sum_and_the_vector_forms(t0: float, width: float, period) -> None:
    series = (
        StepSeries(STARTS, VALUES, period_s=14_400.0, shift_s=1234.0)
        if period
        else StepSeries(STARTS, VALUES)
    )
    t1 = t0 + width
    scalar = series.integral(t0, t1)
    assert scalar == pytest.approx(brute(series, t0, t1), abs=30 * max(abs(v) for v in VALUES))
    assert series.integrals([t0], [t1])[0] == pytest.approx(scalar, rel=1e-9, abs=1e-6)
    assert series.values_at([t0])[0] == series.value(t0)
    middle = t0 + width / 3
    parts = series.integral(t0, middle) + series.integral(middle, t1)
    assert parts == pytest.approx(scalar, rel=1e-9, abs=1e-6)


def test_a_year_of_hours_is_cheap_and_exact() -> None:
    """8,760 hourly steps: a year's integral is the sum of the hours; vectorised integrals
    over many candidate starts agree with the scalar form."""
    rng = np.random.default_rng(3)
    values = rng.uniform(-20, 400, 8760)
    series = StepSeries(np.arange(8760) * 3600.0, values)
    assert series.integral(0.0, 8760 * 3600.0) == pytest.approx(3600 * values.sum(), rel=1e-12)
    starts = np.arange(0, 8000) * 3600.0 + 1800.0
    many = series.integrals(starts, starts + 10 * 3600.0)
    scalar = [series.integral(t, t + 10 * 3600.0) for t in starts[:50]]
    assert many[:50] == pytest.approx(scalar, rel=1e-12)
    assert many[0] == pytest.approx(
        1800 * values[0] + 3600 * values[1:10].sum() + 1800 * values[10]
    )


def test_steps_within_lists_changes_inside_the_span_only() -> None:
    series = StepSeries(STARTS, VALUES)
    assert series.steps_within(0.0, 10_800.0) == [(3600.0, -4.0), (5400.0, 25.0)]
    assert series.steps_within(-1.0, 20_000.0)[0] == (0.0, 10.0)


def test_bad_steps_are_refused() -> None:
    with pytest.raises(ValueError, match="increase"):
        StepSeries([0.0, 10.0, 10.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="as many"):
        StepSeries([0.0, 10.0], [1.0])
    with pytest.raises(ValueError, match="within a period"):
        StepSeries([0.0, 10.0], [1.0, 2.0], period_s=5.0)
