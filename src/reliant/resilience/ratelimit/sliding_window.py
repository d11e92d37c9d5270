"""Sliding-window counter, in integer microseconds (as limits and Cloudflare).

Time is cut into fixed windows of ``window_us``; a key keeps the count of the
current window and of the one before. The previous count is weighted by the part
of it the sliding window still covers, and a request is denied when::

    prev * (window - elapsed) // window + current + cost > limit

This assumes the previous window's requests were evenly spread, so a true sliding
window of length ``window`` may see up to ``2 * limit`` admissions at the seam; each
fixed window never admits more than ``limit``.
"""

from __future__ import annotations

import math

from reliant.resilience.ratelimit.backend import Decision

_INF = math.inf
_new = tuple.__new__

#: (start of the window in µs, count of the previous window, count of this one)
State = tuple[int, int, int]


def _wait_us(prev: int, cur: int, elapsed: int, window: int, room: int) -> int:
    """Microseconds until ``prev * (window - e) // window + cur <= room``, if no request
    arrives meanwhile (``room >= 0``); the window rolls ``cur`` into ``prev`` at its end.
    """
    if cur <= room:
        if prev == 0:
            return 0
        # smallest e with prev * (window - e) < (room - cur + 1) * window
        e = window - ((room - cur + 1) * window - 1) // prev
        if e <= elapsed:
            return 0
        if e < window:
            return e - elapsed
    to_next = window - elapsed
    if cur <= room:
        return to_next
    return to_next + window - ((room + 1) * window - 1) // cur


def _roll(state: State | None, start: int, window: int) -> tuple[int, int]:
    """Return ``(prev, cur)`` of the window starting at ``start``."""
    if state is None:
        return 0, 0
    stored, prev, cur = state
    if stored == start:
        return prev, cur
    if stored == start - window:
        return cur, 0
    if stored > start:  # a clock behind the one that stored the state: keep it
        return prev, cur
    return 0, 0


def decide(
    state: State | None, now: int, limit: int, window: int, cost: int
) -> tuple[State | None, Decision]:
    """Make one sliding-window decision; no I/O, no clock.

    Args:
        state: ``(window_start_us, prev, cur)``, or ``None`` for a new key.
        now: the current time in µs.
        limit: requests admitted per window (>= 1).
        window: the window length in µs (>= 1).
        cost: requests to take (>= 0).

    Returns:
        ``(new_state, decision)``; ``new_state`` is ``None`` when nothing must be stored.
    """
    elapsed = now % window
    start = now - elapsed
    prev, cur = _roll(state, start, window)
    used = prev * (window - elapsed) // window + cur
    if used + cost > limit:
        room = limit - cost
        retry_after = _INF if room < 0 else _wait_us(prev, cur, elapsed, window, room) / 1_000_000
        reset_after = _wait_us(prev, cur, elapsed, window, 0) / 1_000_000
        remaining = limit - used if used < limit else 0
        return None, _new(Decision, (False, remaining, retry_after, reset_after))
    cur += cost
    reset_after = _wait_us(prev, cur, elapsed, window, 0) / 1_000_000
    decision = _new(Decision, (True, limit - used - cost, 0.0, reset_after))
    return ((start, prev, cur) if cost else None), decision


def idle(state: State, now: int, window: int) -> bool:
    """Tell whether a stored window pair no longer weighs on any decision."""
    elapsed = now % window
    start = now - elapsed
    prev, cur = _roll(state, start, window)
    return _wait_us(prev, cur, elapsed, window, 0) == 0
