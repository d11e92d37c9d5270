"""Config: what operators change at run time in a service's SDK, and the ``Policy`` kind.

The facade other domains use: ``config_document`` and ``overrides`` for pages,
``SPEC_HANDLER`` for ``reliant plan``/``apply``, ``close_streams`` for shutdown, and
``OBJECT_NAME_PATTERN`` (names of objects in SDK code).
"""

from typing import Any

from reliant.server.domains.config.schemas import OBJECT_NAME_PATTERN, OVERRIDE_KINDS
from reliant.server.domains.config.service import document as config_document
from reliant.server.domains.config.service import overrides, version
from reliant.server.domains.config.spec import PolicyHandler
from reliant.server.domains.config.stream import closing_of

#: The handler of kind ``Policy`` for ``reliant plan``/``apply``.
SPEC_HANDLER = PolicyHandler()


def close_streams(app: Any) -> None:
    """End every open config stream of ``app`` now, e.g. before stopping its server.

    ``reliant server`` does this on SIGINT/SIGTERM; an embedding that stops uvicorn by
    other means (``server.should_exit = True``) calls it first, or uvicorn waits for the
    streams' clients to leave. Safe from any thread.
    """
    closing_of(app).close()


__all__ = [
    "OBJECT_NAME_PATTERN",
    "OVERRIDE_KINDS",
    "SPEC_HANDLER",
    "PolicyHandler",
    "close_streams",
    "config_document",
    "overrides",
    "version",
]
