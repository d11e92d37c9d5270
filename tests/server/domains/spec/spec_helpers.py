"""Helpers of the spec endpoint tests, and a Policy handler that fails on purpose.

``HANDLER_MODULES`` patched to ``(catalog, "spec_helpers")`` makes the apply engine use
:data:`SPEC_HANDLER` for kind Policy: the real config handler, except that it refuses to
create a policy named ``boom`` (a ``ValueError``) or ``crash`` (a ``RuntimeError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from reliant.server.domains.config import SPEC_HANDLER as POLICIES
from reliant.server.http import Ctx

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "reliant.yaml"
FAILING_MODULES = ("reliant.server.domains.catalog", "spec_helpers")


def example() -> list[dict[str, Any]]:
    """The documents of examples/reliant.yaml as plain data."""
    return [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d]


def service(name: str, **spec: Any) -> dict[str, Any]:
    """A Service document."""
    body = {"owner": "team-a", **spec}
    return {
        "apiVersion": "reliant.dev/v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": body,
    }


def policy(name: str, service: str = "payments") -> dict[str, Any]:
    """A Policy document with a one-retry pipeline."""
    return {
        "apiVersion": "reliant.dev/v1",
        "kind": "Policy",
        "metadata": {"name": name},
        "spec": {"service": service, "pipeline": [{"kind": "retry", "attempts": 2}]},
    }


def plan(client: TestClient, documents: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """POST /spec/plan, expecting 200; the plan."""
    response = client.post("/api/v1/spec/plan", json={"documents": documents, **extra})
    assert 200 == response.status_code, response.text
    body: dict[str, Any] = response.json()
    return body


def apply(client: TestClient, documents: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """POST /spec/apply, expecting 200; the applied plan."""
    response = client.post("/api/v1/spec/apply", json={"documents": documents, **extra})
    assert 200 == response.status_code, response.text
    body: dict[str, Any] = response.json()
    return body


def export(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """GET /spec/export; the documents."""
    response = client.get("/api/v1/spec/export", params=params)
    assert 200 == response.status_code, response.text
    documents: list[dict[str, Any]] = response.json()["documents"]
    return documents


def actions(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(action, kind, name) of a plan's changes."""
    return [(c["action"], c["kind"], c["name"]) for c in body["changes"]]


def events(client: TestClient, kind: str) -> list[dict[str, Any]]:
    """The events of ``kind``, oldest first."""
    response = client.get("/api/v1/events", params={"kind": kind, "limit": 500})
    assert 200 == response.status_code, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return sorted(items, key=lambda e: e["id"])


def audit(client: TestClient) -> list[tuple[str, str]]:
    """(action, target) of every audit record, oldest first, token creation left out."""
    response = client.get("/api/v1/audit", params={"limit": 500})
    assert 200 == response.status_code, response.text
    rows = [(r["action"], r["target_id"]) for r in reversed(response.json()["items"])]
    return [row for row in rows if not row[0].startswith("token.")]


class FailingPolicies:
    """The config domain's Policy handler, refusing the names ``boom`` and ``crash``."""

    kind = "Policy"

    def current(self, session: Any) -> dict[str, dict[str, Any]]:
        """As the real handler."""
        return POLICIES.current(session)

    def create(self, ctx: Ctx, name: str, spec: dict[str, Any]) -> None:
        """As the real handler, but refuses ``boom`` and crashes on ``crash``, after writing."""
        POLICIES.create(ctx, name, spec)
        if name == "boom":
            raise ValueError("the store refused 'boom'")
        if name == "crash":
            raise RuntimeError("unexpected failure")

    def update(self, ctx: Ctx, name: str, spec: dict[str, Any]) -> None:
        """As the real handler."""
        POLICIES.update(ctx, name, spec)

    def delete(self, ctx: Ctx, name: str) -> None:
        """As the real handler."""
        POLICIES.delete(ctx, name)


SPEC_HANDLER = FailingPolicies()
