"""The demo's pager: a webhook receiver of the control plane, playing the on-call's phone.

Usage::

    python -m reliant.demo.pager --port P --secret S [--tolerance SECONDS]

``POST /page`` takes reliant's webhook payload (docs/notifications.md, "The webhook
payload"): it checks ``X-Reliant-Signature`` against ``--secret`` (401 when missing, wrong
or older than ``--tolerance``), refuses a body that is not the payload (400), drops
repeats of an ``Idempotency-Key`` (200, not recorded again), records the notification and
prints one line per notification::

    PAGE firing   StorefrontChargeAvailability service=storefront severity=page — …

``GET /received`` lists what was recorded, in arrival order; ``GET /healthz`` answers
``{"service": "pager"}``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .fleet_run import Parser, fail, listen, port_number, say, serve

PROG = "python -m reliant.demo.pager"
SIGNATURE_HEADER = "X-Reliant-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Seconds a signature's timestamp may be away from now (docs/notifications.md's value).
DEFAULT_TOLERANCE = 300.0
#: Idempotency keys remembered; the oldest are forgotten past this.
MAX_KEYS = 10_000
#: Fields of the payload that must be there, with their JSON types.
PAYLOAD_FIELDS: dict[str, type] = {
    "status": str,
    "alerts": list,
    "groupLabels": dict,
    "commonLabels": dict,
    "commonAnnotations": dict,
    "dedupKey": str,
}


def verify(secret: str, header: str | None, body: bytes, now: float, tolerance: float) -> bool:
    """Whether ``header`` (``t=<unix s>,v1=<hex HMAC-SHA256>``) signs ``body``, recently.

    Args:
        secret: the receiver's secret.
        header: the ``X-Reliant-Signature`` value, or ``None`` when absent.
        body: the raw request body.
        now: the current Unix time.
        tolerance: seconds the timestamp may be from ``now``.

    Returns:
        False for a missing or malformed header, a wrong MAC or a stale timestamp.
    """
    if not header:
        return False
    try:
        fields = dict(part.strip().split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, given)


def _label(payload: dict[str, Any], name: str) -> str:
    """A label from the common labels, else the group labels, else the first alert's."""
    for labels in (payload["commonLabels"], payload["groupLabels"]):
        if isinstance(value := labels.get(name), str):
            return value
    alerts = payload["alerts"]
    first = alerts[0].get("labels") if alerts and isinstance(alerts[0], dict) else None
    value = first.get(name) if isinstance(first, dict) else None
    return value if isinstance(value, str) else ""


def _summary(payload: dict[str, Any]) -> str:
    summary = payload["commonAnnotations"].get("summary")
    if not isinstance(summary, str):
        alerts = payload["alerts"]
        first = alerts[0].get("annotations") if alerts and isinstance(alerts[0], dict) else None
        summary = first.get("summary") if isinstance(first, dict) else None
    return " ".join(summary.split()) if isinstance(summary, str) else ""


def record_of(payload: object, received_at: float) -> dict[str, Any] | str:
    """What ``GET /received`` lists for one payload, or why it is not a webhook payload.

    Returns:
        ``status``, ``alertname``, ``service``, ``severity``, ``summary``, ``dedup_key``,
        ``labels`` (the common labels), ``received_at`` (Unix seconds); or a reason.
    """
    if not isinstance(payload, dict):
        return "expected a JSON object"
    for name, kind in PAYLOAD_FIELDS.items():
        if not isinstance(payload.get(name), kind):
            return f"{name!r} missing or not a JSON {kind.__name__}"
    return {
        "status": payload["status"],
        "alertname": _label(payload, "alertname"),
        "service": _label(payload, "service"),
        "severity": _label(payload, "severity"),
        "summary": _summary(payload),
        "dedup_key": payload["dedupKey"],
        "labels": {k: v for k, v in payload["commonLabels"].items() if isinstance(v, str)},
        "received_at": round(received_at, 3),
    }


def line_of(item: dict[str, Any]) -> str:
    """The line printed for a recorded notification."""
    return (
        f"PAGE {item['status']:<8} {item['alertname'] or '(no alertname)'} "
        f"service={item['service'] or '-'} severity={item['severity'] or '-'} — {item['summary']}"
    )


class Pager:
    """The pager's state and routes.

    Args:
        secret: the webhook receiver's secret.
        tolerance: seconds a signature's timestamp may be from now.
        now: the Unix-time clock (``time.time``; a fixed one in tests).
        out: where each notification's line goes (stdout).

    Attributes:
        items: the recorded notifications, in arrival order.
    """

    def __init__(
        self,
        *,
        secret: str,
        tolerance: float = DEFAULT_TOLERANCE,
        now: Callable[[], float] = time.time,
        out: Callable[[str], None] = say,
    ) -> None:
        self.secret = secret
        self.tolerance = tolerance
        self.items: list[dict[str, Any]] = []
        self._now = now
        self._out = out
        self._keys: OrderedDict[str, None] = OrderedDict()
        self.app = Starlette(
            routes=[
                Route("/page", self._page, methods=["POST"]),
                Route("/received", self._received),
                Route("/healthz", self._healthz),
            ]
        )

    async def _page(self, request: Request) -> JSONResponse:
        body = await request.body()
        now = self._now()
        if not verify(
            self.secret, request.headers.get(SIGNATURE_HEADER), body, now, self.tolerance
        ):
            return JSONResponse({"error": "missing, wrong or stale signature"}, status_code=401)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        item = record_of(payload, now)
        if isinstance(item, str):
            return JSONResponse({"error": f"not a reliant webhook payload: {item}"}, 400)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key:
            if key in self._keys:
                return JSONResponse({"duplicate": True})
            self._keys[key] = None
            if len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)
        self.items.append(item)
        self._out(line_of(item))
        return JSONResponse({"received": len(self.items)})

    async def _received(self, request: Request) -> JSONResponse:
        return JSONResponse({"items": self.items})

    async def _healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"service": "pager"})


def _secret(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("expected the webhook receiver's secret, got ''")
    return text


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def parser() -> Parser:
    """The command line's parser (errors: one line, status 2)."""
    p = Parser(prog=PROG, description="Receive reliant's webhook notifications as a pager.")
    p.add_argument("--port", type=port_number, required=True, help="port on 127.0.0.1")
    p.add_argument("--secret", type=_secret, required=True, help="the receiver's secret")
    p.add_argument(
        "--tolerance",
        type=_tolerance,
        default=DEFAULT_TOLERANCE,
        help="seconds a signature's timestamp may be from now (default 300)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the pager until SIGTERM or SIGINT.

    Returns:
        0 after a clean stop; 1 when the port cannot be bound; 2 for a usage error.
    """
    args = parser().parse_args(argv)
    pager = Pager(secret=args.secret, tolerance=args.tolerance)
    try:
        sock = listen(args.port)
    except OSError as exc:
        return fail(PROG, f"pager cannot listen on 127.0.0.1:{args.port}: {exc.strerror}")
    port = sock.getsockname()[1]
    say(f"pager: started on http://127.0.0.1:{port}, POST /page")
    serve(pager.app, sock, lambda: say("pager: ready"))
    count = len(pager.items)
    say(f"pager: stopped ({count} notification{'' if count == 1 else 's'} received)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
