"""Token bucket with continuous refill, in integer microseconds.

The bucket holds up to ``capacity`` tokens and gains one every ``emission`` µs. To
keep the arithmetic exact the level is kept as *credit*, microseconds of refill
(``tokens * emission``). A key's state is ``(credit, updated_at)``; a new key starts
full. A request of ``cost`` takes ``cost * emission`` credit, or is denied with
``retry_after`` = the time to refill the shortfall — never (``math.inf``) when the
cost exceeds the capacity. ``remaining`` is the whole tokens left and
``reset_after`` the time until the bucket is full again.

Decisions equal GCRA's with ``burst = capacity``: GCRA is this bucket written as one
timestamp. ``cost = 0`` peeks and stores nothing.
"""

from __future__ import annotations

import math

from reliant.resilience.ratelimit.backend import Decision
from reliant.resilience.ratelimit.table import Decide, Table

_INF = math.inf
_new = tuple.__new__

#: ``(credit_us, updated_at_us)``
State = tuple[int, int]


def idle(state: State, now: int, full: int) -> bool:
    """Tell whether a stored bucket has refilled to ``full`` credit (µs)."""
    return state[0] + now - state[1] >= full


def rescale(state: State, now: int, old: tuple[int, int], new: tuple[int, int]) -> State:
    """Carry a stored bucket over to new ``(emission, capacity)`` parameters.

    As GCRA's :func:`~reliant.resilience.ratelimit.gcra.rescale`: the tokens the key
    has taken and not yet got back are kept (up to the new capacity) and refill at
    the new rate.

    Args:
        state: the stored ``(credit, updated_at)``.
        now: the current time, µs.
        old: ``(emission, capacity)`` the state was built with.
        new: ``(emission, capacity)`` to carry it over to.

    Returns:
        The new state, as of ``now``.
    """
    old_full = old[0] * old[1]
    new_full = new[0] * new[1]
    credit = min(old_full, max(0, state[0] + now - state[1]))
    debt = -(-(old_full - credit) * new[0] // old[0])  # rounded up: never admits more
    return (new_full - min(debt, new_full), now)


def decider(t: Table[State]) -> Decide:
    """Return the token-bucket decision function over ``t``: ``(key, emission, capacity, cost)``.

    ``emission`` is the µs to refill one token (>= 1), ``capacity`` the tokens the
    bucket holds (>= 1), ``cost`` the tokens to take (>= 0).
    """
    table, pop, now_ns = t.data, t.data.pop, t.now_ns
    acquire, release = t.lock.acquire, t.lock.release
    max_keys, evict = t.max_keys, t.evict

    def token_bucket(key: str, emission: int, capacity: int, cost: int) -> Decision:
        now = now_ns() // 1000
        full = capacity * emission
        need = cost * emission
        acquire()
        try:
            state = pop(key, None)
            if state is None:
                credit = full
            else:
                credit = state[0] + now - state[1]
                if credit > full:
                    credit = full
                elif credit < 0:  # stored by a clock ahead of this one
                    credit = 0
            if credit < need:
                if state is not None:
                    table[key] = state
            elif cost:
                table[key] = (credit - need, now)
                if state is None and len(table) > max_keys:  # a new key
                    evict(lambda stored: idle(stored, now, full))
            elif state is not None:
                table[key] = state
        finally:
            release()
        if credit >= need:
            credit -= need
            return _new(Decision, (True, credit // emission, 0.0, (full - credit) / 1_000_000))
        retry_after = _INF if need > full else (need - credit) / 1_000_000
        return _new(Decision, (False, credit // emission, retry_after, (full - credit) / 1_000_000))

    return token_bucket
