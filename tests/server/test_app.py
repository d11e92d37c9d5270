"""The control-plane application: health, OpenAPI, problem documents, bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import ADMIN

from reliant.server.app import collect_jobs, create_app
from reliant.server.settings import Settings


@pytest.mark.store_agnostic
def test_health_needs_no_token(anonymous: TestClient) -> None:
    """/livez and /readyz answer without credentials, in the shape probes expect."""
    assert {"status": "ok"} == anonymous.get("/livez").json()
    ready = anonymous.get("/readyz")
    assert (200, "ok") == (ready.status_code, ready.json()["checks"]["store"])


@pytest.mark.store_agnostic
def test_openapi_is_published(anonymous: TestClient) -> None:
    """The OpenAPI document is served under /api/v1."""
    doc = anonymous.get("/api/v1/openapi.json").json()
    assert "/api/v1/tokens" in doc["paths"]


@pytest.mark.store_agnostic
def test_api_needs_a_token(anonymous: TestClient) -> None:
    """Without a token the API answers 401 as a problem document with a hint."""
    response = anonymous.get("/api/v1/whoami")
    assert 401 == response.status_code
    assert "application/problem+json" == response.headers["content-type"]
    assert "Authorization: Bearer" in response.json()["detail"]
    assert "Bearer" == response.headers["www-authenticate"]


@pytest.mark.store_agnostic
def test_bad_token_is_401(anonymous: TestClient) -> None:
    """A malformed or unknown bearer token is refused."""
    for raw in ("nonsense", "rlt_000000000001_wrong-secret-for-tests-only", "x" * 5000):
        response = anonymous.get("/api/v1/whoami", headers={"Authorization": f"Bearer {raw}"})
        assert 401 == response.status_code


@pytest.mark.store_agnostic
def test_unknown_route_is_a_problem(client: TestClient) -> None:
    """Routing errors are problem documents too."""
    response = client.get("/api/v1/no-such-thing")
    assert (404, "application/problem+json") == (
        response.status_code,
        response.headers["content-type"],
    )


@pytest.mark.store_agnostic
def test_validation_error_is_a_problem(client: TestClient) -> None:
    """A request body that fails validation gives 422 naming the field."""
    response = client.post("/api/v1/tokens", json={"name": "x", "role": "emperor"})
    assert 422 == response.status_code
    body = response.json()
    assert "body.role" in body["detail"]
    assert ["body", "role"] == body["errors"][0]["loc"]


def test_bootstrap_token_is_the_given_one(client: TestClient) -> None:
    """On an empty store the first admin token is the one from the settings."""
    assert {"name": "bootstrap-admin", "role": "admin", "service": None} == client.get(
        "/api/v1/whoami"
    ).json()


def test_bootstrap_generates_a_token_once(settings: Settings) -> None:
    """Without a given token, the first start makes one and shows it; later starts do not."""
    from dataclasses import replace

    first = create_app(replace(settings, bootstrap_token=None))
    shown = first.state.bootstrap_token
    first.state.engine.dispose()
    assert shown is not None
    assert shown.startswith("rlt_")
    with TestClient(first, base_url="https://testserver") as c:
        who = c.get("/api/v1/whoami", headers={"Authorization": f"Bearer {shown}"})
        assert "admin" == who.json()["role"]
    second = create_app(replace(settings, bootstrap_token=None))
    second.state.engine.dispose()
    assert second.state.bootstrap_token is None


def test_bad_bootstrap_token_is_refused(settings: Settings) -> None:
    """A malformed bootstrap token stops start-up with a hint on the expected shape."""
    from dataclasses import replace

    import pytest

    with pytest.raises(ValueError, match="rlt_<12 hex digits>"):
        create_app(replace(settings, bootstrap_token="hunter2"))


@pytest.mark.store_agnostic
def test_admin_constant_matches_settings(settings: Settings) -> None:
    """The fixtures start servers with the documented test admin token."""
    assert ADMIN == settings.bootstrap_token


def test_job_intervals_replace_the_defaults(tmp_path: Path) -> None:
    """Settings.job_intervals sets the named jobs' intervals and leaves the others alone."""
    jobs = {job.name: job.interval for job in collect_jobs(Settings(data_dir=tmp_path))}
    faster = collect_jobs(Settings(data_dir=tmp_path, job_intervals={"slo.evaluate": 2.0}))
    assert {**jobs, "slo.evaluate": 2.0} == {job.name: job.interval for job in faster}


def test_unknown_job_intervals_are_refused(tmp_path: Path) -> None:
    """A job name that no domain has is refused, listing the jobs there are."""
    with pytest.raises(ValueError, match=r"unknown jobs \['slo.evaluat'\]; the jobs are \["):
        collect_jobs(Settings(data_dir=tmp_path, job_intervals={"slo.evaluat": 2.0}))
