"""API shapes of the service catalog; request bodies reuse ``reliant.spec.models``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reliant.server.domains.catalog.graph import Graph
from reliant.server.domains.catalog.service import ServiceRecord
from reliant.spec.models import NAME_PATTERN, Dependency, Link, ServiceSpec


class ServiceCreate(ServiceSpec):
    """A service to create: its name and its spec, side by side."""

    name: str = Field(pattern=NAME_PATTERN, max_length=100)


class ServicePatch(BaseModel):
    """Fields to change; those left out stay, ``null`` resets one to its default."""

    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(default=None, min_length=1, max_length=200)
    tier: int | None = Field(default=None, ge=1, le=4)
    environment: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    links: list[Link] | None = None
    dependencies: list[Dependency] | None = None
    labels: dict[str, str] | None = None


class ServiceOut(ServiceSpec):
    """A service as stored: its spec plus name, manager and times (epoch seconds)."""

    name: str
    managed_by: Literal["api", "spec"]
    created_at: float
    updated_at: float


class Dependent(BaseModel):
    """A service that declares a dependency on this one."""

    service: str
    kind: Literal["hard", "soft"]


class ServiceDetail(ServiceOut):
    """One service with who depends on it and what it depends on that is not declared."""

    dependents: list[Dependent]
    undeclared_dependencies: list[str]
    last_event_at: float | None


class ServicePage(BaseModel):
    """A page of services sorted by name; ``next`` is the cursor of the following page."""

    items: list[ServiceOut]
    next: str | None


class GraphNode(BaseModel):
    """A service in the graph; undeclared ones are dependencies missing from the catalog."""

    name: str
    tier: int | None
    owner: str | None
    declared: bool


class GraphEdge(BaseModel):
    """``from`` declares a dependency on ``to``."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    kind: Literal["hard", "soft"]


class GraphOut(BaseModel):
    """The dependency graph, with every cycle listed from its alphabetically first service."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    cycles: list[list[str]]
    cycles_truncated: bool


def service_out(record: ServiceRecord) -> dict[str, Any]:
    """A stored service as the API shows it."""
    return {
        "name": record.name,
        **record.spec.model_dump(mode="json"),
        "managed_by": record.managed_by,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def graph_out(graph: Graph) -> GraphOut:
    """The pure graph as the API shows it."""
    return GraphOut.model_validate(
        {
            "nodes": [
                {"name": n.name, "tier": n.tier, "owner": n.owner, "declared": n.declared}
                for n in graph.nodes
            ],
            "edges": [{"from": e.source, "to": e.target, "kind": e.kind} for e in graph.edges],
            "cycles": [list(c) for c in graph.cycles],
            "cycles_truncated": graph.cycles_truncated,
        }
    )
