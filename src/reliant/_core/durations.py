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
    """Return a short human form of ``seconds`` (``1.5s``, ``250ms``, ``5m``)."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    if seconds < 3600 or seconds % 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"
