"""Text no store keeps: PostgreSQL refuses NUL characters, and lone surrogates are not UTF-8."""

from __future__ import annotations

from typing import Any


def unstorable(value: Any) -> bool:
    """Whether JSON holds text no store keeps: NUL characters or lone surrogates."""
    if isinstance(value, str):
        return "\x00" in value or (not value.isascii() and _lone_surrogate(value))
    if isinstance(value, dict):
        return any(unstorable(k) or unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(unstorable(v) for v in value)
    return False


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
