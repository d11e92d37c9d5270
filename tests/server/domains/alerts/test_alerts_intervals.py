"""Recurring time intervals: Alertmanager's time_intervals, read in a time zone (DST too)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from reliant.server.domains.alerts.errors import ConfigError
from reliant.server.domains.alerts.intervals import parse_intervals, parse_period

NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo | dt.timezone, *parts: int) -> float:
    """Epoch seconds of a wall-clock time in ``zone``."""
    return dt.datetime(*parts, tzinfo=zone).timestamp()  # type: ignore[misc]


def utc(*parts: int) -> float:
    return at(dt.UTC, *parts)


BUSINESS = {
    "times": [{"start_time": "09:00", "end_time": "17:00"}],
    "weekdays": ["monday:friday"],
    "location": "America/New_York",
}


def test_business_hours_follow_the_wall_clock_across_dst() -> None:
    """09:00 New York is 14:00 UTC in winter and 13:00 UTC in summer; both are inside."""
    period = parse_period(BUSINESS, [])
    # Friday 12 March 2027 (EST, UTC-5) and Monday 15 March 2027 (EDT, UTC-4).
    assert (True, False, True, True) == (
        period.contains(utc(2027, 3, 12, 14, 0)),
        period.contains(utc(2027, 3, 12, 13, 30)),  # 08:30 EST: before opening
        period.contains(utc(2027, 3, 15, 13, 30)),  # 09:30 EDT
        period.contains(utc(2027, 3, 15, 20, 59)),  # 16:59 EDT
    )
    assert (False, False) == (
        period.contains(utc(2027, 3, 15, 21, 0)),  # 17:00 EDT: the end is exclusive
        period.contains(at(NEW_YORK, 2027, 3, 13, 10, 0)),  # a Saturday
    )


def test_skipped_hour_of_spring_forward_is_never_inside() -> None:
    """On 14 March 2027 New York skips 02:00-03:00: an interval of that hour holds no instant."""
    period = parse_period(
        {
            "times": [{"start_time": "02:00", "end_time": "03:00"}],
            "days_of_month": ["14"],
            "months": ["march"],
            "location": "America/New_York",
        },
        [],
    )
    start = utc(2027, 3, 14, 5, 0)
    assert [] == [m for m in range(0, 4 * 3600, 60) if period.contains(start + m)]


def test_repeated_hour_of_fall_back_is_inside_twice() -> None:
    """On 7 November 2027 01:00-02:00 happens twice: 120 minutes fall inside."""
    period = parse_period(
        {
            "times": [{"start_time": "01:00", "end_time": "02:00"}],
            "location": "America/New_York",
        },
        [],
    )
    start = utc(2027, 11, 7, 3, 0)
    inside = [m for m in range(0, 6 * 3600, 60) if period.contains(start + m * 1.0)]
    assert (120, utc(2027, 11, 7, 5, 0), utc(2027, 11, 7, 6, 59)) == (
        len(inside),
        start + inside[0],
        start + inside[-1],
    )


def test_negative_days_count_from_the_end_of_each_month() -> None:
    """-1 is the 28th of February 2027 and the 31st of March."""
    period = parse_period({"days_of_month": ["-1"]}, [])
    assert (True, False, True, False) == (
        period.contains(utc(2027, 2, 28, 12)),
        period.contains(utc(2027, 2, 27, 12)),
        period.contains(utc(2027, 3, 31, 12)),
        period.contains(utc(2027, 3, 30, 12)),
    )


def test_a_day_past_the_months_end_is_skipped() -> None:
    """Day 31 never matches in April (30 days)."""
    period = parse_period({"days_of_month": ["31"]}, [])
    assert (False, True) == (
        period.contains(utc(2027, 4, 30, 12)),
        period.contains(utc(2027, 5, 31, 1)),
    )


def test_months_years_and_24_00() -> None:
    """Month names and numbers, year ranges, and an end time of 24:00."""
    period = parse_period(
        {
            "times": [{"start_time": "22:00", "end_time": "24:00"}],
            "months": ["december", "1:2"],
            "years": ["2027:2028"],
        },
        [],
    )
    assert (True, True, False, False) == (
        period.contains(utc(2027, 12, 31, 23, 59)),
        period.contains(utc(2028, 1, 5, 22, 0)),
        period.contains(utc(2029, 1, 5, 22, 0)),
        period.contains(utc(2027, 3, 5, 22, 0)),
    )


def test_an_empty_period_always_holds() -> None:
    """A period without fields holds at any time."""
    assert parse_period({}, []).contains(utc(2030, 6, 1))


@pytest.mark.parametrize(
    ("doc", "path", "message"),
    [
        (
            {"times": [{"start_time": "25:00", "end_time": "26:00"}]},
            ("times", 0, "start_time"),
            "HH:MM",
        ),
        ({"times": [{"start_time": "10:00", "end_time": "09:00"}]}, ("times", 0), "before the end"),
        ({"weekdays": ["funday"]}, ("weekdays", 0), "not a valid weekday"),
        ({"weekdays": ["friday:monday"]}, ("weekdays", 0), "start day comes after"),
        ({"days_of_month": ["0"]}, ("days_of_month", 0), "not a day of the month"),
        ({"days_of_month": ["-3:5"]}, ("days_of_month", 0), "must be negative"),
        ({"months": ["13"]}, ("months", 0), "1..12"),
        ({"years": ["2028:2027"]}, ("years", 0), "start year comes after"),
        ({"location": "Mars/Olympus"}, ("location",), "unknown time zone"),
        ({"location": "Local"}, ("location",), "IANA"),
        ({"hours": ["1"]}, ("hours",), "unknown field"),
    ],
)
def test_parse_errors_name_the_field(
    doc: dict[str, object], path: tuple[object, ...], message: str
) -> None:
    """Each mistake is reported at its path with what is expected."""
    with pytest.raises(ConfigError, match=message) as caught:
        parse_period(doc, [])
    assert path == caught.value.path


def test_named_intervals_must_be_unique() -> None:
    """Two intervals with one name are an error at the second."""
    with pytest.raises(ConfigError) as caught:
        parse_intervals([{"name": "x"}, {"name": "x", "time_intervals": []}], ["time_intervals"])
    assert ("time_intervals", 1, "name") == caught.value.path
