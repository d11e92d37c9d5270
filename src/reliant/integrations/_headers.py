"""HTTP fields shared by the middlewares: IETF RateLimit fields, Retry-After, problems.

The rate-limit fields follow draft-ietf-httpapi-ratelimit-headers (-09 to -11)::

    RateLimit-Policy: "default";q=100;w=60
    RateLimit: "default";r=0;t=30

Both are Structured Field lists; :func:`parse_fields` reads the subset these drafts use
(string or token items with integer, string or token parameters).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

#: Seconds are rounded to whole microseconds before rounding up, so that the float
#: noise of a µs-exact decision (``29.999999999``) never adds a second.
_PRECISION = 6


def whole_seconds(seconds: float) -> int:
    """Round ``seconds`` up to whole seconds (``Retry-After`` takes integers), at least 0."""
    return max(0, math.ceil(round(seconds, _PRECISION)))


def quota_window(rate: float, per: float) -> tuple[int, int]:
    """Express ``rate`` per ``per`` seconds as the policy's whole ``(q, w)``.

    ``w`` is ``per`` rounded to whole seconds (at least 1), widened until the quota
    ``q`` it holds is at least one request; ``q`` is rounded down so that a client
    following the policy never exceeds the rate.
    """
    exact = Fraction(str(rate)) / Fraction(str(per))  # requests per second
    window = max(1, round(per), math.ceil(1 / exact))
    return math.floor(exact * window), window


def sf_string(value: str) -> str:
    """Serialise ``value`` as a Structured Field string (quotes and backslashes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def policy_field(name: str, quota: int, window: int) -> str:
    """The ``RateLimit-Policy`` value: ``"name";q=<quota>;w=<window>``."""
    return f"{sf_string(name)};q={quota};w={window}"


def ratelimit_field(name: str, remaining: int, reset: int) -> str:
    """The ``RateLimit`` value: ``"name";r=<remaining>;t=<seconds to reset>``."""
    return f"{sf_string(name)};r={max(0, remaining)};t={reset}"


def problem(status: int, title: str, detail: str) -> bytes:
    """An RFC 9457 ``application/problem+json`` body."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return json.dumps(body, separators=(",", ":")).encode()


PROBLEM_TYPE = "application/problem+json"
JSON_TYPE = "application/json"


def _item(text: str) -> str | int:
    text = text.strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    try:
        return int(text)
    except ValueError:
        return text


def parse_fields(value: str) -> dict[str, dict[str, str | int]]:
    """Read a ``RateLimit`` or ``RateLimit-Policy`` value into ``{name: {param: value}}``.

    Args:
        value: the field value, e.g. ``'"default";r=0;t=30'``.

    Returns:
        One entry per list member, keyed by its (unquoted) name.

    Raises:
        ValueError: when a member has no name.
    """
    parsed: dict[str, dict[str, str | int]] = {}
    for member in value.split(","):
        name, *params = member.split(";")
        key = _item(name)
        if not isinstance(key, str) or not key:
            raise ValueError(f"RateLimit field member without a name: {member!r}")
        parsed[key] = {
            k.strip(): _item(v) for k, _, v in (p.partition("=") for p in params) if k.strip()
        }
    return parsed
