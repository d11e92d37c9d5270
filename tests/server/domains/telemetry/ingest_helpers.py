"""Building and posting SDK batches in the telemetry tests."""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from server_helpers import START

from reliant.agent.protocol import INGEST_PATH

#: A bucket at the tests' start time.
BUCKET = int(START)
#: The protocol's example histogram: 42 calls.
HISTOGRAM = [0, 3, 10, 20, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0]


def point(
    operation: str = "charge",
    outcome: str = "success",
    bucket: int = BUCKET,
    histogram: list[int] | None = None,
    total: float = 1.234,
) -> dict[str, Any]:
    """One telemetry point; its count is its histogram's total."""
    counts = list(HISTOGRAM if histogram is None else histogram)
    return {
        "operation": operation,
        "outcome": outcome,
        "bucket": bucket,
        "count": sum(counts),
        "sum": total,
        "histogram": counts,
    }


def event(kind: str = "circuit_breaker.state_changed", **extra: Any) -> dict[str, Any]:
    """One SDK event."""
    body: dict[str, Any] = {
        "time": START + 1.2,
        "kind": kind,
        "name": "payments-db",
        "severity": "warning",
        "attributes": {"from_state": "closed", "to_state": "open"},
        "trace_id": None,
    }
    body.update(extra)
    return body


def batch(
    *,
    service: str = "payments",
    instance: str = "host:1:abcd",
    telemetry: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    dropped: int = 0,
) -> dict[str, Any]:
    """A batch as the SDK sends it."""
    return {
        "protocol": 1,
        "service": service,
        "instance": instance,
        "sdk": "0.1.0",
        "sent_at": START + 2.0,
        "dropped": dropped,
        "telemetry": [point()] if telemetry is None else telemetry,
        "events": [] if events is None else events,
    }


def post(
    client: TestClient,
    body: dict[str, Any] | bytes,
    *,
    compress: bool = True,
    headers: dict[str, str] | None = None,
) -> Response:
    """POST a batch (gzip unless told) to the ingest endpoint."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"}
    if compress:
        raw = gzip.compress(raw)
        sent["Content-Encoding"] = "gzip"
    sent.update(headers or {})
    return client.post(INGEST_PATH, content=raw, headers=sent)
