"""twin.model.calendar: hours of the day, and daily profiles as step series integrated by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.model.calendar import Calendar

UTC = dt.timezone.utc
PROFILE = [float(10 + 3 * h) for h in range(24)]  # every hour has its own value


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def brute_integral(start: dt.datetime, profile: list[float], t0: float, t1: float) -> float:
    """∫ profile over [t0, t1] second by second (on whole seconds after ``start``, where every
    hour boundary falls when the start is on a whole second), the hour of each piece from
    numpy's datetime64 calendar."""
    cuts = np.unique(np.concatenate([[t0, t1], np.arange(np.ceil(t0), t1)]))
    middles = (cuts[:-1] + cuts[1:]) / 2
    origin = np.datetime64(start.replace(tzinfo=None), "us")
    stamps = origin + (middles * 1e6).astype("timedelta64[us]")
    hours = ((stamps - stamps.astype("datetime64[D]")) // np.timedelta64(1, "h")).astype(int)
    return float(np.sum(np.asarray(profile)[hours] * np.diff(cuts)))


def test_hours_from_midnight() -> None:
    calendar = Calendar(at("2026-03-02T00:00:00"))
    assert calendar.hour_of_day(0) == 0
    assert calendar.hour_of_day(3599.999) == 0
    assert calendar.hour_of_day(3600) == 1
    assert calendar.hour_of_day(23 * 3600 + 1) == 23
    assert calendar.hour_of_day(86400) == 0
    assert calendar.hour_of_day(5 * 86400 + 7 * 3600) == 7


def test_hours_from_a_start_that_is_not_midnight() -> None:
    calendar = Calendar(at("2026-03-02T05:30:00"))
    assert calendar.hour_of_day(0) == 5
    assert calendar.hour_of_day(1799) == 5
    assert calendar.hour_of_day(1800) == 6
    assert calendar.hour_of_day(18.5 * 3600) == 0  # 05:30 + 18:30 = next midnight
    assert calendar.profile(PROFILE).value(1800) == PROFILE[6]
    assert calendar.profile(42.0).value(1800) == 42.0


def test_seconds_at() -> None:
    calendar = Calendar(at("2026-03-02T05:30:00"))
    assert calendar.seconds_at(at("2026-03-02T06:00:00")) == 1800.0
    assert calendar.seconds_at(at("2026-03-01T05:30:00")) == -86400.0


def test_integral_across_hour_boundaries_by_hand() -> None:
    """From 05:30 + 1000 s (05:46:40) to 05:30 + 9000 s (08:00): 800 s of hour 5, all of
    hours 6 and 7."""
    calendar = Calendar(at("2026-03-02T05:30:00"))
    expected = 800 * PROFILE[5] + 3600 * PROFILE[6] + 3600 * PROFILE[7]
    assert calendar.profile(PROFILE).integral(1000.0, 9000.0) == pytest.approx(expected, rel=1e-12)


def test_integral_within_one_hour_and_of_a_constant() -> None:
    calendar = Calendar(at("2026-03-02T05:30:00"))
    assert calendar.profile(PROFILE).integral(100.0, 1700.0) == pytest.approx(1600 * PROFILE[5])
    assert calendar.profile(7.5).integral(100.0, 1700.0) == pytest.approx(7.5 * 1600)
    assert calendar.profile(PROFILE).integral(500.0, 500.0) == 0.0
    assert calendar.profile(PROFILE).integral(600.0, 500.0) == 0.0


@pytest.mark.parametrize(
    "start", ["2026-03-02T00:00:00", "2026-03-02T05:30:00", "2026-03-02T23:59:17"]
)
@pytest.mark.parametrize(("t0", "t1"), [(0.0, 7200.0), (1234.5, 98765.25), (50.0, 3 * 86400.0)])
def test_integral_matches_a_second_by_second_sum(start, t0, t1) -> None:
    begin = at(start)
    expected = brute_integral(begin, PROFILE, t0, t1)
    assert Calendar(begin).profile(PROFILE).integral(t0, t1) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("start", ["2026-03-02T00:00:00", "2026-03-02T05:30:00"])
def test_a_whole_day_from_anywhere_integrates_the_whole_profile(start) -> None:
    calendar = Calendar(at(start))
    for t0 in (0.0, 1000.0, 12345.678):
        assert calendar.profile(PROFILE).integral(t0, t0 + 86400) == pytest.approx(
            3600 * sum(PROFILE), rel=1e-12
        )
    # a year: 365 whole days
    assert calendar.profile(PROFILE).integral(0.0, 365 * 86400.0) == pytest.approx(
        365 * 3600 * sum(PROFILE), rel=1e-9
    )


def test_integral_is_additive() -> None:
    calendar = Calendar(at("2026-03-02T05:30:00"))
    whole = calendar.profile(PROFILE).integral(300.0, 50_000.0)
    parts = calendar.profile(PROFILE).integral(300.0, 17_777.7) + calendar.profile(
        PROFILE
    ).integral(17_777.7, 50_000.0)
    assert whole == pytest.approx(parts, rel=1e-12)


def test_a_start_given_in_another_time_zone_counts_utc_hours(model_kit) -> None:
    """The scenario's start at 07:30+02:00 is 05:30 UTC: profiles are indexed by UTC hours."""
    data = model_kit.scenario(
        [model_kit.site("s")], "least_loaded", start="2026-03-02T07:30:00+02:00"
    )
    calendar = Calendar(model_kit.build(data).start)
    assert calendar.hour_of_day(0) == 5
    assert calendar.hour_of_day(1800) == 6
