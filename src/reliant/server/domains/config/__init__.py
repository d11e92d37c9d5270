"""Config: what operators change at run time in a service's SDK, and the ``Policy`` kind.

The facade other domains use: ``config_document`` and ``overrides`` for pages,
``SPEC_HANDLER`` for ``reliant plan``/``apply``, and
``OBJECT_NAME_PATTERN`` (names of objects in SDK code).
"""

from reliant.server.domains.config.schemas import OBJECT_NAME_PATTERN, OVERRIDE_KINDS
from reliant.server.domains.config.service import document as config_document
from reliant.server.domains.config.service import overrides, version
from reliant.server.domains.config.spec import PolicyHandler

#: The handler of kind ``Policy`` for ``reliant plan``/``apply``.
SPEC_HANDLER = PolicyHandler()


__all__ = [
    "OBJECT_NAME_PATTERN",
    "OVERRIDE_KINDS",
    "SPEC_HANDLER",
    "PolicyHandler",
    "config_document",
    "overrides",
    "version",
]
