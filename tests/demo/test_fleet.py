"""The demo fleet's services: storefront over payments and inventory, and their command line.

Handlers are driven in-process through ``httpx.ASGITransport``: the storefront's outbound
calls reach in-process payments and inventory apps through a transport routing by host.
One test starts a real service process and stops it with SIGTERM.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from process_output import DEADLINE, read_until
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reliant.agent.apply import walk
from reliant.demo.fleet import build, main, parse
from reliant.demo.fleet_backends import OUTAGE_RATE, Payments, available, inventory
from reliant.demo.fleet_storefront import Storefront
from reliant.faults.fault import Fault
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.ratelimit import RateLimiter
from reliant.testing import capture_events

PAYMENTS = "http://payments.test"
INVENTORY = "http://inventory.test"
CONTROL_PLANE = ["--control-plane", "http://127.0.0.1:9", "--token", "t"]


class Routes(httpx.AsyncBaseTransport):
    """Send each request to the in-process app of its host; unknown hosts refuse."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.transports = {host: httpx.ASGITransport(app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await transport.handle_async_request(request)


def failing_payments(calls: list[str]) -> Starlette:
    """A stand-in for payments whose provider is down: every charge answers 503.

    (The real payments app also meters an operation ``charge``; in one process its events
    would mix with the storefront's.)
    """

    async def charge(request: Request) -> JSONResponse:
        calls.append((await request.json())["order"])
        return JSONResponse({"error": "provider unavailable"}, status_code=503)

    return Starlette(routes=[Route("/charge", charge, methods=["POST"])])


def storefront(payments: Payments | Starlette) -> Storefront:
    """A storefront whose payments and inventory are in-process apps."""
    app = payments.service().app if isinstance(payments, Payments) else payments
    apps = {"payments.test": app, "inventory.test": inventory().app}
    return Storefront(
        payments_url=PAYMENTS, inventory_url=INVENTORY, seed=3, transport=Routes(apps)
    )


def drive(shop: Storefront, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    """Run ``scenario`` with a client of ``shop``'s app, then close ``shop``."""

    async def run() -> Any:
        transport = httpx.ASGITransport(shop.service().app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
                return await scenario(client)
        finally:
            await shop.aclose()

    return asyncio.run(run())


def outcomes(events: list[Any], operation: str) -> list[str]:
    """The ``call.completed`` outcomes of ``operation``, in order."""
    return [
        e.attributes["outcome"]
        for e in events
        if e.kind == "call.completed" and e.policy == operation
    ]


def order(n: int) -> dict[str, Any]:
    """A checkout body."""
    return {"order": f"o-{n}", "sku": "sku-7", "amount": 1200}


def test_checkout_is_charged_by_payments() -> None:
    """A checkout with healthy back ends is charged by the primary provider."""
    shop = storefront(Payments(seed=1))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/checkout", json=order(1))

    with capture_events(kinds={"call.completed"}) as events:
        response = drive(shop, scenario)
    assert (200, {"order": "o-1", "payment": "charged", "provider": "primary"}) == (
        response.status_code,
        response.json(),
    )
    # "charge" twice: payments' own operation, then the storefront's around it.
    assert (["success"] * 2, ["success"]) == (
        outcomes(events, "charge"),
        outcomes(events, "checkout"),
    )


def test_failing_payments_are_retried_then_the_breaker_opens_and_pending_is_served() -> None:
    """Each failed charge is tried twice; after 10 failures the breaker opens and the next
    checkout gets "pending" at once, without a call to payments."""
    calls: list[str] = []
    shop = storefront(failing_payments(calls))

    async def scenario(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/checkout", json=order(n)) for n in range(6)]

    with capture_events(kinds={"call.completed", "retry.retrying"}) as events:
        responses = drive(shop, scenario)
    assert [(200, {"order": f"o-{n}", "payment": "pending"}) for n in range(6)] == [
        (r.status_code, r.json()) for r in responses
    ]
    assert [f"o-{n}" for n in range(5) for _ in range(2)] == calls
    assert "open" == shop.payments_breaker.state.value
    assert ["failure"] * 5 + ["rejected"] == outcomes(events, "charge")
    assert ["success"] * 6 == outcomes(events, "checkout")
    assert 5 == sum(e.kind == "retry.retrying" and e.policy == "payments-retry" for e in events)


def test_inventory_down_answers_503() -> None:
    """When inventory refuses connections, the checkout fails with 503 after its retry."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    shop = Storefront(payments_url=closed, inventory_url=closed, seed=3)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/checkout", json=order(1))

    with capture_events(kinds={"call.completed", "retry.retrying"}) as events:
        response = drive(shop, scenario)
    assert (503, {"order": "o-1", "error": "inventory unavailable"}) == (
        response.status_code,
        response.json(),
    )
    assert (["failure"], []) == (outcomes(events, "checkout"), outcomes(events, "charge"))
    assert ["inventory-retry"] == [e.policy for e in events if e.kind == "retry.retrying"]


def test_state_shows_the_breakers_and_the_link() -> None:
    """GET /state answers both breakers' states and the link (not connected here)."""
    shop = storefront(Payments(seed=1))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get("/state")

    body = drive(shop, scenario).json()
    assert {"payments": "closed", "inventory": "closed"} == body["breakers"]
    assert (False, 0) == (body["link"]["connected"], body["link"]["sent"])


@pytest.mark.parametrize(
    "body",
    [{"order": "o", "sku": "s"}, {"order": "o", "sku": "s", "amount": "12"}, ["o"]],
)
def test_a_malformed_checkout_answers_400(body: Any) -> None:
    """A checkout body without order, sku and an integer amount is refused with 400."""
    shop = storefront(Payments(seed=1))

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/checkout", json=body)

    assert 400 == drive(shop, scenario).status_code


def charge_all(payments: Payments, n: int) -> list[httpx.Response]:
    """POST ``n`` charges to ``payments``' app."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(payments.service().app)
        async with httpx.AsyncClient(transport=transport, base_url="http://payments") as client:
            body = {"order": "o", "amount": 10}
            return [await client.post("/charge", json=body) for _ in range(n)]

    return asyncio.run(run())


def test_the_outage_fails_a_seeded_share_of_charges_with_503() -> None:
    """With provider-outage on, the charges its seeded draws pick answer 503."""
    payments = Payments(seed=5, outage_latency=0.0)
    payments.outage.enable()
    draws = random.Random(5)
    expected = [503 if draws.random() < OUTAGE_RATE else 200 for _ in range(20)]
    responses = charge_all(payments, 20)
    assert expected == [r.status_code for r in responses]
    assert {"error": "provider unavailable"} == responses[expected.index(503)].json()


def test_forcing_the_primary_open_sends_every_charge_to_standby() -> None:
    """primary-provider forced open (as the config override does): standby charges all."""
    payments = Payments(seed=5, outage_latency=0.0)
    payments.outage.enable()
    payments.primary.force_open()
    responses = charge_all(payments, 10)
    assert [(200, "standby")] * 10 == [(r.status_code, r.json()["provider"]) for r in responses]
    assert {"primary": 0, "standby": 10, "failed": 0} == payments.charges


def test_the_primary_breaker_does_not_trip_by_itself_under_the_outage() -> None:
    """300 charges at the outage's 70 % leave primary-provider closed: failover is manual."""
    payments = Payments(seed=11, outage_latency=0.0)
    payments.outage.enable()

    async def primary() -> str:
        return "primary"

    async def run() -> int:
        failed = 0
        for _ in range(300):
            try:
                await payments.charge.acall(primary)
            except ConnectionError:
                failed += 1
        return failed

    draws = random.Random(11)
    expected = sum(draws.random() < OUTAGE_RATE for _ in range(300))
    assert (expected, "closed") == (asyncio.run(run()), payments.primary.state.value)


def test_inventory_answers_a_deterministic_stock() -> None:
    """GET /stock/{sku} answers the same count in 1..100 for the same sku, metered as stock."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(inventory().app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as client:
            return [await client.get("/stock/sku-9") for _ in range(2)]

    with capture_events(kinds={"call.completed"}) as events:
        first, second = asyncio.run(run())
    assert first.json() == second.json() == {"sku": "sku-9", "available": available("sku-9")}
    assert 1 <= available("sku-9") <= 100
    assert ["success", "success"] == outcomes(events, "stock")


def test_the_inbound_limiter_obeys_a_new_rate() -> None:
    """The limiter `inbound` reconfigured (as a set_rate override does) answers 429."""
    service = inventory()
    limiter = next(p for p in service.watch if isinstance(p, RateLimiter))
    limiter.reconfigure(rate=1.0, burst=1)

    async def run() -> list[int]:
        transport = httpx.ASGITransport(service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as client:
            return [(await client.get("/stock/a")).status_code for _ in range(2)] + [
                (await client.get("/healthz")).status_code
            ]

    assert [200, 429, 200] == asyncio.run(run())


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["storefront", "--upstream", "payments=http://p:1", "--upstream", "inventory=http://i:2"],
         {("breaker", "payments"), ("breaker", "inventory"), ("limiter", "inbound")}),
        (["payments"],
         {("breaker", "primary-provider"), ("fault", "provider-outage"), ("limiter", "inbound")}),
        (["inventory"], {("limiter", "inbound")}),
    ],
)  # fmt: skip
def test_each_service_lets_the_control_plane_steer_its_knobs(
    argv: list[str], names: set[tuple[str, str]]
) -> None:
    """The policies given to reliant.connect hold the breakers, faults and limiter by name."""
    service = build(parse([*argv, "--port", "0", *CONTROL_PLANE]))
    kinds = {CircuitBreaker: "breaker", Fault: "fault", RateLimiter: "limiter"}
    found = {
        (kind, p.name) for p in walk(service.watch) for t, kind in kinds.items() if isinstance(p, t)
    }
    assert names == found


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["storefront", "--port", "1", *CONTROL_PLANE],
         "storefront needs --upstream payments=http://127.0.0.1:PORT "
         "--upstream inventory=http://127.0.0.1:PORT"),
        (["storefront", "--port", "1", *CONTROL_PLANE, "--upstream", "payments=http://a:1"],
         "storefront needs --upstream inventory=http://127.0.0.1:PORT"),
        (["storefront", "--port", "1", *CONTROL_PLANE, "--upstream", "search=http://a:1"],
         "unknown upstream 'search': storefront calls payments and inventory"),
        (["payments", "--port", "1", *CONTROL_PLANE, "--upstream", "inventory=http://a:1"],
         "payments calls no upstream; drop --upstream inventory="),
        (["inventory", "--port", "1", *CONTROL_PLANE, "--upstream", "payments"],
         "--upstream: expected NAME=URL, got 'payments'"),
        (["inventory", "--port", "1", *CONTROL_PLANE, "--upstream", "payments=ftp://x"],
         "--upstream: expected an http:// or https:// URL, got 'ftp://x'"),
        (["inventory", "--port", "1", "--control-plane", "localhost", "--token", "t"],
         "--control-plane: expected an http:// or https:// URL, got 'localhost'"),
        (["inventory", "--port", "99999", *CONTROL_PLANE], "--port: expected a port number"),
        (["inventory", "--port", "1", "--control-plane", "http://a:1"],
         "the following arguments are required: --token"),
        (["cart", "--port", "1", *CONTROL_PLANE], "invalid choice: 'cart'"),
    ],
)  # fmt: skip
def test_argument_errors_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing or invalid argument exits with status 2 and one line naming what to pass."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert (2, 1, True) == (exited.value.code, len(err.splitlines()), message in err)


def test_the_module_runs_and_reports_a_usage_error() -> None:
    """`python -m reliant.demo.fleet` exits 2 with one line on stderr for a missing upstream."""
    argv = [sys.executable, "-m", "reliant.demo.fleet", "storefront", "--port", "1"]
    done = subprocess.run([*argv, *CONTROL_PLANE], capture_output=True, text=True, timeout=60)
    assert (2, "") == (done.returncode, done.stdout)
    assert ["python -m reliant.demo.fleet: error: storefront needs"] == [
        line[:53] for line in done.stderr.splitlines()
    ]


def test_a_service_process_serves_and_stops_cleanly_on_sigterm() -> None:
    """A real inventory process answers /healthz once ready and exits 0 on SIGTERM."""
    argv = [sys.executable, "-m", "reliant.demo.fleet", "inventory", "--port", "0"]
    process = subprocess.Popen([*argv, *CONTROL_PLANE], stdout=subprocess.PIPE, bufsize=0)
    try:
        started = read_until(process, "inventory: ready")
        url = re.search(r"http://127\.0\.0\.1:\d+", started[0])
        assert url is not None
        health = httpx.get(f"{url.group()}/healthz", timeout=5)
        process.send_signal(signal.SIGTERM)
        stopped = read_until(process, "inventory: stopped")
        assert (200, {"service": "inventory"}) == (health.status_code, health.json())
        assert (0, 1) == (process.wait(timeout=DEADLINE), len(stopped))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
