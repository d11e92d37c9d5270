"""Routes of reliability as code: ``/api/v1/spec/export``, ``/plan`` and ``/apply``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query

from reliant.server.domains.spec import registry, service
from reliant.server.domains.spec.schemas import ApplyIn, ApplyOut, ExportOut, PlanIn, PlanOut
from reliant.server.http import Operator, Problem, Viewer, conflict

router = APIRouter(prefix="/api/v1", tags=["spec"])


@contextmanager
def problems() -> Iterator[None]:
    """Answer the spec engine's errors as problem documents."""
    try:
        yield
    except registry.RegistryError as exc:
        raise Problem(500, "Internal Server Error", str(exc)) from None
    except service.InvalidSpec as exc:
        detail = "; ".join(exc.problems[:5])
        if len(exc.problems) > 5:
            detail += f"; and {len(exc.problems) - 5} more"
        raise Problem(422, "Invalid Request", detail, errors=exc.problems) from None
    except service.StalePlan as exc:
        raise conflict(str(exc)) from None
    except service.ApplyFailed as exc:
        titles = {404: "Not Found", 409: "Conflict", 422: "Invalid Request"}
        raise Problem(exc.status, titles.get(exc.status, "Bad Request"), str(exc)) from None


def _handlers(kinds: list[str] | None) -> dict[str, registry.SpecHandler]:
    return service.scope(registry.handlers(), kinds)


@router.get("/spec/export", response_model=ExportOut)
def export(
    ctx: Viewer,
    kind: Annotated[list[str] | None, Query(max_length=50, description="only this kind")] = None,
) -> dict[str, Any]:
    """Every object of the managed kinds as ``reliant.yaml`` documents, by kind and name.

    Applying the export back changes nothing.
    """
    with problems():
        return {"documents": service.export(ctx.session, _handlers(kind))}


@router.post("/spec/plan", response_model=PlanOut, response_model_exclude_unset=True)
def plan(body: PlanIn, ctx: Viewer) -> dict[str, Any]:
    """What applying the documents would change; nothing is changed.

    Answers the ordered changes, the objects on the server the documents leave out
    (``not-in-spec``, or ``delete`` with ``prune``) and the plan's ``fingerprint``.
    """
    with problems():
        planned = service.plan(ctx.session, body.documents, _handlers(body.kinds), prune=body.prune)
    return planned.to_json()


@router.post("/spec/apply", response_model=ApplyOut, response_model_exclude_unset=True)
def apply(body: ApplyIn, ctx: Operator) -> dict[str, Any]:
    """Make the server match the documents, in one transaction: every change or none.

    With ``expected`` (a plan's fingerprint), answers 409 and changes nothing if the plan
    is no longer the same. Applying the same documents twice changes nothing the second time.
    """
    with problems():
        planned = service.apply(
            ctx,
            body.documents,
            _handlers(body.kinds),
            prune=body.prune,
            expected=body.expected,
        )
    return {**planned.to_json(), "applied": planned.has_changes}
