"""The AlertRoute kind: the routing document through reliant.yaml's plan and apply."""

from __future__ import annotations

from typing import Any

import pytest
from alerts_helpers import Bench
from fastapi.testclient import TestClient

from reliant.spec.documents import compact
from reliant.spec.models import AlertRouteSpec

ROUTING: dict[str, Any] = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "routes": [{"matchers": ['severity="page"'], "receiver": "pager", "continue": True}],
    },
    "receivers": [{"name": "default"}, {"name": "pager"}],
}


def route(spec: dict[str, Any], name: str = "default") -> dict[str, Any]:
    return {
        "apiVersion": "reliant.dev/v1",
        "kind": "AlertRoute",
        "metadata": {"name": name},
        "spec": spec,
    }


def run(client: TestClient, step: str, documents: list[dict[str, Any]], **extra: Any) -> Any:
    return client.post(f"/api/v1/spec/{step}", json={"documents": documents, **extra})


def actions(answer: Any) -> list[tuple[str, str, str]]:
    return [(c["action"], c["kind"], c["name"]) for c in answer.json()["changes"]]


def test_apply_stores_the_routing_document_once(bench: Bench, client: TestClient) -> None:
    """Create, then unchanged; the document is in force with `continue` by its name."""
    first = run(client, "apply", [route(ROUTING)], kinds=["AlertRoute"])
    assert [("create", "AlertRoute", "default")] == actions(first), first.text
    again = run(client, "plan", [route(ROUTING)], kinds=["AlertRoute"])
    assert [("unchanged", "AlertRoute", "default")] == actions(again)
    config = client.get("/api/v1/alerting/config").json()
    assert (1, False, True) == (
        config["version"],
        config["default"],
        config["document"]["route"]["routes"][0]["continue"],
    )


def test_update_and_prune_back_to_the_default(bench: Bench, client: TestClient) -> None:
    """A changed spec updates the document; pruning it puts the built-in default back."""
    run(client, "apply", [route(ROUTING)], kinds=["AlertRoute"])
    changed = {**ROUTING, "route": {**ROUTING["route"], "group_wait": "1m"}}
    updated = run(client, "apply", [route(changed)], kinds=["AlertRoute"])
    assert [("update", "AlertRoute", "default")] == actions(updated)
    pruned = run(client, "apply", [], kinds=["AlertRoute"], prune=True)
    assert [("delete", "AlertRoute", "default")] == actions(pruned)
    config = client.get("/api/v1/alerting/config").json()
    assert (3, True, "default") == (
        config["version"],
        config["default"],
        config["document"]["route"]["receiver"],
    )
    assert [] == actions(run(client, "plan", [], kinds=["AlertRoute"], prune=True))


@pytest.mark.store_agnostic
@pytest.mark.parametrize(
    ("document", "message"),
    [
        (route(ROUTING, name="other"), "name it 'default'"),
        (
            route({**ROUTING, "route": {"receiver": "default", "routes": [{"receiver": "x"}]}}),
            "route.routes[0].receiver: unknown receiver 'x'",
        ),
        (
            route({**ROUTING, "route": {"receiver": "default", "matchers": ["a=b"]}}),
            "route.matchers: the root route must not have matchers",
        ),
    ],
)
def test_invalid_alert_routes_fail_apply(
    client: TestClient, document: dict[str, Any], message: str
) -> None:
    """Another name, unknown receivers, root matchers: 422 naming the problem's path."""
    answer = run(client, "apply", [document], kinds=["AlertRoute"])
    assert 422 == answer.status_code
    assert message in answer.text


def test_bad_durations_are_caught_by_the_spec_model() -> None:
    """reliant validate catches a malformed duration offline; export drops defaults."""
    with pytest.raises(ValueError, match="group_wait"):
        AlertRouteSpec.model_validate({"route": {"receiver": "a", "group_wait": "soon"}})
    spec = AlertRouteSpec.model_validate(ROUTING).model_dump(mode="json")
    assert {
        "route": {
            "receiver": "default",
            "group_by": ["alertname"],
            "routes": [{"matchers": ['severity="page"'], "receiver": "pager", "continue": True}],
        },
        "receivers": [{"name": "default"}, {"name": "pager"}],
    } == compact("AlertRoute", spec)
