"""Who is on call when: rotations in local time across DST, layers, restrictions, overrides.

Pure functions of ``reliant.server.domains.oncall.rotation``; every interval is half-open.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from reliant.server.domains.oncall.rotation import (
    Override,
    Shift,
    outlook,
    shifts,
    who_is_on_call,
)
from reliant.spec.models import ScheduleSpec

PARIS = ZoneInfo("Europe/Paris")


def at(text: str, zone: ZoneInfo = PARIS) -> float:
    """Epoch seconds of a local time (the first occurrence when it exists twice)."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def local(t: float) -> str:
    """A time as Paris local time with its offset."""
    return dt.datetime.fromtimestamp(t, PARIS).isoformat(timespec="minutes")


def spec(*rotations: dict[str, Any], timezone: str = "Europe/Paris") -> ScheduleSpec:
    return ScheduleSpec.model_validate({"timezone": timezone, "rotations": list(rotations)})


def daily(**changes: Any) -> dict[str, Any]:
    """alice, bob, carol: one day each, handing off at 09:00 Paris time."""
    body: dict[str, Any] = {
        "name": "primary",
        "members": ["alice", "bob", "carol"],
        "start": "2027-03-01T09:00",
        "shift": "1d",
    }
    body.update(changes)
    return body


def table(found: list[Shift]) -> list[tuple[str, str, str, str]]:
    return [(s.member, local(s.start), local(s.end), s.source) for s in found]


def test_daily_handoffs_stay_at_nine_across_the_spring_change() -> None:
    """Paris moves to summer time on 2027-03-28 at 02:00: the hand-off stays at 09:00 local,
    so the shift spanning the change lasts 23 hours."""
    found = shifts(spec(daily()), [], at("2027-03-27T09:00"), at("2027-03-29T09:00"))
    assert [
        ("carol", "2027-03-27T09:00+01:00", "2027-03-28T09:00+02:00", "primary"),
        ("alice", "2027-03-28T09:00+02:00", "2027-03-29T09:00+02:00", "primary"),
    ] == table(found)
    assert [23 * 3600.0, 24 * 3600.0] == [s.end - s.start for s in found]


def test_daily_handoffs_stay_at_nine_across_the_autumn_change() -> None:
    """Back to winter time on 2027-10-31 at 03:00: the shift spanning it lasts 25 hours."""
    found = shifts(spec(daily()), [], at("2027-10-30T09:00"), at("2027-11-01T09:00"))
    assert [25 * 3600.0, 24 * 3600.0] == [s.end - s.start for s in found]
    assert ["2027-10-31T09:00+01:00"] == [local(found[1].start)]


def test_twelve_hour_shifts_hand_off_at_the_same_local_times_across_dst() -> None:
    """A 12h rotation at 08:00/20:00 keeps those local times; the night of the spring
    change is an hour short."""
    rotation = daily(members=["day", "night"], start="2027-03-27T08:00", shift="12h")
    found = shifts(spec(rotation), [], at("2027-03-27T08:00"), at("2027-03-28T20:00"))
    assert [
        ("day", "2027-03-27T08:00+01:00", "2027-03-27T20:00+01:00", "primary"),
        ("night", "2027-03-27T20:00+01:00", "2027-03-28T08:00+02:00", "primary"),
        ("day", "2027-03-28T08:00+02:00", "2027-03-28T20:00+02:00", "primary"),
    ] == table(found)
    assert 11 * 3600.0 == found[1].end - found[1].start


def test_a_handoff_inside_the_spring_gap_happens_when_the_clock_jumps() -> None:
    """02:30 does not exist on 2027-03-28 in Paris: that hand-off happens at 03:30 summer
    time (the wall clock read before the gap), and no shift is empty or goes backwards."""
    rotation = daily(members=["a", "b"], start="2027-03-27T02:30")
    found = shifts(spec(rotation), [], at("2027-03-27T12:00"), at("2027-03-29T12:00"))
    assert [
        ("a", "2027-03-27T12:00+01:00", "2027-03-28T03:30+02:00", "primary"),
        ("b", "2027-03-28T03:30+02:00", "2027-03-29T02:30+02:00", "primary"),
        ("a", "2027-03-29T02:30+02:00", "2027-03-29T12:00+02:00", "primary"),
    ] == table(found)


def test_a_handoff_is_exact_and_half_open() -> None:
    """At 09:00:00 the next member is on call; a second before, the previous one."""
    schedule = spec(daily())
    handoff = at("2027-03-02T09:00")
    assert ("alice", "bob", "bob") == (
        who_is_on_call(schedule, [], handoff - 1),
        who_is_on_call(schedule, [], handoff),
        who_is_on_call(schedule, [], handoff + 0.5),
    )


def test_nobody_is_on_call_before_the_rotation_starts() -> None:
    """Before ``start`` the layer is empty: nobody, and shifts begin at the start."""
    schedule = spec(daily())
    start = at("2027-03-01T09:00")
    found = shifts(schedule, [], start - 3600, start + 3600)
    assert (None, [("alice", start, start + 3600)]) == (
        who_is_on_call(schedule, [], start - 1),
        [(s.member, s.start, s.end) for s in found],
    )


def test_a_restricted_later_layer_wins_only_inside_its_windows() -> None:
    """Weeknights 18:00–09:00 (Mon–Fri starts) a second layer takes over; elsewhere the
    daily layer shows through."""
    nights = {
        "name": "nights",
        "members": ["nora"],
        "start": "2027-03-01T00:00",
        "shift": "7d",
        "restrict": [
            {
                "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "start_time": "18:00",
                "end_time": "09:00",
            }
        ],
    }
    schedule = spec(daily(), nights)
    # Friday 2027-03-05 12:00 to Sunday 2027-03-07 12:00.
    found = shifts(schedule, [], at("2027-03-05T12:00"), at("2027-03-07T12:00"))
    assert [
        ("bob", "2027-03-05T12:00+01:00", "2027-03-05T18:00+01:00", "primary"),
        ("nora", "2027-03-05T18:00+01:00", "2027-03-06T09:00+01:00", "nights"),
        ("carol", "2027-03-06T09:00+01:00", "2027-03-07T09:00+01:00", "primary"),
        ("alice", "2027-03-07T09:00+01:00", "2027-03-07T12:00+01:00", "primary"),
    ] == table(found)


def test_restriction_windows_follow_local_time_across_dst() -> None:
    """A 09:00–17:00 window is 09:00–17:00 local on both sides of the spring change."""
    office = daily(
        name="office",
        members=["olga"],
        restrict=[{"weekdays": ["saturday", "sunday"], "start_time": "09:00", "end_time": "17:00"}],
    )
    found = shifts(spec(office), [], at("2027-03-27T00:00"), at("2027-03-29T00:00"))
    assert [
        ("olga", "2027-03-27T09:00+01:00", "2027-03-27T17:00+01:00", "office"),
        ("olga", "2027-03-28T09:00+02:00", "2027-03-28T17:00+02:00", "office"),
    ] == table(found)


def test_overrides_win_over_every_layer_and_the_later_override_wins() -> None:
    """An override covers the layers; where two overlap the later one wins; the layers
    show again when they end."""
    schedule = spec(daily())
    first = Override("oscar", at("2027-03-02T10:00"), at("2027-03-02T14:00"))
    second = Override("olivia", at("2027-03-02T12:00"), at("2027-03-02T13:00"))
    found = shifts(schedule, [first, second], at("2027-03-02T09:00"), at("2027-03-02T15:00"))
    assert [
        ("bob", "2027-03-02T09:00+01:00", "2027-03-02T10:00+01:00", "primary"),
        ("oscar", "2027-03-02T10:00+01:00", "2027-03-02T12:00+01:00", "override"),
        ("olivia", "2027-03-02T12:00+01:00", "2027-03-02T13:00+01:00", "override"),
        ("oscar", "2027-03-02T13:00+01:00", "2027-03-02T14:00+01:00", "override"),
        ("bob", "2027-03-02T14:00+01:00", "2027-03-02T15:00+01:00", "primary"),
    ] == table(found)


def test_an_override_fills_a_gap() -> None:
    """Where no layer is active, an override still puts its member on call."""
    office = daily(restrict=[{"weekdays": ["monday"], "start_time": "09:00", "end_time": "10:00"}])
    gap = Override("gina", at("2027-03-03T03:00"), at("2027-03-03T04:00"))
    assert ("gina", None) == (
        who_is_on_call(spec(office), [gap], at("2027-03-03T03:30")),
        who_is_on_call(spec(office), [gap], at("2027-03-03T04:00")),
    )


def test_outlook_says_who_until_when_and_who_is_next() -> None:
    """Mid-shift: the current shift from its real start, its end, and the next shift."""
    view = outlook(spec(daily()), [], at("2027-03-02T15:00"))
    assert (
        ("bob", "2027-03-02T09:00+01:00", "primary"),
        "2027-03-03T09:00+01:00",
        ("carol", "2027-03-03T09:00+01:00"),
    ) == (
        (view.current.member, local(view.current.start), view.current.source)
        if view.current
        else None,
        local(view.until) if view.until else None,
        (view.next.member, local(view.next.start)) if view.next else None,
    )


def test_outlook_of_a_lone_member_has_no_next_and_no_known_end() -> None:
    """One member always on call: no next shift and no end within the horizon."""
    view = outlook(spec(daily(members=["solo"])), [], at("2027-03-02T15:00"))
    assert ("solo", None, None) == (
        view.current.member if view.current else None,
        view.until,
        view.next,
    )


RANDOM_SPEC = spec(
    daily(),
    {
        "name": "weekend",
        "members": ["w1", "w2"],
        "start": "2027-01-02T18:00",
        "shift": "7d",
        "restrict": [
            {"weekdays": ["saturday", "sunday"], "start_time": "08:00", "end_time": "20:00"}
        ],
    },
)
BASE = at("2027-03-20T00:00")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    since=st.integers(0, 20 * 86400),
    length=st.integers(1, 10 * 86400),
    probes=st.lists(st.integers(0, 10 * 86400), min_size=1, max_size=5),
    overrides=st.lists(st.tuples(st.integers(0, 20 * 86400), st.integers(1, 86400)), max_size=3),
)
def test_shifts_agree_with_who_is_on_call_everywhere(
    since: int, length: int, probes: list[int], overrides: list[tuple[int, int]]
) -> None:
    """Shifts are ordered, disjoint, non-empty, inside the range, never two alike side by
    side, and at any instant name exactly who_is_on_call's answer."""
    start, end = BASE + since, BASE + since + length
    made = [Override(f"o{i}", BASE + s, BASE + s + d) for i, (s, d) in enumerate(overrides)]
    found = shifts(RANDOM_SPEC, made, start, end)
    pairs = list(pairwise(found))
    assert all(start <= s.start < s.end <= end for s in found)
    assert all(a.end <= b.start for a, b in pairs)
    assert not any(
        a.end == b.start and (a.member, a.source) == (b.member, b.source) for a, b in pairs
    )
    for offset in probes:
        t = start + offset % length
        covering = [s.member for s in found if s.start <= t < s.end]
        assert (covering or [None])[0] == who_is_on_call(RANDOM_SPEC, made, t)
