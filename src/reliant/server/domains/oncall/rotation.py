"""Who is on call when: a schedule's layers, restrictions and overrides as shifts. Pure.

Hand-offs are computed in the schedule's local time: a rotation starting
``2027-03-22T09:00`` with ``shift: 1d`` hands off at 09:00 local every day, so across a
daylight saving change one shift lasts 23 or 25 hours. A hand-off at a local time that does
not exist (inside a spring-forward gap) happens when the clock jumps past it; one that
exists twice (an autumn fold) happens at the first occurrence.

Layers are stacked like PagerDuty's: where a later rotation is active it wins; overrides win
over every layer, and of overlapping overrides the later one (the last in the sequence
given) wins. Every interval is half-open, ``[start, end)``: at a hand-off instant the next
member is on call.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from reliant._core.durations import parse_duration
from reliant.spec.models import WEEKDAYS, Restriction, Rotation, ScheduleSpec

#: The source of a shift an override makes.
OVERRIDE = "override"
#: How far ``outlook`` looks for the end of the current shift and the next one, in turn.
HORIZONS = (8 * 86400.0, 400 * 86400.0)
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Shift:
    """``member`` is on call in ``[start, end)`` (epoch seconds) because of ``source``
    (a rotation's name, or ``"override"``)."""

    member: str
    start: float
    end: float
    source: str


@dataclass(frozen=True, slots=True)
class Override:
    """An ad hoc override: ``member`` is on call in ``[start, end)`` whatever the layers say."""

    member: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Outlook:
    """Who is on call at a moment and who is next.

    Attributes:
        current: the shift under way (``None``: nobody is on call).
        until: when the current shift ends; ``None`` when beyond the horizon (400 days).
        next: the next shift, if one starts within the horizon.
    """

    current: Shift | None
    until: float | None
    next: Shift | None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _instant(local: dt.datetime, zone: ZoneInfo) -> float:
    """The epoch time of a local wall time (``fold=0``: the first of two, before a gap)."""
    return local.replace(tzinfo=zone).timestamp()


def _wall(t: float, zone: ZoneInfo) -> dt.datetime:
    """The local wall time at epoch ``t``, without its zone."""
    return dt.datetime.fromtimestamp(t, zone).replace(tzinfo=None)


def _clock(text: str) -> dt.timedelta:
    hours, minutes = text.split(":")
    return dt.timedelta(hours=int(hours), minutes=int(minutes))


def _turns(
    rotation: Rotation, zone: ZoneInfo, since: float, until: float
) -> list[tuple[float, float, str]]:
    """The rotation's turns overlapping ``[since, until)``, clipped to it."""
    start = dt.datetime.fromisoformat(rotation.start)
    step = dt.timedelta(seconds=parse_duration(rotation.shift))
    first = _instant(start, zone)
    if until <= first:
        return []
    elapsed = _wall(max(since, first), zone) - start
    # One turn earlier than the wall time says: in an autumn fold the wall time runs ahead.
    k = max(0, elapsed // step - 1)
    members = rotation.members
    turns: list[tuple[float, float, str]] = []
    begin = _instant(start + k * step, zone)
    while begin < until:
        # Hand-offs never go back in time, even around a gap in the local clock.
        end = max(_instant(start + (k + 1) * step, zone), begin)
        if end > since and end > begin:
            member = members[k % len(members)]
            if turns and turns[-1][2] == member:  # one member's turns in a row: one stretch
                turns[-1] = (turns[-1][0], min(end, until), member)
            else:
                turns.append((max(begin, since), min(end, until), member))
        begin, k = end, k + 1
    return turns


def _windows(
    restrict: Sequence[Restriction], zone: ZoneInfo, since: float, until: float
) -> list[tuple[float, float]]:
    """The union of the restriction windows within ``[since, until)``, sorted."""
    found: list[tuple[float, float]] = []
    day = _wall(since, zone).date() - _DAY
    last = _wall(until, zone).date() + _DAY
    while day <= last:
        midnight = dt.datetime.combine(day, dt.time())
        name = WEEKDAYS[day.weekday()]
        for window in restrict:
            if name not in window.weekdays:
                continue
            opens, closes = _clock(window.start_time), _clock(window.end_time)
            if closes <= opens:
                closes += _DAY
            begin = max(_instant(midnight + opens, zone), since)
            end = min(_instant(midnight + closes, zone), until)
            if begin < end:
                found.append((begin, end))
        day += _DAY
    found.sort()
    merged: list[tuple[float, float]] = []
    for begin, end in found:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _layer(
    rotation: Rotation, zone: ZoneInfo, since: float, until: float
) -> list[tuple[float, float, str]]:
    """When the rotation is active in ``[since, until)``, and who is on call then."""
    turns = _turns(rotation, zone, since, until)
    if not rotation.restrict or not turns:
        return turns
    windows = _windows(rotation.restrict, zone, since, until)
    active: list[tuple[float, float, str]] = []
    i = j = 0
    while i < len(turns) and j < len(windows):
        begin = max(turns[i][0], windows[j][0])
        end = min(turns[i][1], windows[j][1])
        if begin < end:
            active.append((begin, end, turns[i][2]))
        if turns[i][1] <= windows[j][1]:
            i += 1
        else:
            j += 1
    return active


def _covering(
    segments: list[tuple[float, float, str]], starts: list[float], t: float
) -> str | None:
    index = bisect.bisect_right(starts, t) - 1
    if index >= 0 and segments[index][0] <= t < segments[index][1]:
        return segments[index][2]
    return None


def shifts(
    schedule: ScheduleSpec, overrides: Sequence[Override], since: float, until: float
) -> list[Shift]:
    """Who is on call in ``[since, until)``, as consecutive shifts (gaps: nobody).

    Adjacent stretches of one member from one source make one shift; shifts are clipped to
    ``[since, until)``.

    Args:
        overrides: the schedule's overrides; of overlapping ones, the later in the sequence
            wins.
    """
    if until <= since:
        return []
    zone = _zone(schedule.timezone)
    layers = [(r.name, _layer(r, zone, since, until)) for r in schedule.rotations]
    starts = [[s[0] for s in segments] for _, segments in layers]
    active = [o for o in overrides if o.start < until and o.end > since and o.start < o.end]
    points = {since, until}
    for _, segments in layers:
        for begin, end, _ in segments:
            points.update((begin, end))
    for o in active:
        points.update(p for p in (o.start, o.end) if since < p < until)
    out: list[Shift] = []
    for begin, end in pairwise(sorted(points)):
        pick = next(
            ((o.member, OVERRIDE) for o in reversed(active) if o.start <= begin < o.end), None
        )
        if pick is None:
            for (name, segments), first in zip(reversed(layers), reversed(starts), strict=True):
                member = _covering(segments, first, begin)
                if member is not None:
                    pick = (member, name)
                    break
        if pick is None:
            continue
        last = out[-1] if out else None
        if last is not None and last.end == begin and (last.member, last.source) == pick:
            out[-1] = Shift(last.member, last.start, end, last.source)
        else:
            out.append(Shift(pick[0], begin, end, pick[1]))
    return out


def who_is_on_call(schedule: ScheduleSpec, overrides: Sequence[Override], at: float) -> str | None:
    """The member on call at ``at`` (``None``: nobody)."""
    found = shifts(schedule, overrides, at, at + 1.0)
    return found[0].member if found and found[0].start == at else None


def _began(schedule: ScheduleSpec, overrides: Sequence[Override], at: float) -> float | None:
    """When the shift under way at ``at`` began (looking back at most eight days)."""
    found = shifts(schedule, overrides, at - HORIZONS[0], at + 1.0)
    return next((s.start for s in reversed(found) if s.start <= at < s.end), None)


def outlook(schedule: ScheduleSpec, overrides: Sequence[Override], at: float) -> Outlook:
    """Who is on call at ``at``, until when, and who is next."""
    current: Shift | None = None
    began = _began(schedule, overrides, at)
    for horizon in HORIZONS:
        found = shifts(schedule, overrides, at, at + horizon)
        current = found[0] if found and found[0].start == at else None
        if current is not None and began is not None:
            current = Shift(current.member, began, current.end, current.source)
        later = found[1:] if current is not None else found
        if later:
            until = current.end if current is not None else None
            return Outlook(current=current, until=until, next=later[0])
        if current is not None and current.end < at + horizon:
            return Outlook(current=current, until=current.end, next=None)
    return Outlook(current=current, until=None, next=None)
