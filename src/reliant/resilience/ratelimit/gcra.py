"""GCRA, the generic cell rate algorithm, in integer microseconds.

The steps are redis-cell's ``CL.THROTTLE`` (reference/resilience.md §7). A key's whole
state is its theoretical arrival time ``tat``: the moment the key would be idle
again. With ``T = emission`` (one request's share of time, µs) and ``tau =
tolerance = T * burst``:

1. ``tat = stored or now``; ``new_tat = max(tat, now) + cost * T``;
   ``allow_at = new_tat - tau``.
2. ``now < allow_at``: deny, ``retry_after = allow_at - now`` — or never
   (``math.inf``) when ``cost * T > tau``: no wait can admit it.
3. Otherwise admit and store ``new_tat``.
4. ``remaining = (tau - ttl) // T`` and ``reset_after = ttl``, where ``ttl`` is
   ``new_tat - now`` if admitted, ``max(tat, now) - now`` if denied.

``cost = 0`` peeks: it is always admitted and stores nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

from reliant.resilience.ratelimit.backend import Decision
from reliant.resilience.ratelimit.table import Decide, Table

_INF = math.inf
_new = tuple.__new__  # builds a Decision without NamedTuple's Python-level __new__


def idle(tat: int, now: int) -> bool:
    """Tell whether a stored ``tat`` has fully recovered (forgetting it changes nothing)."""
    return tat <= now


def rescale(tat: int, now: int, old: tuple[int, int], new: tuple[int, int]) -> int:
    """Carry a stored ``tat`` over to new ``(emission, tolerance)`` parameters.

    The requests the key has in use (its debt ``tat - now`` in units of the old
    emission interval) are kept, up to the new burst, and drain at the new rate:
    the key is judged as if the new parameters had applied to its recent requests.

    Args:
        tat: the stored theoretical arrival time, µs.
        now: the current time, µs.
        old: ``(emission, tolerance)`` the state was built with.
        new: ``(emission, tolerance)`` to carry it over to.

    Returns:
        The new ``tat`` (``tat`` itself when the key is idle).
    """
    if tat <= now:
        return tat
    debt = -(-(tat - now) * new[0] // old[0])  # rounded up: never admits more
    return now + min(debt, new[1])


#: ``(key, emission, tolerance, cost, False) -> new_ttl``: the decision function called
#: with ``full=False``, for callers that need only the yes or no.
Step = Callable[[str, int, int, int, bool], int]


def stepper(decide: Decide) -> Step:
    """View a :func:`decider` function as its bare step (call it with ``full=False``).

    The request is admitted, and stored, exactly when the returned ``new_ttl <=
    tolerance``. Cheaper than the full :class:`Decision` when only the yes or no is
    wanted (a limiter guarding a call); one function serves both, so an instance
    holds one closure, not two.
    """
    return cast(Step, decide)


def decider(t: Table[int]) -> Decide:
    """Return the GCRA decision function over ``t``: ``(key, emission, tolerance, cost)``.

    ``emission`` is ``T`` in µs (>= 1), ``tolerance`` is ``tau`` in µs (>= ``T``),
    ``cost`` the requests to take (>= 0). The key is popped and re-inserted, so the
    table stays in least-recently-used order. A fifth argument ``full=False`` returns
    the bare ``new_ttl`` instead of a :class:`Decision` (see :func:`stepper`).
    """
    table, pop, now_ns = t.data, t.data.pop, t.now_ns
    acquire, release = t.lock.acquire, t.lock.release
    max_keys, evict = t.max_keys, t.evict

    def gcra(
        key: str, emission: int, tolerance: int, cost: int, full: bool = True
    ) -> int | Decision:
        now = now_ns() // 1000
        acquire()
        try:
            tat = pop(key, None)
            # ttl: how far the key's tat runs ahead of now (0 when idle).
            ttl = 0 if tat is None or tat <= now else tat - now
            new_ttl = ttl + cost * emission
            if new_ttl > tolerance:  # now < allow_at = new_tat - tau
                if tat is not None:
                    table[key] = tat
            elif cost:
                table[key] = now + new_ttl
                if tat is None and len(table) > max_keys:  # a new key
                    evict(lambda stored: idle(stored, now))
            elif tat is not None:
                table[key] = tat
        finally:
            release()
        if not full:
            return new_ttl
        if new_ttl <= tolerance:
            return _new(
                Decision, (True, (tolerance - new_ttl) // emission, 0.0, new_ttl / 1_000_000)
            )
        if cost * emission > tolerance:
            retry_after = _INF
        else:
            retry_after = (new_ttl - tolerance) / 1_000_000
        remaining = (tolerance - ttl) // emission if ttl < tolerance else 0
        return _new(Decision, (False, remaining, retry_after, ttl / 1_000_000))

    return cast(Decide, gcra)
