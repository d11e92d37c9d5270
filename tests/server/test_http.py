"""HTTP plumbing: body limits, cursors, problem documents."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from server_helpers import ADMIN

from reliant.server.app import create_app
from reliant.server.http import Problem, decode_cursor, encode_cursor
from reliant.server.settings import Settings

#: HTTP plumbing: one store (see tests/server/conftest.py).
pytestmark = pytest.mark.store_agnostic

LIMIT = 1000


@pytest.fixture
def small(settings: Settings) -> Iterator[TestClient]:
    """A server refusing bodies over LIMIT bytes."""
    app = create_app(replace(settings, max_body_bytes=LIMIT))
    with TestClient(
        app, base_url="https://testserver", headers={"Authorization": f"Bearer {ADMIN}"}
    ) as c:
        yield c


def test_declared_oversized_body_is_413(small: TestClient) -> None:
    """A Content-Length over the limit is refused before the body is read."""
    response = small.post("/api/v1/tokens", content=b"x" * (LIMIT + 1))
    assert 413 == response.status_code
    assert "application/problem+json" == response.headers["content-type"]
    assert f"over {LIMIT} bytes" in response.json()["detail"]


def test_chunked_oversized_body_is_413(small: TestClient) -> None:
    """A chunked body is counted as it arrives and refused once past the limit."""

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 300

    response = small.post(
        "/api/v1/tokens", content=chunks(), headers={"content-type": "application/json"}
    )
    assert 413 == response.status_code


def test_body_under_the_limit_passes(small: TestClient) -> None:
    """Bodies within the limit reach the route."""
    response = small.post("/api/v1/tokens", json={"name": "ok", "role": "viewer"})
    assert 201 == response.status_code


def test_malformed_json_is_422(client: TestClient) -> None:
    """A body that is not JSON gives 422 saying so."""
    response = client.post(
        "/api/v1/tokens", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert 422 == response.status_code
    assert "json" in response.json()["detail"].lower()


def test_cursor_round_trips() -> None:
    """A cursor decodes to the position it encodes."""
    assert {"before": 42} == decode_cursor(encode_cursor({"before": 42}))


@pytest.mark.parametrize("cursor", ["!!!", "bm90IGpzb24", "WzFd"])
def test_bad_cursor_is_400(cursor: str) -> None:
    """Cursors not made by the server are refused with a hint."""
    with pytest.raises(Problem, match="pass back `next` unchanged"):
        decode_cursor(cursor)


def test_bad_cursor_on_the_api_is_400(client: TestClient) -> None:
    """The audit list answers a forged cursor with 400, not 500."""
    response = client.get("/api/v1/audit", params={"cursor": "WzFd"})
    assert 400 == response.status_code
