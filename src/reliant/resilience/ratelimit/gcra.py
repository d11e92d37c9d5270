"""GCRA, the generic cell rate algorithm, in integer microseconds.

The steps are redis-cell's ``CL.THROTTLE`` (reference/resilience.md §7). A key's whole
state is its theoretical arrival time ``tat``: the moment the key would be idle
again. With ``T = emission_us`` (one request's share of time) and ``tau =
tolerance_us = T * burst``:

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

from reliant.resilience.ratelimit.backend import Decision

_INF = math.inf
_new = tuple.__new__  # builds a Decision without NamedTuple's Python-level __new__


def decide(
    tat: int | None, now: int, emission: int, tolerance: int, cost: int
) -> tuple[int | None, Decision]:
    """Make one GCRA decision; no I/O, no clock.

    Args:
        tat: the stored theoretical arrival time in µs, or ``None`` for a new key.
        now: the current time in µs.
        emission: ``T``, microseconds per request (>= 1).
        tolerance: ``tau``, microseconds of burst (>= ``emission``).
        cost: requests to take (>= 0).

    Returns:
        ``(new_tat, decision)``; ``new_tat`` is ``None`` when nothing must be stored.
    """
    if tat is None or tat < now:
        tat = now
    increment = cost * emission
    new_tat = tat + increment
    allow_at = new_tat - tolerance
    if now < allow_at:
        ttl = tat - now
        retry_after = _INF if increment > tolerance else (allow_at - now) / 1_000_000
        remaining = (tolerance - ttl) // emission if ttl < tolerance else 0
        return None, _new(Decision, (False, remaining, retry_after, ttl / 1_000_000))
    ttl = new_tat - now
    decision = _new(Decision, (True, (tolerance - ttl) // emission, 0.0, ttl / 1_000_000))
    return (new_tat if cost else None), decision


def idle(tat: int, now: int) -> bool:
    """Tell whether a stored ``tat`` has fully recovered (forgetting it changes nothing)."""
    return tat <= now
