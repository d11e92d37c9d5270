"""Token bucket with continuous refill, in integer microseconds.

The bucket holds up to ``capacity`` tokens and gains one every ``emission_us``. To
keep the arithmetic exact, the level is kept as *credit*: microseconds of refill,
``tokens * emission_us``. A key's state is ``(credit, updated_at)``; a new key starts
full. A request of ``cost`` takes ``cost * emission_us`` credit, or is denied with
``retry_after`` = the time to refill the shortfall (never, ``math.inf``, when the
cost exceeds the capacity). Decisions equal GCRA's with ``burst = capacity``: GCRA
is this bucket written as one timestamp.
"""

from __future__ import annotations

import math

from reliant.resilience.ratelimit.backend import Decision

_INF = math.inf
_new = tuple.__new__

State = tuple[int, int]


def decide(
    state: State | None, now: int, emission: int, capacity: int, cost: int
) -> tuple[State | None, Decision]:
    """Make one token-bucket decision; no I/O, no clock.

    Args:
        state: ``(credit_us, updated_at_us)``, or ``None`` for a new (full) key.
        now: the current time in µs.
        emission: microseconds to refill one token (>= 1).
        capacity: tokens the bucket holds (>= 1).
        cost: tokens to take (>= 0).

    Returns:
        ``(new_state, decision)``; ``new_state`` is ``None`` when nothing must be stored.
    """
    full = capacity * emission
    if state is None:
        credit = full
    else:
        credit = state[0] + now - state[1]
        if credit > full:
            credit = full
        elif credit < 0:  # a clock behind the one that stored the state
            credit = 0
    need = cost * emission
    if credit < need:
        retry_after = _INF if need > full else (need - credit) / 1_000_000
        decision = _new(
            Decision, (False, credit // emission, retry_after, (full - credit) / 1_000_000)
        )
        return None, decision
    credit -= need
    decision = _new(Decision, (True, credit // emission, 0.0, (full - credit) / 1_000_000))
    return ((credit, now) if cost else None), decision


def idle(state: State, now: int, full: int) -> bool:
    """Tell whether a stored bucket has refilled to ``full`` credit (µs)."""
    return state[0] + now - state[1] >= full
