"""The SDK's link to the control plane: :func:`connect` and :class:`Agent`.

Nothing here is imported by ``import reliant``; ``reliant.connect`` loads this package
on first use. Standard library only, and never imports ``reliant.server``. The names
load lazily so that ``reliant.agent.protocol`` (shared with the server) stays cheap.
See ``docs/connect.md``.
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

    from reliant.agent.agent import Agent, AgentStats, connect

_EXPORTS = {
    "Agent": "reliant.agent.agent",
    "AgentStats": "reliant.agent.agent",
    "connect": "reliant.agent.agent",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    try:
        module_name = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'reliant.agent' has no attribute {name!r}") from None
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = ["Agent", "AgentStats", "connect"]
