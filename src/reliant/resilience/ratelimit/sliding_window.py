"""Sliding-window counter, in integer microseconds (as limits and Cloudflare).

Time is cut into fixed windows of ``window`` µs; a key keeps the count of the
current window and of the one before. The previous count is weighted by the part
of it the sliding window still covers, and a request is denied when::

    prev * (window - elapsed) // window + current + cost > limit

This assumes the previous window's requests were evenly spread, so a true sliding
window of length ``window`` may see up to ``2 * limit`` admissions at the seam; each
fixed window never admits more than ``limit``. ``retry_after`` and ``reset_after``
are exact for this formula (assuming no other request arrives), and a cost above
``limit`` is never admitted (``math.inf``). ``cost = 0`` peeks and stores nothing.
"""

from __future__ import annotations

import math

from reliant.resilience.ratelimit.backend import Decision
from reliant.resilience.ratelimit.table import Decide, Table

_INF = math.inf
_new = tuple.__new__

#: ``(start of the window in µs, count of the previous window, count of this one)``
State = tuple[int, int, int]


def wait_us(prev: int, cur: int, elapsed: int, window: int, room: int) -> int:
    """Microseconds until ``prev * (window - e) // window + cur <= room`` (``room >= 0``).

    At the end of the window ``cur`` becomes ``prev`` and the count restarts at 0.
    """
    if cur <= room:
        if prev == 0:
            return 0
        # the smallest e with prev * (window - e) < (room - cur + 1) * window
        e = window - ((room - cur + 1) * window - 1) // prev
        if e <= elapsed:
            return 0
        if e < window:
            return e - elapsed
    to_next = window - elapsed
    if cur <= room:
        return to_next
    return to_next + window - ((room + 1) * window - 1) // cur


def roll(state: State | None, start: int, window: int) -> tuple[int, int]:
    """Return ``(prev, cur)`` as seen from the window beginning at ``start``."""
    if state is None:
        return 0, 0
    stored, prev, cur = state
    if stored == start:
        return prev, cur
    if stored == start - window:
        return cur, 0
    if stored > start:  # stored by a clock ahead of this one: keep it
        return prev, cur
    return 0, 0


def idle(state: State, now: int, window: int) -> bool:
    """Tell whether a stored window pair no longer weighs on any decision."""
    elapsed = now % window
    prev, cur = roll(state, now - elapsed, window)
    return wait_us(prev, cur, elapsed, window, 0) == 0


def rescale(state: State, now: int, old: tuple[int, int], new: tuple[int, int]) -> State:
    """Carry stored window counts over to new ``(limit, window)`` parameters.

    Counts are requests, so a new ``limit`` applies to them unchanged. A new window
    length cannot reuse the old windows: the requests the key has in use now (the
    weighted count) become the previous window of the new layout, so they fade out
    by the end of the new window in progress.

    Args:
        state: the stored ``(start, prev, cur)``.
        now: the current time, µs.
        old: ``(limit, window)`` the state was built with.
        new: ``(limit, window)`` to carry it over to.

    Returns:
        The new state.
    """
    if old[1] == new[1]:
        return state
    window = old[1]
    elapsed = now % window
    prev, cur = roll(state, now - elapsed, window)
    used = prev * (window - elapsed) // window + cur
    start = now - now % new[1]
    return (start, used, 0)


def decider(t: Table[State]) -> Decide:
    """Return the sliding-window decision function over ``t``: ``(key, limit, window, cost)``.

    ``limit`` is the requests admitted per window (>= 1), ``window`` its length in µs
    (>= 1), ``cost`` the requests to take (>= 0).
    """
    table, pop, now_ns = t.data, t.data.pop, t.now_ns
    acquire, release = t.lock.acquire, t.lock.release
    max_keys, evict = t.max_keys, t.evict

    def sliding_window(key: str, limit: int, window: int, cost: int) -> Decision:
        now = now_ns() // 1000
        elapsed = now % window
        start = now - elapsed
        acquire()
        try:
            state = pop(key, None)
            prev, cur = roll(state, start, window)
            used = prev * (window - elapsed) // window + cur
            allowed = used + cost <= limit
            if allowed and cost:
                cur += cost
                table[key] = (start, prev, cur)
                if state is None and len(table) > max_keys:  # a new key
                    evict(lambda stored: idle(stored, now, window))
            elif state is not None:
                table[key] = state
        finally:
            release()
        reset_after = wait_us(prev, cur, elapsed, window, 0) / 1_000_000
        if allowed:
            return _new(Decision, (True, limit - used - cost, 0.0, reset_after))
        room = limit - cost
        retry_after = _INF if room < 0 else wait_us(prev, cur, elapsed, window, room) / 1_000_000
        remaining = limit - used if used < limit else 0
        return _new(Decision, (False, remaining, retry_after, reset_after))

    return sliding_window
