"""The demo's pager: a signed-webhook receiver that records and prints each notification.

Requests are built by the control plane's own webhook sender
(``reliant.server.domains.notify.payloads.webhook``), so the pager is checked against what
reliant really sends.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from process_output import DEADLINE, read_until
from starlette.testclient import TestClient

from reliant.demo.pager import Pager, main
from reliant.server.domains.notify.payloads import Notification, signature, webhook

SECRET = "pager-secret"
NOW = 1_800_000_000.0


def notification(status: str = "firing", key: str = "idem-1") -> Notification:
    """A notification of the storefront's charge SLO alert."""
    labels = {"alertname": "StorefrontChargeAvailability", "service": "storefront"}
    labels["severity"] = "page"
    return Notification(
        id=1,
        receiver="pager",
        dedup_key="storefront-charge",
        status=status,
        group_key='{}:{alertname="StorefrontChargeAvailability"}',
        alerts=[{"status": status, "labels": labels, "annotations": {}}],
        group_labels={"alertname": "StorefrontChargeAvailability"},
        common_labels=labels,
        common_annotations={"summary": "charge is burning its error budget 14x too fast"},
        idempotency_key=key,
    )


def send(client: TestClient, n: Notification, *, at: float = NOW, secret: str = SECRET) -> Any:
    """POST the webhook request reliant would send for ``n``, signed at ``at``."""
    request = webhook({"url": "http://pager/page", "secret": secret}, n, now=at)
    return client.post("/page", content=request.body, headers=request.headers)


def pager() -> tuple[Pager, list[str], TestClient]:
    """A pager on a fixed clock, the lines it prints, and a client of it."""
    lines: list[str] = []
    p = Pager(secret=SECRET, now=lambda: NOW, out=lines.append)
    return p, lines, TestClient(p.app)


def test_a_signed_notification_is_recorded_listed_and_printed() -> None:
    """A correctly signed page is accepted, listed by /received and printed on one line."""
    _, lines, client = pager()
    response = send(client, notification())
    received = client.get("/received").json()
    assert 200 == response.status_code
    assert {
        "items": [
            {
                "status": "firing",
                "alertname": "StorefrontChargeAvailability",
                "service": "storefront",
                "severity": "page",
                "summary": "charge is burning its error budget 14x too fast",
                "dedup_key": "storefront-charge",
                "labels": {
                    "alertname": "StorefrontChargeAvailability",
                    "service": "storefront",
                    "severity": "page",
                },
                "received_at": NOW,
            }
        ]
    } == received
    assert [
        "PAGE firing   StorefrontChargeAvailability service=storefront severity=page — "
        "charge is burning its error budget 14x too fast"
    ] == lines


def test_notifications_are_listed_in_arrival_order() -> None:
    """A trigger then its resolve are listed in that order."""
    _, _, client = pager()
    send(client, notification("firing", "k-1"))
    send(client, notification("resolved", "k-2"))
    items = client.get("/received").json()["items"]
    assert ["firing", "resolved"] == [item["status"] for item in items]


@pytest.mark.parametrize(
    ("at", "secret"),
    [(NOW, "another-secret"), (NOW - 301, SECRET), (NOW + 301, SECRET)],
    ids=["wrong-secret", "stale", "from-the-future"],
)
def test_a_bad_or_stale_signature_is_refused_with_401(at: float, secret: str) -> None:
    """A signature by another secret, or timestamped over 300 s away, is refused."""
    p, lines, client = pager()
    assert 401 == send(client, notification(), at=at, secret=secret).status_code
    assert ([], []) == (p.items, lines)


@pytest.mark.parametrize("header", [None, "", "t=abc,v1=00", "v1=00", "t=1800000000", "garbage"])
def test_a_missing_or_malformed_signature_is_refused_with_401(header: str | None) -> None:
    """Without a well-formed X-Reliant-Signature the page is refused."""
    p, _, client = pager()
    request = webhook({"url": "http://pager/page", "secret": SECRET}, notification(), now=NOW)
    headers = {k: v for k, v in request.headers.items() if k != "X-Reliant-Signature"}
    if header is not None:
        headers["X-Reliant-Signature"] = header
    assert 401 == client.post("/page", content=request.body, headers=headers).status_code
    assert [] == p.items


def test_a_repeated_idempotency_key_is_recorded_once() -> None:
    """A retried delivery (same Idempotency-Key, signed anew) is answered 200, not recorded."""
    p, lines, client = pager()
    first = send(client, notification(key="same"))
    again = send(client, notification(key="same"), at=NOW + 2)
    assert (200, 200, {"duplicate": True}) == (
        first.status_code,
        again.status_code,
        again.json(),
    )
    assert (1, 1) == (len(p.items), len(lines))


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", json.dumps({"status": "firing"}).encode(), b"\xff\xfe"],
    ids=["not-json", "not-an-object", "fields-missing", "not-utf8"],
)
def test_a_signed_body_that_is_not_the_payload_is_refused_with_400(body: bytes) -> None:
    """A correctly signed body that is not reliant's webhook payload gets 400."""
    p, _, client = pager()
    headers = {"X-Reliant-Signature": signature(SECRET, int(NOW), body)}
    response = client.post("/page", content=body, headers=headers)
    assert (400, []) == (response.status_code, p.items)
    assert response.json()["error"].startswith("not a reliant webhook payload")


def test_healthz_names_the_pager() -> None:
    """GET /healthz answers the readiness probe."""
    _, _, client = pager()
    response = client.get("/healthz")
    assert (200, {"service": "pager"}) == (response.status_code, response.json())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "1"], "the following arguments are required: --secret"),
        (["--port", "1", "--secret", ""], "--secret: expected the webhook receiver's secret"),
        (["--port", "x", "--secret", "s"], "--port: expected a port number"),
        (["--port", "1", "--secret", "s", "--tolerance", "0"], "--tolerance: expected a positive"),
    ],
)
def test_argument_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing or invalid argument exits with status 2 and one line naming it."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert (2, 1, True) == (exited.value.code, len(err.splitlines()), message in err)


def test_the_pager_process_prints_a_page_and_stops_on_sigint() -> None:
    """A real pager process prints the page it receives and exits 0 on SIGINT."""
    argv = [sys.executable, "-m", "reliant.demo.pager", "--port", "0", "--secret", SECRET]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, bufsize=0)
    try:
        url = read_until(process, "pager: started on ")[-1].split()[3].rstrip(",")
        read_until(process, "pager: ready")
        request = webhook({"url": f"{url}/page", "secret": SECRET}, notification(), now=time.time())
        answer = httpx.post(request.url, content=request.body, headers=request.headers, timeout=5)
        page = read_until(process, "PAGE ")[-1]
        process.send_signal(signal.SIGINT)
        stopped = read_until(process, "pager: stopped")[-1]
        assert (200, 0) == (answer.status_code, process.wait(timeout=DEADLINE))
        assert page.startswith("PAGE firing   StorefrontChargeAvailability service=storefront")
        assert "pager: stopped (1 notification received)" == stopped
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
