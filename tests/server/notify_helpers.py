"""Receivers imitating the vendors' APIs on loopback, and helpers to drive the outbox.

``Vendor`` is a real HTTP server (``http.server`` in a thread) answering like PagerDuty
Events v2 (``POST /v2/enqueue``), Opsgenie (``POST /v2/alerts``, ``…/{alias}/close``), a
Slack incoming webhook (``POST /slack/…``) and a generic webhook (``POST /hook``). It checks
each request against the vendor's documented fields and answers with the documented codes;
tests can queue other answers, or take it down and bring it back on the same port.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from reliant.server.db import transaction
from reliant.server.domains.notify import enqueue
from reliant.server.domains.notify.delivery import Deliverer
from reliant.server.domains.notify.models import NotificationRow
from reliant.server.domains.notify.sender import Sender
from reliant.server.events import EventRow

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"
GENIE_KEY = "eb243592-faa2-4ba2-a551q-1afdf565c889"
PD_SEVERITIES = {"critical", "error", "warning", "info"}


@dataclass
class Seen:
    """One request the vendor received, and the status it answered."""

    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


@dataclass
class Vendor:
    """The imitation vendor APIs on ``127.0.0.1``."""

    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    #: Answers to give instead of the normal one, first first: (status, body, headers).
    forced: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    #: Called with each request before it is answered.
    on_request: Callable[[Seen], None] | None = None
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Start serving (on the same port as before, if it served already)."""
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                parts = urlsplit(self.path)
                seen = Seen(
                    method="POST",
                    path=unquote(parts.path),
                    raw_path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length),
                )
                status, body, headers = vendor.answer(seen)
                seen.status = status
                with vendor._lock:
                    vendor.seen.append(seen)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop serving: connections are refused until ``up()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def answer(self, seen: Seen) -> tuple[int, str, dict[str, str]]:
        """The forced answer, else the vendor's for this request."""
        if self.on_request is not None:
            self.on_request(seen)
        with self._lock:
            if self.forced:
                return self.forced.pop(0)
        if seen.path == "/v2/enqueue":
            return pagerduty(seen)
        if seen.path.startswith("/v2/alerts"):
            return opsgenie(seen)
        if seen.path.startswith("/slack/"):
            return slack(seen)
        return 200, "", {}

    def accepted(self, path_prefix: str = "") -> list[Seen]:
        """Requests answered 2xx, in order."""
        return [s for s in self.seen if 200 <= s.status < 300 and s.path.startswith(path_prefix)]


def _json_answer(status: int, value: Any) -> tuple[int, str, dict[str, str]]:
    return status, json.dumps(value), {"Content-Type": "application/json"}


def pagerduty(seen: Seen) -> tuple[int, str, dict[str, str]]:
    """Events API v2: 202 for a valid event, 400 naming what is wrong otherwise."""
    errors = []
    try:
        event = seen.json
    except ValueError:
        return _json_answer(400, {"status": "invalid event", "message": "Invalid JSON"})
    if len(str(event.get("routing_key", ""))) != 32:
        errors.append("'routing_key' must be 32 characters")
    if event.get("event_action") not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid")
    if len(str(event.get("dedup_key", ""))) > 255:
        errors.append("'dedup_key' is too long")
    if event.get("event_action") == "trigger":
        payload = event.get("payload", {})
        if not 0 < len(str(payload.get("summary", ""))) <= 1024:
            errors.append("'payload.summary' is missing or too long")
        if not payload.get("source"):
            errors.append("'payload.source' is missing")
        if payload.get("severity") not in PD_SEVERITIES:
            errors.append("'payload.severity' is invalid")
        if any("href" not in link for link in event.get("links", [])):
            errors.append("'links' need href")
    elif not event.get("dedup_key"):
        errors.append("'dedup_key' is required to acknowledge or resolve")
    if errors:
        body = {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        return _json_answer(400, body)
    answer = {"status": "success", "message": "Event processed", "dedup_key": event["dedup_key"]}
    return _json_answer(202, answer)


def opsgenie(seen: Seen) -> tuple[int, str, dict[str, str]]:
    """Alert API: 202 with a requestId; 401 without the key; 422 for an invalid alert."""
    if seen.headers.get("authorization") != f"GenieKey {GENIE_KEY}":
        return _json_answer(401, {"message": "Could not authenticate", "took": 0.0})
    ok = {"result": "Request will be processed", "took": 0.1, "requestId": str(uuid.uuid4())}
    if seen.path == "/v2/alerts":
        alert = seen.json
        errors = []
        if not 0 < len(str(alert.get("message", ""))) <= 130:
            errors.append("message")
        if len(str(alert.get("alias", ""))) > 512:
            errors.append("alias")
        tags = alert.get("tags", [])
        if len(tags) > 20 or any(len(t) > 50 for t in tags):
            errors.append("tags")
        if alert.get("priority", "P3") not in ("P1", "P2", "P3", "P4", "P5"):
            errors.append("priority")
        if errors:
            return _json_answer(
                422, {"message": "Request body is not processable", "errors": errors}
            )
        return _json_answer(202, ok)
    parts = seen.raw_path.split("/")
    if (
        len(parts) == 5
        and parts[4] in ("close", "acknowledge")
        and seen.query.get("identifierType") == ["alias"]
    ):
        return _json_answer(202, ok)
    return _json_answer(404, {"message": "Not found"})


def slack(seen: Seen) -> tuple[int, str, dict[str, str]]:
    """Incoming webhook: 200 ``ok``; 400 ``invalid_payload``; 404 for an unknown hook."""
    if seen.path != "/slack/T000/B000/XXXX":
        return 404, "no_service", {}
    try:
        message = seen.json
    except ValueError:
        return 400, "invalid_payload", {}
    if not isinstance(message.get("text"), str) or len(message.get("blocks", [])) > 50:
        return 400, "invalid_payload", {}
    return 200, "ok", {}


def vendor_server() -> Iterator[Vendor]:
    """A running :class:`Vendor`, taken down at the end."""
    vendor = Vendor()
    vendor.up()
    try:
        yield vendor
    finally:
        vendor.down()


def deliverer(seed: int = 7) -> Deliverer:
    """A delivery run with seeded jitter and an HTTP client that ignores proxy settings."""
    client = httpx.Client(trust_env=False, timeout=5.0, follow_redirects=False)
    return Deliverer(sender=Sender(http=client, timeout=5.0), rng=random.Random(seed))


def deliver(app: FastAPI, now: float, run: Deliverer) -> int:
    """One delivery run in its own transaction, as the job runs it."""
    with transaction(app.state.sessions) as session:
        return run.deliver(session, now)


def alert(name: str = "HighErrorBudgetBurn", **labels: str) -> dict[str, Any]:
    """A firing alert of the SLO evaluator's shape."""
    return {
        "status": "firing",
        "labels": {"alertname": name, "severity": "page", **labels},
        "annotations": {"summary": "2% of the error budget burned in 1h"},
        "startsAt": 1_800_000_000.0,
        "generatorURL": "http://reliant.test/slos/payments",
        "fingerprint": "abc123",
    }


def put(
    app: FastAPI,
    now: float,
    *,
    receiver: str,
    key: str,
    status: str = "firing",
    service: str = "payments",
) -> None:
    """Enqueue one notification for alert group ``key`` in its own transaction."""
    with transaction(app.state.sessions) as session:
        enqueue(
            session,
            receiver=receiver,
            dedup_key=key,
            status=status,
            group_key=f"{{}}:{{alertname=HighErrorBudgetBurn,key={key}}}",
            alerts=[alert(service=service, key=key)],
            group_labels={"alertname": "HighErrorBudgetBurn"},
            common_labels={
                "alertname": "HighErrorBudgetBurn",
                "severity": "page",
                "service": service,
            },
            common_annotations={"summary": "2% of the error budget burned in 1h"},
            now=now,
        )


def rows(app: FastAPI) -> list[NotificationRow]:
    """Every notification, oldest first."""
    with transaction(app.state.sessions) as session:
        return list(session.scalars(select(NotificationRow).order_by(NotificationRow.id)))


def events(app: FastAPI, kind: str) -> list[dict[str, Any]]:
    """Attributes of every event of ``kind``, oldest first."""
    with transaction(app.state.sessions) as session:
        query = select(EventRow).where(EventRow.kind == kind).order_by(EventRow.id)
        return [dict(r.attributes) for r in session.scalars(query)]
