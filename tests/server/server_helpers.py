"""Constants and helpers shared by the control-plane tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

#: The admin token every test server starts with.
ADMIN = "rlt_000000000001_admin-secret-for-tests-only"
#: 2027-01-15 08:00:00 UTC: tests start at a fixed wall-clock time.
START = 1_800_000_000.0


def token_for(client: TestClient, role: str, name: str | None = None, **extra: str) -> str:
    """Create a token with ``role`` as the admin and return its plaintext."""
    body = {"name": name or f"t-{role}", "role": role, **extra}
    response = client.post("/api/v1/tokens", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for ``token``."""
    return {"Authorization": f"Bearer {token}"}
