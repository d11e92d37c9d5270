"""Every API operation × every role: who may call it, as docs/control-plane.md promises.

The operations come from the OpenAPI document, so a new endpoint is covered (and must fit
the rules below) the moment it exists. The expectations are the documented role table:
admins alone manage tokens, the audit log and server settings; SDK ingest tokens may only
push telemetry and events and read their config; viewers read; operators change things.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from server_helpers import bearer, token_for

#: Who may call what is auth: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

ROLES = ("anonymous", "ingest", "viewer", "operator", "admin")
#: Values for path parameters (any well-formed value will do: auth comes first).
PARAMS = {"kind": "breakers", "event_id": "1"}
#: Operations only admins may call.
ADMIN_ONLY = re.compile(r"^/api/v1/(tokens|audit|settings)(/|$)")
#: Operations an SDK's ingest token may call (operators and admins may too).
INGEST = {
    ("POST", "/api/v1/events"),
    ("POST", "/api/v1/ingest"),
    ("POST", "/api/v1/alerts"),
    ("POST", "/api/v1/alertmanager/webhook"),
    ("POST", "/api/v1/alertmanager/api/v2/alerts"),
    ("GET", "/api/v1/services/{service}/config"),
    ("GET", "/api/v1/services/{service}/config/stream"),
}
#: Writes that change nothing, open to viewers.
READ_ONLY_POSTS = {("POST", "/api/v1/spec/plan")}


def allowed(role: str, method: str, path: str) -> bool:
    """Whether the documented role table lets ``role`` call ``method path``."""
    if role == "anonymous":
        return False
    if (method, path) in INGEST:
        return role in ("ingest", "operator", "admin")
    if role == "ingest":
        return False
    if ADMIN_ONLY.match(path):
        return role == "admin"
    if method in ("GET", "HEAD") or (method, path) in READ_ONLY_POSTS:
        return True
    return role in ("operator", "admin")


def operations(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) of the API."""
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    return sorted((m.upper(), p) for p, ops in paths.items() for m in ops)


def concrete(path: str) -> str:
    """The template with each ``{param}`` filled in."""
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: PARAMS.get(m[1], "x"), path)


def test_role_matrix(client: TestClient, anonymous: TestClient) -> None:
    """Each role is refused (401/403) exactly where the role table says, on every operation."""
    tokens = {role: token_for(client, role) for role in ("ingest", "viewer", "operator")}
    tokens["admin"] = client.headers["authorization"].removeprefix("Bearer ")
    ops = operations(client)
    assert len(ops) > 30
    wrong = []
    for method, path in ops:
        for role in ROLES:
            expect = allowed(role, method, path)
            if expect and path.endswith("/stream"):
                continue  # an allowed stream never ends; streams have their own tests
            headers = bearer(tokens[role]) if role in tokens else {}
            response = anonymous.request(method, concrete(path), headers=headers, json={})
            refused = response.status_code in (401, 403)
            if refused == expect:
                wrong.append(f"{role:9} {method:6} {path}: {response.status_code}")
    assert [] == wrong


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("viewer", "GET", "/api/v1/services", True),
        ("viewer", "PUT", "/api/v1/services/{name}", False),
        ("ingest", "GET", "/api/v1/services", False),
        ("ingest", "POST", "/api/v1/ingest", True),
        ("operator", "GET", "/api/v1/audit", False),
        ("admin", "POST", "/api/v1/tokens", True),
        ("viewer", "POST", "/api/v1/spec/plan", True),
        ("anonymous", "GET", "/api/v1/services", False),
    ],
)
def test_role_table_reads_as_documented(role: str, method: str, path: str, expected: bool) -> None:
    """Spot checks of the rules themselves, against docs/control-plane.md."""
    assert expected == allowed(role, method, path)
