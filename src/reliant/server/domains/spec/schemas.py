"""The API shapes of ``/api/v1/spec``: documents in, plans out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

#: Most documents one plan or apply may carry.
MAX_DOCUMENTS = 5000
FINGERPRINT = r"^[0-9a-f]{64}$"


class PlanIn(BaseModel):
    """Documents to compare with the server; nothing is changed."""

    documents: list[dict[str, Any]] = Field(
        max_length=MAX_DOCUMENTS,
        description="reliant.yaml documents (apiVersion, kind, metadata, spec); "
        "see docs/reliant.schema.json",
    )
    prune: bool = Field(default=False, description="delete objects the documents leave out")
    kinds: list[str] | None = Field(
        default=None,
        max_length=50,
        description="only these kinds (default: every kind the server manages)",
    )


class ApplyIn(PlanIn):
    """Documents to make the server match, optionally only if the plan is still as seen."""

    expected: str | None = Field(
        default=None,
        pattern=FINGERPRINT,
        description="the fingerprint of the plan the user reviewed: 409 when it changed",
    )


class FieldChangeOut(BaseModel):
    """One differing leaf; ``before``/``after`` are left out where the field is absent."""

    path: str
    before: Any = None
    after: Any = None


class ChangeOut(BaseModel):
    """One object's change."""

    action: str = Field(description="create, update, delete, unchanged or not-in-spec")
    kind: str
    name: str
    managed: bool | None = Field(description="written by apply (null: the kind cannot tell)")
    drift: bool = Field(description="managed by the spec, yet changed on the server since")
    fields: list[FieldChangeOut]
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class PlanOut(BaseModel):
    """The plan: mutations first, in the order apply runs them."""

    fingerprint: str
    prune: bool
    has_changes: bool
    summary: dict[str, int]
    changes: list[ChangeOut]


class ApplyOut(PlanOut):
    """The plan that was applied."""

    applied: bool


class ExportOut(BaseModel):
    """Every managed object as a reliant.yaml document."""

    documents: list[dict[str, Any]]
