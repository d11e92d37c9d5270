"""The service catalog: services, their owners, tiers, links and declared dependencies.

This facade is all other domains may import::

    from reliant.server.domains.catalog import get_service, list_service_names

    record = get_service(session, "payments")   # ServiceRecord | None
    record.spec.tier, record.spec.owner, record.managed_by

``SPEC_HANDLER`` is the ``Service`` kind's handler for ``reliant apply``.
"""

from reliant.server.domains.catalog.graph import Edge, Graph, Node
from reliant.server.domains.catalog.service import (
    MANAGED_BY_API,
    MANAGED_BY_SPEC,
    CatalogError,
    HasDependents,
    Recorder,
    ServiceExists,
    ServiceNotFound,
    ServiceRecord,
)
from reliant.server.domains.catalog.service import dependency_graph as get_graph
from reliant.server.domains.catalog.service import dependents as get_dependents
from reliant.server.domains.catalog.service import get as get_service
from reliant.server.domains.catalog.service import names as list_service_names
from reliant.server.domains.catalog.spec import ServiceHandler

#: The ``Service`` kind's handler for the apply engine.
SPEC_HANDLER = ServiceHandler()

__all__ = [
    "MANAGED_BY_API",
    "MANAGED_BY_SPEC",
    "SPEC_HANDLER",
    "CatalogError",
    "Edge",
    "Graph",
    "HasDependents",
    "Node",
    "Recorder",
    "ServiceExists",
    "ServiceHandler",
    "ServiceNotFound",
    "ServiceRecord",
    "get_dependents",
    "get_graph",
    "get_service",
    "list_service_names",
]
