"""Routes of the service catalog: services under ``/api/v1/services`` and ``/api/v1/graph``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import ValidationError

from reliant.server.domains.catalog import service
from reliant.server.domains.catalog.schemas import (
    GraphOut,
    ServiceCreate,
    ServiceDetail,
    ServiceOut,
    ServicePage,
    ServicePatch,
    graph_out,
    service_out,
)
from reliant.server.domains.catalog.service import CatalogError, InvalidService
from reliant.server.http import Operator, Problem, Viewer, decode_cursor, encode_cursor
from reliant.spec.models import NAME_HINT, NAME_PATTERN, ServiceSpec

router = APIRouter(prefix="/api/v1", tags=["catalog"])

#: Largest page the list endpoint returns.
MAX_PAGE = 500
#: Page size when ``limit`` is not given.
DEFAULT_PAGE = 100
#: Deepest neighbourhood the graph endpoint walks.
MAX_DEPTH = 20

#: Text without NUL characters, which PostgreSQL cannot store or compare.
NO_NUL = r"^[^\x00]*$"

ServiceName = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=100, description=f"the service's name: {NAME_HINT}")
]


@contextmanager
def problems() -> Iterator[None]:
    """Answer the catalog's errors as problem documents."""
    try:
        yield
    except InvalidService as exc:
        loc = ["body", *exc.loc]
        error = {"loc": loc, "msg": exc.message, "type": "value_error"}
        raise Problem(422, exc.title, f"body.{exc}", errors=[error]) from None
    except CatalogError as exc:
        raise Problem(exc.status, exc.title, str(exc)) from None


def _labels(values: list[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for value in values:
        key, sep, wanted = value.partition("=")
        if not sep or not key:
            raise Problem(422, "Invalid Request", f"query.label: expected key=value, got {value!r}")
        if "\x00" in value:
            raise Problem(422, "Invalid Request", "query.label: must not contain NUL characters")
        labels[key] = wanted
    return labels


@router.get("/services")
def list_services(
    ctx: Viewer,
    owner: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    tier: Annotated[int | None, Query(ge=1, le=4)] = None,
    environment: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    label: Annotated[
        list[str], Query(description="key=value; repeat to require several labels")
    ] = [],  # noqa: B006 - FastAPI copies defaults
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: str | None = None,
) -> ServicePage:
    """Services sorted by name, filtered by owner, tier, environment and labels."""
    after = None
    if cursor:
        after = decode_cursor(cursor).get("after")
        if not isinstance(after, str) or "\x00" in after:
            raise Problem(400, "Bad Request", "the cursor is malformed: pass back `next` unchanged")
    records = service.page(
        ctx.session,
        limit=limit + 1,
        after=after,
        owner=owner,
        tier=tier,
        environment=environment,
        labels=_labels(label),
    )
    more = len(records) > limit
    records = records[:limit]
    return ServicePage(
        items=[ServiceOut.model_validate(service_out(r)) for r in records],
        next=encode_cursor({"after": records[-1].name}) if more else None,
    )


@router.post("/services", status_code=201)
def create_service(body: ServiceCreate, ctx: Operator) -> ServiceOut:
    """Add a service; 409 when the name is taken (use PUT to replace)."""
    spec = ServiceSpec.model_validate(body.model_dump(exclude={"name"}))
    with problems():
        record = service.create(ctx, body.name, spec)
    return ServiceOut.model_validate(service_out(record))


@router.get("/services/{name}")
def get_service(name: ServiceName, ctx: Viewer) -> ServiceDetail:
    """One service, who depends on it, its undeclared dependencies and its last event time."""
    with problems():
        record = service.require(ctx.session, name)
    wanted = [d.service for d in record.spec.dependencies]
    return ServiceDetail.model_validate(
        {
            **service_out(record),
            "dependents": [
                {"service": s, "kind": k} for s, k in service.dependents(ctx.session, name)
            ],
            "undeclared_dependencies": service.missing(ctx.session, wanted),
            "last_event_at": service.last_event_at(ctx.session, name),
        }
    )


@router.put(
    "/services/{name}",
    responses={201: {"model": ServiceOut, "description": "Created"}},
)
def put_service(
    name: ServiceName, body: ServiceSpec, ctx: Operator, response: Response
) -> ServiceOut:
    """Create (201) or replace (200) a service; replacing with the same spec changes nothing."""
    with problems():
        record, change = service.put(ctx, name, body)
    if change == "created":
        response.status_code = 201
    return ServiceOut.model_validate(service_out(record))


@router.patch("/services/{name}")
def patch_service(name: ServiceName, body: ServicePatch, ctx: Operator) -> ServiceOut:
    """Change some fields of a service; ``null`` resets a field to its default."""
    with problems():
        current = service.require(ctx.session, name)
        merged = current.spec.model_dump(mode="json")
        for key, value in body.model_dump(mode="json", exclude_unset=True).items():
            if value is None:
                merged.pop(key)
            else:
                merged[key] = value
        try:
            spec = ServiceSpec.model_validate(merged)
        except ValidationError as exc:
            raise _invalid(exc) from None
        record, _ = service.update(ctx, name, spec)
    return ServiceOut.model_validate(service_out(record))


@router.delete("/services/{name}")
def delete_service(name: ServiceName, ctx: Operator, force: bool = False) -> ServiceOut:
    """Remove a service; 409 while others declare a hard dependency on it, unless forced."""
    with problems():
        record = service.delete(ctx, name, force=force)
    return ServiceOut.model_validate(service_out(record))


@router.get("/graph")
def get_graph(
    ctx: Viewer,
    service_name: Annotated[str | None, Query(alias="service", pattern=NO_NUL)] = None,
    depth: Annotated[int, Query(ge=0, le=MAX_DEPTH, description="hops from `service`")] = 1,
) -> GraphOut:
    """The dependency graph, or the neighbourhood of one service within ``depth`` hops."""
    with problems():
        graph = service.dependency_graph(ctx.session, center=service_name, depth=depth)
    return graph_out(graph)


def _invalid(exc: ValidationError) -> Problem:
    errors = [
        {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return Problem(422, "Invalid Request", where, errors=errors)
