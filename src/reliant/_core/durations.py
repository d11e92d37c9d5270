"""Durations as people write them in YAML: ``250ms``, ``2s``, ``5m``, ``1h``, ``1d``."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object, *, option: str = "duration") -> float:
    """Return ``value`` in float seconds.

    Accepts a non-negative number (seconds) or a string of one or more number-unit
    parts (``"1m30s"``, ``"250ms"``, ``"1.5h"``).

    Raises:
        ValueError: naming ``option`` and showing the accepted forms.
    """
    if isinstance(value, bool):
        raise ValueError(f"{option}: expected a duration like '250ms', '2s' or 5, got {value!r}")
    if isinstance(value, int | float):
        if math.isnan(value) or value < 0:
            raise ValueError(f"{option}: a duration must be >= 0 seconds, got {value!r}")
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, total = 0, 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if text and pos == len(text):
            return total
    raise ValueError(
        f"{option}: expected a duration like '250ms', '2s', '5m', '1h30m' or a number "
        f"of seconds, got {value!r}"
    )


def format_duration(seconds: float) -> str:
    """Return a short human form of ``seconds`` (``1.5s``, ``250ms``, ``5m``).

    The result reads back through :func:`parse_duration` (to 12 significant digits)
    for any finite ``seconds >= 0``; a negative input gets a leading ``-``.
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if not math.isfinite(seconds):
        return f"{seconds}"
    if seconds < 1:
        return f"{_number(seconds * 1000)}ms"
    if seconds < 60 or seconds % 60:
        return f"{_number(seconds)}s"
    if seconds < 3600 or seconds % 3600:
        return f"{_number(seconds / 60)}m"
    return f"{_number(seconds / 3600)}h"


def _number(value: float) -> str:
    """Format ``value`` without an exponent, so that parse_duration can read it back."""
    text = f"{value:.12g}"
    if "e" in text:
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text
