"""Helpers shared by the event-log tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi.testclient import TestClient


def ingest(client: TestClient, *events: dict[str, Any], **headers: str) -> list[int]:
    """Append events through the API and return their ids."""
    response = client.post("/api/v1/events", json={"events": list(events)}, headers=headers)
    assert 202 == response.status_code, response.text
    return list(response.json()["ids"])


def kinds(client: TestClient, **params: Any) -> list[str]:
    """The kinds of the listed events (newest first), as the admin sees them."""
    response = client.get("/api/v1/events", params={"limit": 500, **params})
    assert 200 == response.status_code, response.text
    return [e["kind"] for e in response.json()["items"]]


class SseReader:
    """A real streaming HTTP client of ``/api/v1/events/stream``; every read is bounded.

    Args:
        url: the live server's base URL.
        token: the bearer token.
        params: query parameters (filters, ``after``).
        headers: further headers (``Last-Event-ID``).
    """

    #: Seconds a read may wait for the next line before the test fails.
    READ_TIMEOUT = 10.0

    def __init__(
        self,
        url: str,
        token: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            timeout=httpx.Timeout(self.READ_TIMEOUT),
        )
        self._context = self.http.stream("GET", "/api/v1/events/stream", params=params)
        self.response = self._context.__enter__()
        self.lines = self.response.iter_lines()
        #: The id of the last block that carried one (the stream's position).
        self.position: int | None = None

    def blocks(self) -> Iterator[list[str]]:
        """The stream's blocks (the lines up to a blank line), comments included."""
        block: list[str] = []
        for line in self.lines:
            if line:
                block.append(line)
                continue
            if block:
                yield block
            block = []

    def events(self, n: int) -> list[dict[str, Any]]:
        """The next ``n`` events' JSON, checking each block's id matches its event's."""
        found: list[dict[str, Any]] = []
        for block in self.blocks():
            fields = dict(line.split(": ", 1) for line in block if not line.startswith(":"))
            if "id" in fields:
                self.position = int(fields["id"])
            if "data" not in fields:
                continue
            event = json.loads(fields["data"])
            assert ("event", event["id"]) == (fields["event"], int(fields["id"]))
            found.append(event)
            if len(found) == n:
                return found
        raise AssertionError(f"the stream ended after {len(found)} of {n} events")

    def close(self) -> None:
        """Leave the stream."""
        self._context.__exit__(None, None, None)
        self.http.close()
