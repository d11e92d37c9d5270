"""The error every pure parser of the alerts domain raises: what is wrong, and where."""

from __future__ import annotations

from collections.abc import Sequence

Path = tuple[str | int, ...]


class ConfigError(ValueError):
    """A routing document, matcher or time interval that cannot be used.

    Args:
        path: where the problem is, e.g. ``("route", "routes", 1, "matchers", 0)``.
        message: what is wrong and how to fix it.
    """

    def __init__(self, path: Sequence[str | int], message: str) -> None:
        self.path: Path = tuple(path)
        self.message = message
        super().__init__(f"{dotted(self.path)}: {message}" if self.path else message)


def dotted(path: Sequence[str | int]) -> str:
    """``route.routes[1].matchers[0]`` for ``("route", "routes", 1, "matchers", 0)``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
