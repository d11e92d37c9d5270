"""The Service kind's handler for `reliant apply`, and the catalog facade."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from catalog_helpers import audit_of, events_of, put
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from reliant.server.auth import Principal, Role
from reliant.server.domains.catalog import (
    MANAGED_BY_SPEC,
    SPEC_HANDLER,
    ServiceExists,
    ServiceNotFound,
    get_dependents,
    get_graph,
    get_service,
    list_service_names,
)
from reliant.server.http import Ctx
from reliant.server.settings import Settings
from reliant.spec.models import ServiceSpec

PAYMENTS = ServiceSpec.model_validate(
    {"owner": "team-payments", "tier": 1, "dependencies": [{"service": "db"}]}
)


@pytest.fixture
def ctx(app: FastAPI, settings: Settings) -> Iterator[Ctx]:
    """A context like the apply endpoint's: one transaction, committed at teardown."""
    with app.state.sessions() as session, session.begin():
        yield Ctx(
            session=session,
            principal=Principal("t1", "apply-bot", Role.OPERATOR),
            settings=settings,
            now=settings.now(),
        )


def _session(app: FastAPI) -> Session:
    session: Session = app.state.sessions()
    return session


def test_current_lists_every_service_as_spec_dicts(client: TestClient, app: FastAPI) -> None:
    """current() maps each name to its spec exactly as ServiceSpec.model_dump(mode='json')."""
    put(client, "payments", owner="team-payments", tier=1, dependencies=[{"service": "db"}])
    put(client, "db", owner="dba")
    with _session(app) as session:
        current = SPEC_HANDLER.current(session)
    assert {
        "db": ServiceSpec(owner="dba").model_dump(mode="json"),
        "payments": PAYMENTS.model_dump(mode="json"),
    } == current
    assert "Service" == SPEC_HANDLER.kind


def test_handler_writes_are_marked_spec_and_audited(
    client: TestClient, ctx: Ctx, db_url: str
) -> None:
    """create/update/delete go through the use cases: audit, events, managed_by='spec'."""
    SPEC_HANDLER.create(ctx, "payments", PAYMENTS.model_dump(mode="json"))
    SPEC_HANDLER.update(ctx, "payments", {**PAYMENTS.model_dump(mode="json"), "tier": 2})
    SPEC_HANDLER.update(ctx, "payments", {**PAYMENTS.model_dump(mode="json"), "tier": 2})
    assert {"payments"} == SPEC_HANDLER.managed(ctx.session)
    record = get_service(ctx.session, "payments")
    assert record is not None
    assert (MANAGED_BY_SPEC, 2) == (record.managed_by, record.spec.tier)
    SPEC_HANDLER.delete(ctx, "payments")
    ctx.session.commit()
    assert ["service.create", "service.update", "service.delete"] == [
        a["action"] for a in audit_of(db_url, "payments")
    ]
    assert [("service.created", "apply-bot"), ("service.updated", "apply-bot")] == [
        (e["kind"], e["source"]) for e in events_of(db_url, "payments")[:2]
    ]


def test_handler_adopts_a_service_made_through_the_api(
    client: TestClient, ctx: Ctx, db_url: str
) -> None:
    """Updating an API-made service from the spec marks it managed by the spec, as a change."""
    put(client, "payments", owner="team-payments", tier=1, dependencies=[{"service": "db"}])
    SPEC_HANDLER.update(ctx, "payments", PAYMENTS.model_dump(mode="json"))
    record = get_service(ctx.session, "payments")
    assert record is not None
    assert MANAGED_BY_SPEC == record.managed_by
    ctx.session.commit()
    assert {"changed": ["managed_by"]} == events_of(db_url, "payments")[-1]["attributes"]


def test_handler_delete_ignores_hard_dependents(client: TestClient, ctx: Ctx) -> None:
    """Pruning a service others hard-depend on succeeds: their dependency becomes undeclared."""
    put(client, "db")
    put(client, "api", dependencies=[{"service": "db"}])
    SPEC_HANDLER.delete(ctx, "db")
    assert (["api"], [("api", "hard")]) == (
        list_service_names(ctx.session),
        get_dependents(ctx.session, "db"),
    )


def test_handler_errors(client: TestClient, ctx: Ctx) -> None:
    """Creating a taken name, touching a missing one or an invalid spec raise."""
    put(client, "payments")
    with pytest.raises(ServiceExists):
        SPEC_HANDLER.create(ctx, "payments", {"owner": "x"})
    with pytest.raises(ServiceNotFound):
        SPEC_HANDLER.update(ctx, "ghost", {"owner": "x"})
    with pytest.raises(ServiceNotFound):
        SPEC_HANDLER.delete(ctx, "ghost")
    with pytest.raises(ValidationError):
        SPEC_HANDLER.create(ctx, "new", {"owner": "x", "tier": 9})


def test_facade_reads(client: TestClient, app: FastAPI) -> None:
    """The facade gives other domains names, records and the graph."""
    put(client, "b", dependencies=[{"service": "a"}])
    put(client, "a")
    with _session(app) as session:
        record = get_service(session, "b")
        assert record is not None
        assert (["a", "b"], "b", None) == (
            list_service_names(session),
            record.name,
            get_service(session, "zz"),
        )
        assert [("b", "a")] == [(e.source, e.target) for e in get_graph(session).edges]
