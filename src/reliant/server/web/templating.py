"""The web UI's templates: one Jinja2 environment, filters for times and numbers, asset URLs.

Templates live in ``web/templates`` (domain pages under a folder named after the domain, e.g.
``catalog/service.html``). Autoescaping is always on; values reach JavaScript only through
``data-`` attributes and JSON, never inline scripts (the Content-Security-Policy forbids them).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PRODUCT = "reliant"
#: Longest rendering of one value in compact listings (attributes, audit diffs).
COMPACT_MAX = 80


@cache
def asset_version(name: str) -> str:
    """A short digest of a static file, appended to its URL so browsers refetch changes."""
    path = (STATIC / name).resolve()
    if STATIC.resolve() not in path.parents or not path.is_file():
        raise ValueError(f"no static file named {name!r} in {STATIC}")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """The URL of a static file, versioned by its content."""
    return f"/static/{name}?v={asset_version(name)}"


def when(t: float | None) -> str:
    """An absolute time in UTC: ``2027-01-15 08:00:00Z``."""
    if t is None:
        return "—"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso(t: float | None) -> str:
    """An RFC 3339 time for ``<time datetime=...>``."""
    if t is None:
        return ""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ago(t: float | None, now: float) -> str:
    """How long before ``now`` ``t`` was: ``just now``, ``42 s ago``, ``3 min ago``, ``2 h ago``."""
    if t is None:
        return "never"
    delta = now - t
    if delta < 0:
        return f"in {span(-delta)}"
    if delta < 2:
        return "just now"
    return f"{span(delta)} ago"


def span(seconds: float) -> str:
    """A duration for people: ``42 s``, ``3 min``, ``2 h``, ``5 d``."""
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def percent(ratio: float | None, digits: int = 1) -> str:
    """A ratio as a percentage (``12.5%``); ``—`` when unknown."""
    if ratio is None or not math.isfinite(ratio):
        return "—"
    return f"{ratio * 100:.{digits}f}%"


def latency(seconds: float | None) -> str:
    """A latency in the unit that reads best: ``850 µs``, ``12 ms``, ``1.4 s``."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def count(n: int | float | None) -> str:
    """A count with thousands separators; ``—`` when unknown."""
    return "—" if n is None else f"{n:,}"


def compact(value: Any, limit: int = COMPACT_MAX) -> str:
    """A value on one short line: strings bare, everything else as JSON, cut at ``limit``."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field(value: Any, key: str) -> str:
    """A recorded field's value, compact; epoch times (keys ending ``_at``) as UTC times."""
    if key.rsplit(".", 1)[-1].endswith("_at") and isinstance(value, int | float):
        return when(value)
    return compact(value, COMPACT_MAX // 2)


def attribute_items(values: dict[str, Any]) -> list[tuple[str, Any]]:
    """Event attributes in reading order: ``name`` first, ``instance`` last, others sorted.

    ``static/app.js`` orders live events the same way.
    """
    first = [("name", values["name"])] if "name" in values else []
    last = [("instance", values["instance"])] if "instance" in values else []
    rest = sorted(
        ((k, v) for k, v in values.items() if k not in ("name", "instance")),
        key=lambda item: item[0].lower(),
    )
    return first + rest + last


def pretty(value: Any) -> str:
    """A value as indented JSON."""
    return json.dumps(value, indent=2, sort_keys=True)


@cache
def environment() -> Environment:
    """The UI's Jinja2 environment (built once)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(static_url=static_url, product=PRODUCT)
    env.filters.update(
        when=when,
        iso=iso,
        ago=ago,
        span=span,
        percent=percent,
        latency=latency,
        count=count,
        compact=compact,
        field=field,
        attribute_items=attribute_items,
        pretty=pretty,
    )
    return env


def render_template(name: str, context: dict[str, Any]) -> str:
    """Render template ``name`` with ``context``."""
    return environment().get_template(name).render(context)
