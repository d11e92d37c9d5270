"""Validation helpers: every bad option is reported at construction, by name and range."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def _fail(owner: str, option: str, expected: str, value: object) -> ValueError:
    return ValueError(f"{owner}: {option} must be {expected}, got {value!r}")


def number(owner: str, option: str, value: object) -> float:
    """Return ``value`` as a float, rejecting bools, NaN and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _fail(owner, option, "a number", value)
    return float(value)


def positive(owner: str, option: str, value: object) -> float:
    """Require a finite number > 0."""
    v = number(owner, option, value)
    if not (0 < v < math.inf):
        raise _fail(owner, option, "a finite number > 0", value)
    return v


def non_negative(owner: str, option: str, value: object, *, finite: bool = True) -> float:
    """Require a number >= 0 (finite unless ``finite=False``)."""
    v = number(owner, option, value)
    if v < 0 or (finite and v == math.inf):
        raise _fail(owner, option, "a finite number >= 0" if finite else "a number >= 0", value)
    return v


def ratio(owner: str, option: str, value: object) -> float:
    """Require a number in [0, 1]."""
    v = number(owner, option, value)
    if not 0.0 <= v <= 1.0:
        raise _fail(owner, option, "in [0, 1]", value)
    return v


def integer(owner: str, option: str, value: object, *, minimum: int = 1) -> int:
    """Require an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(owner, option, f"an integer >= {minimum}", value)
    return value


def exception_types(owner: str, option: str, value: object) -> tuple[type[BaseException], ...]:
    """Require an exception class or a tuple of them; return a tuple."""
    items: Iterable[Any] = value if isinstance(value, tuple | list) else (value,)
    out = tuple(items)
    for item in out:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise _fail(owner, option, "an exception class or a tuple of them", value)
    return out


def one_of(owner: str, option: str, value: object, choices: Iterable[str]) -> str:
    """Require one of ``choices``."""
    allowed = tuple(choices)
    if value not in allowed:
        raise _fail(owner, option, "one of " + ", ".join(repr(c) for c in allowed), value)
    return str(value)


def name(owner: str, value: object) -> str:
    """Require a string policy name."""
    if not isinstance(value, str):
        raise _fail(owner, "name", "a string", value)
    return value
