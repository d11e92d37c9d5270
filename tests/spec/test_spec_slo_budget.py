"""Error-budget and burn-rate math, with figures computed by hand from the SRE workbook."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reliant.spec import slo_budget as b
from reliant.spec.models import SLOSpec
from reliant.spec.slo_plan import warning_lines

DAY = 86400.0
HOUR = 3600.0


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_error_budget_is_one_minus_the_objective() -> None:
    """99.9% leaves 0.1% of events to be bad."""
    assert 0.001 == b.error_budget(99.9)  # exact: plain floats give 0.00099999999999989
    assert 0.05 == pytest.approx(b.error_budget(95.0), rel=1e-12)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (30 * DAY, [14.4, 6.0, 3.0, 1.0]),
        (28 * DAY, [13.44, 5.6, 2.8, 0.9333333333333333]),
        (7 * DAY, [3.36, 1.4, 0.7, 0.23333333333333334]),
    ],
)
def test_default_windows_scale_the_workbook_thresholds_like_sloth(
    period: float, expected: list[float]
) -> None:
    """BR = p·P/L: 2% in 1h, 5% in 6h, 10% in 1d and 3d, for any period."""
    windows = b.default_windows(period)
    assert expected == pytest.approx([w.burn_rate for w in windows], rel=1e-12)
    assert [("page", HOUR, 300.0), ("page", 6 * HOUR, 1800.0)] == [
        (w.severity, w.long, w.short) for w in windows[:2]
    ]
    assert [("ticket", DAY, 2 * HOUR), ("ticket", 3 * DAY, 6 * HOUR)] == [
        (w.severity, w.long, w.short) for w in windows[2:]
    ]
    assert [2.0, 5.0, 10.0, 10.0] == [w.budget_percent for w in windows]


def test_threshold_is_burn_rate_times_budget() -> None:
    """The page condition of a 99.9% SLO needs error ratios above 1.44%."""
    page = b.default_windows(30 * DAY)[0]
    assert 0.0144 == pytest.approx(page.threshold(b.error_budget(99.9)), rel=1e-12)


def test_custom_window_is_used_as_given() -> None:
    """A custom burn rate is kept; its budget share is BR·L/P."""
    w = b.custom_window("page", 2 * HOUR, 10 * 60.0, 10.0, 30 * DAY)
    assert (10.0, 100 * 10 * 2 / 720) == (w.burn_rate, pytest.approx(w.budget_percent))


def test_detection_time_of_a_total_outage() -> None:
    """99.9% over 30 days at 100% errors: 14.4x on 1h fires after 51.84 s (0.864 min)."""
    assert 51.84 == pytest.approx(b.detection_seconds(0.001, 1.0, HOUR, 14.4))
    assert 129.6 == pytest.approx(b.detection_seconds(0.001, 1.0, 6 * HOUR, 6.0))
    assert 518.4 == pytest.approx(b.detection_seconds(0.001, 0.1, HOUR, 14.4))


def test_burn_rate_and_error_ratio() -> None:
    """Burn rate is the error ratio over the budget; no traffic gives no ratio."""
    assert 0.25 == b.error_ratio(750, 1000)
    assert b.error_ratio(0, 0) is None
    assert 250.0 == pytest.approx(b.burn_rate(0.25, 0.001))
    assert b.burn_rate(None, 0.001) is None


def test_fires_needs_both_windows_above_and_enough_events() -> None:
    """Strictly above the threshold in both windows, and min_events in the long one."""
    assert b.fires(0.02, 0.03, 100, 0.0144, 10) is True
    assert b.fires(0.0144, 0.03, 100, 0.0144, 10) is False  # equal is not above
    assert b.fires(0.02, 0.01, 100, 0.0144, 10) is False  # the short window recovered
    assert b.fires(0.02, 0.03, 9, 0.0144, 10) is False  # too few events
    assert b.fires(None, 0.03, 100, 0.0144, 0) is False
    assert b.fires(0.02, None, 100, 0.0144, 0) is False


# -- periods -----------------------------------------------------------------------------


def test_rolling_period_ends_now() -> None:
    """A rolling period is the last P seconds."""
    p = b.rolling_period(30 * DAY, 1_800_000_000.0)
    assert (1_800_000_000.0 - 30 * DAY, 1_800_000_000.0, 30 * DAY) == (p.start, p.end, p.length)
    assert 30 * DAY == p.covered(1_800_000_000.0)


def test_calendar_week_starts_monday_midnight_local() -> None:
    """Wednesday 2027-01-20 10:00 in Paris is in the week from Monday 2027-01-18 00:00 CET."""
    now = _utc(2027, 1, 20, 9)
    p = b.calendar_period("week", "Europe/Paris", now)
    assert (_utc(2027, 1, 17, 23), _utc(2027, 1, 24, 23)) == (p.start, p.end)
    assert 7 * DAY == p.length
    assert 2 * DAY + 10 * HOUR == p.covered(now)


def test_calendar_month_across_dst_changes() -> None:
    """New York's March 2027 lasts 743 h (clocks spring forward), November 721 h."""
    march = b.calendar_period("month", "America/New_York", _utc(2027, 3, 20))
    assert (_utc(2027, 3, 1, 5), _utc(2027, 4, 1, 4)) == (march.start, march.end)
    assert 743 * HOUR == march.length
    november = b.calendar_period("month", "America/New_York", _utc(2027, 11, 20))
    assert 721 * HOUR == november.length


def test_calendar_month_boundary_is_local_not_utc() -> None:
    """At 2027-01-31 23:30 UTC it is already February in Tokyo and still January in LA."""
    now = _utc(2027, 1, 31, 23, 30)
    tokyo = b.calendar_period("month", "Asia/Tokyo", now)
    assert (_utc(2027, 1, 31, 15), _utc(2027, 2, 28, 15)) == (tokyo.start, tokyo.end)
    la = b.calendar_period("month", "America/Los_Angeles", now)
    assert (_utc(2027, 1, 1, 8), _utc(2027, 2, 1, 8)) == (la.start, la.end)


def test_calendar_month_starting_in_a_dst_gap_starts_at_the_gap_end() -> None:
    """Asunción skipped 2017-10-01 00:00-01:00: October started at 01:00 -03."""
    p = b.calendar_period("month", "America/Asuncion", _utc(2017, 10, 15))
    assert _utc(2017, 10, 1, 4) == p.start


def test_calendar_period_refuses_other_units() -> None:
    """Only week and month are calendar periods."""
    with pytest.raises(ValueError, match="week"):
        b.calendar_period("year", "UTC", 0.0)


ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


@given(
    now=st.floats(min_value=1.5e9, max_value=2.2e9, allow_nan=False),
    zone=st.sampled_from(ZONES),
    unit=st.sampled_from(["week", "month"]),
)
def test_calendar_period_holds_now_and_starts_at_local_midnight(
    now: float, zone: str, unit: str
) -> None:
    """The period holds now, starts at a local midnight (Monday or the 1st) and tiles time."""
    p = b.calendar_period(unit, zone, now)
    assert p.start <= now < p.end
    local = datetime.fromtimestamp(p.start, ZoneInfo(zone))
    assert (0, 0) == (local.hour, local.minute)
    assert (local.weekday() == 0) if unit == "week" else (local.day == 1)
    assert p.end == b.calendar_period(unit, zone, p.end).start
    days = (datetime.fromtimestamp(p.end, ZoneInfo(zone)).date() - local.date()).days
    assert abs(p.length - days * DAY) <= HOUR  # DST moves it by at most an hour
    if unit == "week":
        assert 7 == days


# -- budgets -----------------------------------------------------------------------------


def test_occurrence_budget_over_a_rolling_window() -> None:
    """99.9%, 1,000,000 events, 600 bad: 1000 allowed, 40% left, 17.28 outage minutes."""
    budget = b.occurrence_budget(999_400, 1_000_000, 0.001, 30 * DAY, 30 * DAY)
    assert 0.4 == pytest.approx(budget.remaining)
    assert (1000.0, 600.0, 400.0) == (
        pytest.approx(budget.allowed),
        budget.spent,
        pytest.approx(budget.left),
    )
    assert 17.28 == pytest.approx(budget.minutes_left)
    assert ("events", False) == (budget.unit, budget.exhausted)


def test_occurrence_budget_of_a_calendar_period_projects_the_traffic() -> None:
    """10 days into 30, 600 bad of 1,000,000: the month may hold 3000 bad, 80% left."""
    budget = b.occurrence_budget(999_400, 1_000_000, 0.001, 10 * DAY, 30 * DAY)
    assert 3000.0 == pytest.approx(budget.allowed)
    assert 0.8 == pytest.approx(budget.remaining)


def test_occurrence_budget_without_traffic_is_whole() -> None:
    """No events yet: nothing is spent."""
    budget = b.occurrence_budget(0, 0, 0.001, 30 * DAY, 30 * DAY)
    assert (1.0, 0.0, 0.0) == (budget.remaining, budget.allowed, budget.spent)
    assert 43.2 == pytest.approx(budget.minutes_left)


def test_overspent_budget_is_negative_and_exhausted() -> None:
    """2000 bad where 1000 are allowed: -100% remaining."""
    budget = b.occurrence_budget(998_000, 1_000_000, 0.001, 30 * DAY, 30 * DAY)
    assert -1.0 == pytest.approx(budget.remaining)
    assert budget.exhausted is True


def test_timeslice_budget() -> None:
    """99% over 7 days of 5 min slices: 20.16 bad slices allowed; 5 bad leave 75.2%."""
    budget = b.timeslice_budget(5, 300.0, 0.01, 7 * DAY)
    assert 20.16 == pytest.approx(budget.allowed)
    assert 1 - 5 / 20.16 == pytest.approx(budget.remaining)
    assert (20.16 - 5) * 5 == pytest.approx(budget.minutes_left)
    assert "slices" == budget.unit


@given(
    total=st.integers(min_value=1, max_value=10**9),
    bad_share=st.fractions(min_value=0, max_value=1),
    covered=st.floats(min_value=1.0, max_value=30 * DAY),
    objective=st.sampled_from([90.0, 99.0, 99.5, 99.9, 99.99]),
)
def test_consumed_budget_is_burn_rate_times_elapsed_share(
    total: int, bad_share: Fraction, covered: float, objective: float
) -> None:
    """1 - remaining = BR · covered/P: the period so far burns at its own burn rate."""
    bad = int(total * bad_share)
    budget_ratio = b.error_budget(objective)
    found = b.occurrence_budget(total - bad, total, budget_ratio, covered, 30 * DAY)
    rate = b.burn_rate(b.error_ratio(total - bad, total), budget_ratio)
    assert rate is not None
    assert 1 - found.remaining == pytest.approx(rate * covered / (30 * DAY), rel=1e-9, abs=1e-12)


def test_exhaustion_forecast() -> None:
    """A whole budget lasts P/BR: 50 h at 14.4x over 30 days; 20 days at 1.5x."""
    assert 50 * HOUR == pytest.approx(b.exhaustion_seconds(1.0, 14.4, 30 * DAY))
    assert 20 * DAY == pytest.approx(b.exhaustion_seconds(1.0, 1.5, 30 * DAY))
    assert 10 * DAY == pytest.approx(b.exhaustion_seconds(0.5, 1.5, 30 * DAY))
    assert 0.0 == b.exhaustion_seconds(-0.2, 3.0, 30 * DAY)
    assert b.exhaustion_seconds(0.5, 0.0, 30 * DAY) is None
    assert b.exhaustion_seconds(0.5, None, 30 * DAY) is None


# -- time slices -------------------------------------------------------------------------


def test_slice_is_good_at_exactly_the_target() -> None:
    """99 of 100 reaches 0.99; 98 does not; a slice without traffic is good."""
    target = b.slice_target(0.99)
    assert b.slice_is_good(99, 100, target) is True
    assert b.slice_is_good(98, 100, target) is False
    assert b.slice_is_good(0, 0, target) is True
    assert 2 == b.bad_slices([(98, 100), (0, 0), (99, 100), (0, 5)], target)


@given(
    good=st.integers(min_value=0, max_value=10**6),
    extra=st.integers(min_value=0, max_value=10**6),
    target=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999, 0.29, 0.57]),
)
def test_slice_judgement_is_exact(good: int, extra: int, target: float) -> None:
    """good/total >= target is decided on exact fractions, never rounded floats."""
    total = good + extra
    expected = total == 0 or Fraction(good, total) >= Fraction(str(target))
    assert expected == b.slice_is_good(good, total, b.slice_target(target))


def test_slices_for_a_window() -> None:
    """A window stands for its length in whole slices, at least one."""
    assert (12, 1, 1) == (
        b.slices_for(HOUR, 300.0),
        b.slices_for(300.0, 300.0),
        b.slices_for(60.0, 300.0),
    )


# -- warnings ----------------------------------------------------------------------------


def _codes(found: list[b.SLOWarning]) -> list[str]:
    return [w.code for w in found]


def test_no_warning_for_a_sound_slo() -> None:
    """99.9% over 30 days with the workbook's conditions is fine."""
    found = b.warnings(
        budget=0.001, period=30 * DAY, windows=b.default_windows(30 * DAY), alerting=True
    )
    assert [] == found


def test_a_condition_that_can_never_fire_is_warned() -> None:
    """At 90% the 14.4x page needs error ratios above 144%: it can never fire."""
    found = b.warnings(
        budget=0.1, period=30 * DAY, windows=b.default_windows(30 * DAY), alerting=True
    )
    assert ["never_fires"] == _codes(found)
    assert "page 1h/5m" in found[0].message


def test_a_tiny_budget_is_warned() -> None:
    """99.999% over 30 days is 25.9 s of total outage."""
    found = b.warnings(budget=1e-5, period=30 * DAY, windows=(), alerting=True)
    assert ["tiny_budget"] == _codes(found)
    assert "25.9 s" in found[0].message


def test_short_window_not_shorter_and_slice_problems_are_warned() -> None:
    """A short window as long as the long one; 15 s slices; a 5m window under 10m slices."""
    windows = (
        b.custom_window("page", HOUR, HOUR, 14.4, 30 * DAY),
        b.custom_window("ticket", 6 * HOUR, 300.0, 3.0, 30 * DAY),
    )
    found = b.warnings(
        budget=0.001, period=30 * DAY, windows=windows, alerting=True, slice_seconds=15.0
    )
    assert ["slice_not_bucket_multiple", "short_not_shorter"] == _codes(found)
    found = b.warnings(
        budget=0.001, period=30 * DAY, windows=windows[1:], alerting=True, slice_seconds=600.0
    )
    assert ["window_shorter_than_slice"] == _codes(found)


def test_windows_longer_than_the_telemetry_kept_are_warned() -> None:
    """A 90 day period or 60 day window cannot be counted from 35 days of rollups."""
    windows = (b.custom_window("ticket", 60 * DAY, DAY, 1.0, 90 * DAY),)
    found = b.warnings(
        budget=0.001, period=90 * DAY, windows=windows, alerting=True, retention=35 * DAY
    )
    assert ["period_beyond_retention", "window_beyond_retention"] == _codes(found)


def test_conditions_are_not_checked_when_alerting_is_disabled() -> None:
    """A disabled alert cannot misfire."""
    found = b.warnings(
        budget=0.1, period=30 * DAY, windows=b.default_windows(30 * DAY), alerting=False
    )
    assert [] == found


def test_human_window_names() -> None:
    """Warnings name windows as specs write them."""
    assert ["5m", "1h", "3d", "90s"] == [b._human(s) for s in (300.0, HOUR, 3 * DAY, 90.0)]


def test_validate_lines_name_the_slo_and_the_warning() -> None:
    """reliant validate's lines for an SLO document: one per warning, with its code."""
    spec = {"service": "checkout", "objective": 99.9, "sli": {"ratio": {"operation": "charge"}}}
    assert [] == warning_lines("fine", SLOSpec.model_validate(spec))
    lines = warning_lines("low", SLOSpec.model_validate({**spec, "objective": 90}))
    assert 1 == len(lines)
    assert lines[0].startswith("SLO low: warning [never_fires]: page 1h/5m: burn rate 14.4")
