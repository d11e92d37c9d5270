"""The kinds ``reliant.yaml`` declares, as pydantic models: the one definition of their shape.

The API's request bodies, the published JSON Schema, ``reliant validate``, ``plan`` and
``apply`` all use these models. A document is::

    apiVersion: reliant.dev/v1
    kind: Service
    metadata: {name: payments}
    spec: {owner: team-payments, tier: 1, ...}

Later kinds (SLO, AlertRoute, Runbook, Flag, Experiment, BackupPolicy) add a spec model and
a row in :data:`KINDS`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

API_VERSION = "reliant.dev/v1"
#: Names of services, policies and every other object: lowercase, digits, ``.-_``.
NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$"
NAME_HINT = "lowercase letters, digits, '.', '-' and '_', starting and ending alphanumeric"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkKind(StrEnum):
    """What a link points at."""

    RUNBOOK = "runbook"
    DASHBOARD = "dashboard"
    REPO = "repo"
    DOCS = "docs"
    OTHER = "other"


class Link(_Spec):
    """A link shown on the service's page."""

    title: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)
    kind: LinkKind = LinkKind.OTHER


class Dependency(_Spec):
    """A service this one calls; ``hard`` means it fails without it."""

    service: str = Field(pattern=NAME_PATTERN)
    kind: Literal["hard", "soft"] = "hard"


class ServiceSpec(_Spec):
    """A service in the catalog.

    Attributes:
        owner: the team or person answerable for it.
        tier: 1 (most critical) to 4.
        environment: where it runs, e.g. ``production``.
        links: runbooks, dashboards, repository, docs.
        dependencies: services it calls; they need not be in the catalog yet.
        labels: free-form key/value pairs for grouping and routing.
    """

    owner: str = Field(min_length=1, max_length=200)
    tier: int = Field(default=3, ge=1, le=4)
    environment: str = Field(default="production", min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    links: list[Link] = Field(default_factory=list)
    dependencies: list[Dependency] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("dependencies")
    @classmethod
    def _unique_dependencies(cls, deps: list[Dependency]) -> list[Dependency]:
        seen: set[str] = set()
        for dep in deps:
            if dep.service in seen:
                raise ValueError(f"dependency {dep.service!r} is listed twice")
            seen.add(dep.service)
        return deps


class PolicySpec(_Spec):
    """A named resilience pipeline of a service, delivered to its SDK by the config stream.

    Attributes:
        service: the service whose SDK uses it.
        pipeline: policy specs, outermost first, in the shape ``reliant.resilience.registry``
            builds (``{"kind": "retry", "attempts": 3}``); checked by building it.
    """

    service: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    pipeline: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("pipeline")
    @classmethod
    def _pipeline_builds(cls, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from reliant.resilience.registry import build_pipeline, without_imports

        # Built to check it, never used: modules named by import paths are not imported
        # (a spec may come from an API request; importing a module runs its code).
        with without_imports():
            build_pipeline(specs)  # raises ValueError naming the offending option's path
        return specs


class Metadata(_Spec):
    """An object's identity."""

    name: str = Field(pattern=NAME_PATTERN)


#: Every kind ``reliant.yaml`` may declare, with the model of its ``spec``.
KINDS: dict[str, type[_Spec]] = {"Service": ServiceSpec, "Policy": PolicySpec}
