"""Recurring time intervals, in Alertmanager's ``time_intervals`` shape. Pure.

A named interval is a list of periods; a time is inside the interval when any period holds
it. A period's fields are all optional and all must hold (a missing field holds always):

- ``times``: ``[{start_time: "09:00", end_time: "17:00"}]`` — minutes of the day, start
  inclusive, end exclusive, ``"24:00"`` allowed as an end;
- ``weekdays``: ``["monday:friday", "sunday"]``;
- ``days_of_month``: ``["1:5", "-1"]`` — negative days count from the month's end;
- ``months``: ``["january:march", "12"]``;
- ``years``: ``["2026:2027"]``;
- ``location``: an IANA time zone (default UTC) in which all of the above are read, so
  ``09:00`` stays nine o'clock on the wall across daylight-saving changes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reliant.server.domains.alerts.errors import ConfigError

Range = tuple[int, int]
Path = Sequence[str | int]

WEEKDAYS = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_TIME = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")
_FIELDS = ("times", "weekdays", "days_of_month", "months", "years", "location")


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """One period of an interval; ``None`` fields hold always."""

    times: tuple[Range, ...] | None = None
    weekdays: tuple[Range, ...] | None = None
    days_of_month: tuple[Range, ...] | None = None
    months: tuple[Range, ...] | None = None
    years: tuple[Range, ...] | None = None
    location: str = "UTC"

    def contains(self, moment: float) -> bool:
        """Whether the epoch time ``moment`` falls inside this period."""
        t = dt.datetime.fromtimestamp(moment, ZoneInfo(self.location))
        minute = t.hour * 60 + t.minute
        if self.times is not None and not any(a <= minute < b for a, b in self.times):
            return False
        if self.days_of_month is not None and not _in_days(t, self.days_of_month):
            return False
        if self.months is not None and not any(a <= t.month <= b for a, b in self.months):
            return False
        weekday = (t.weekday() + 1) % 7  # Sunday is 0, as in Go
        if self.weekdays is not None and not any(a <= weekday <= b for a, b in self.weekdays):
            return False
        return self.years is None or any(a <= t.year <= b for a, b in self.years)


def _in_days(t: dt.datetime, ranges: Iterable[Range]) -> bool:
    days = calendar.monthrange(t.year, t.month)[1]
    for begin, end in ranges:
        first = days + begin + 1 if begin < 0 else begin
        last = days + end + 1 if end < 0 else end
        if first > days:
            continue  # e.g. day 31 of a 30-day month
        first, last = max(-days, min(first, days)), max(-days, min(last, days))
        if first <= t.day <= last:
            return True
    return False


def contains(periods: Iterable[Period], moment: float) -> bool:
    """Whether any of ``periods`` holds ``moment``."""
    return any(p.contains(moment) for p in periods)


def _minutes(value: object, path: Path) -> int:
    found = _TIME.match(value) if isinstance(value, str) else None
    if found is None:
        raise ConfigError(path, f'expected a time of day "HH:MM" (00:00 to 24:00), got {value!r}')
    hours, minutes = found.group(1) or found.group(3), found.group(2) or found.group(4)
    return int(hours) * 60 + int(minutes)


def _member(names: Mapping[str, int], what: str) -> Callable[[str], int]:
    def read(text: str) -> int:
        if text in names:
            return names[text]
        if names is MONTHS or not names:
            try:
                return int(text)
            except ValueError:
                pass
        raise ValueError(f"{text!r} is not a valid {what}")

    return read


def _ranges(
    items: object,
    path: Path,
    read: Callable[[str], int],
    check: Callable[[int, int], str | None],
    example: str,
) -> tuple[Range, ...]:
    if not isinstance(items, list):
        raise ConfigError(path, f"expected a list of ranges like {example}")
    out = []
    for index, item in enumerate(items):
        where = [*path, index]
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or item.count(":") > 1:
            raise ConfigError(where, f"expected a value or range like {example}, got {item!r}")
        first, _, last = item.lower().strip().partition(":")
        try:
            begin = read(first)
            end = read(last) if last else begin
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None
        if problem := check(begin, end):
            raise ConfigError(where, problem)
        out.append((begin, end))
    return tuple(out)


def _weekday_check(begin: int, end: int) -> str | None:
    return "the start day comes after the end day" if begin > end else None


def _month_check(begin: int, end: int) -> str | None:
    if not (1 <= begin <= 12 and 1 <= end <= 12):
        return "months are 1..12 or january..december"
    return "the start month comes after the end month" if begin > end else None


def _year_check(begin: int, end: int) -> str | None:
    if not (1 <= begin <= 9999 and 1 <= end <= 9999):
        return "years are 1..9999"
    return "the start year comes after the end year" if begin > end else None


def _day_check(begin: int, end: int) -> str | None:
    for day in (begin, end):
        if day == 0 or not -31 <= day <= 31:
            return f"{day} is not a day of the month (1..31, or -31..-1 from the month's end)"
    if begin < 0 < end:
        return "the end day must be negative when the start day is"
    # As Alertmanager: compare as if in a 28-day month.
    if (28 + begin if begin < 0 else begin) > (28 + end if end < 0 else end):
        return f"end day {end} is always before start day {begin}"
    return None


def parse_period(doc: object, path: Path) -> Period:
    """One period of a time interval.

    Raises:
        ConfigError: at the path of the first field that is wrong.
    """
    if not isinstance(doc, dict):
        raise ConfigError(path, "expected an object with times, weekdays, days_of_month, …")
    for key in doc:
        if key not in _FIELDS:
            raise ConfigError([*path, key], f"unknown field (known: {', '.join(_FIELDS)})")
    times = None
    if "times" in doc and doc["times"] is not None:
        raw = doc["times"]
        if not isinstance(raw, list):
            raise ConfigError([*path, "times"], "expected a list of {start_time, end_time}")
        parsed = []
        for index, item in enumerate(raw):
            where = [*path, "times", index]
            if not isinstance(item, dict) or set(item) != {"start_time", "end_time"}:
                raise ConfigError(where, "expected {start_time: HH:MM, end_time: HH:MM}")
            start = _minutes(item["start_time"], [*where, "start_time"])
            end = _minutes(item["end_time"], [*where, "end_time"])
            if start >= end:
                raise ConfigError(where, "the start time must be before the end time")
            parsed.append((start, end))
        times = tuple(parsed)
    fields: dict[str, tuple[Range, ...] | None] = {}
    specs: list[tuple[str, Callable[[str], int], Callable[[int, int], str | None], str]] = [
        ("weekdays", _member(WEEKDAYS, "weekday"), _weekday_check, '["monday:friday"]'),
        ("days_of_month", _member({}, "day of the month"), _day_check, '["1:7", "-1"]'),
        ("months", _member(MONTHS, "month"), _month_check, '["january:march"]'),
        ("years", _member({}, "year"), _year_check, '["2026:2027"]'),
    ]
    for name, read, check, example in specs:
        value = doc.get(name)
        fields[name] = (
            None if value is None else _ranges(value, [*path, name], read, check, example)
        )
    location = doc.get("location") or "UTC"
    if not isinstance(location, str) or location.lower() == "local":
        raise ConfigError([*path, "location"], "expected an IANA time zone such as Europe/Berlin")
    try:
        ZoneInfo(location)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            [*path, "location"], f"unknown time zone {location!r} (use an IANA name)"
        ) from None
    return Period(times=times, location=location, **fields)


def parse_intervals(doc: object, path: Path) -> dict[str, tuple[Period, ...]]:
    """Named intervals from ``[{name, time_intervals: [period, …]}, …]``.

    Raises:
        ConfigError: at the path of the first thing that is wrong (also a repeated name).
    """
    if not isinstance(doc, list):
        raise ConfigError(path, "expected a list of {name, time_intervals}")
    out: dict[str, tuple[Period, ...]] = {}
    for index, item in enumerate(doc):
        where = [*path, index]
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(where, "expected {name: <text>, time_intervals: [...]}")
        extra = set(item) - {"name", "time_intervals"}
        if extra:
            raise ConfigError([*where, sorted(extra)[0]], "unknown field")
        name = item["name"]
        if name in out:
            raise ConfigError([*where, "name"], f"the name {name!r} is used twice")
        periods = item.get("time_intervals") or []
        if not isinstance(periods, list):
            raise ConfigError([*where, "time_intervals"], "expected a list of periods")
        out[name] = tuple(
            parse_period(p, [*where, "time_intervals", i]) for i, p in enumerate(periods)
        )
    return out
