"""Compact before/after differences for the audit page (pure logic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Nesting depth flattened into dotted keys; deeper values are compared whole.
DEPTH = 2


@dataclass(frozen=True, slots=True)
class Change:
    """One changed key: ``op`` is ``added``, ``removed`` or ``changed``."""

    key: str
    op: str
    old: Any = None
    new: Any = None


def flatten(value: Mapping[str, Any], depth: int = DEPTH, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys, down to ``depth`` levels."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping) and item and depth > 1:
            out.update(flatten(item, depth - 1, f"{path}."))
        else:
            out[path] = item
    return out


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[Change]:
    """What differs between two states, key by key, in key order.

    A creation (``before`` is ``None``) lists every key as added; a deletion every key as
    removed.
    """
    old = flatten(before or {})
    new = flatten(after or {})
    out = []
    for key in sorted(old.keys() | new.keys()):
        if key not in old:
            out.append(Change(key, "added", new=new[key]))
        elif key not in new:
            out.append(Change(key, "removed", old=old[key]))
        elif old[key] != new[key]:
            out.append(Change(key, "changed", old[key], new[key]))
    return out
