"""Config: what operators change at run time in a service's SDK, and the ``Policy`` kind.

The facade other domains use: ``config_document`` and ``overrides`` for pages,
``SPEC_HANDLER`` for ``reliant plan``/``apply``,
``OBJECT_NAME_PATTERN`` (names of objects in SDK code), and ``set_override`` /
``remove_override`` for other domains acting on a service's SDK (runbooks).
"""

from reliant.server.domains.config.schemas import OBJECT_NAME_PATTERN, OVERRIDE_KINDS
from reliant.server.domains.config.service import NotFoundError as ConfigNotFoundError
from reliant.server.domains.config.service import document as config_document
from reliant.server.domains.config.service import (
    overrides,
    remove_override,
    set_override,
    version,
)
from reliant.server.domains.config.spec import PolicyHandler

#: The handler of kind ``Policy`` for ``reliant plan``/``apply``.
SPEC_HANDLER = PolicyHandler()


__all__ = [
    "OBJECT_NAME_PATTERN",
    "OVERRIDE_KINDS",
    "SPEC_HANDLER",
    "ConfigNotFoundError",
    "PolicyHandler",
    "config_document",
    "overrides",
    "remove_override",
    "set_override",
    "version",
]
