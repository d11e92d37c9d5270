"""Classifying outcomes: which exceptions and results count as failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ExceptionPredicate = Callable[[BaseException], bool]
ResultPredicate = Callable[[Any], bool]


def retry_after_hint(obj: object) -> float | None:
    """Return a server-provided wait carried by an exception or result, if any.

    Looks for a ``retry_after`` attribute holding a non-negative number of seconds
    (``RejectedError`` and many HTTP client errors carry one).
    """
    hint = getattr(obj, "retry_after", None)
    if isinstance(hint, int | float) and not isinstance(hint, bool) and hint >= 0:
        return float(hint)
    return None
