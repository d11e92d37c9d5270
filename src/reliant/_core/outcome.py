"""What an outcome (an exception or a result) says about when to try again."""

from __future__ import annotations


def retry_after_hint(obj: object) -> float | None:
    """Return a server-provided wait carried by an exception or result, if any.

    Looks for a ``retry_after`` attribute holding a non-negative number of seconds
    (``RejectedError`` and many HTTP client errors carry one).
    """
    hint = getattr(obj, "retry_after", None)
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0:
        return float(hint)
    return None
