"""The fleet's front door: ``storefront``, which checks stock and charges for each order.

``POST /checkout`` reads the stock from ``inventory`` through the httpx integration
(pipeline ``inventory``: ``Timeout 0.5 s``, ``Retry`` twice, breaker ``inventory``) and
charges through ``payments`` under the metered operation ``charge`` (``Timeout 1 s``,
``Retry`` twice on 5xx and connection errors, breaker ``payments``). Outside ``charge`` a
``Fallback`` answers "payment pending" when the charge fails, times out or is refused by
the open breaker: the customer gets an answer, while ``charge``'s telemetry (the SLO the
game day declares) still counts what went wrong.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reliant.exceptions import CircuitOpenError, ReliantError
from reliant.integrations.httpx import AsyncReliantTransport, retryable
from reliant.resilience.backoff import Backoff
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.fallback import Fallback
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.retry import Retry
from reliant.resilience.timeout import Timeout
from reliant.resilience.windows import CountWindow
from reliant.telemetry.metered import metered

from .fleet_run import Link, Service, inbound, inbound_limiter, read_json

#: Seconds the stock read and the charge may take, retries included.
STOCK_TIMEOUT = 0.5
CHARGE_TIMEOUT = 1.0
#: Attempts of each outbound call, the first included.
ATTEMPTS = 2
#: Between attempts: up to 50 ms (full jitter), doubling, at most 200 ms.
BACKOFF = Backoff.exponential(initial=0.05, multiplier=2.0, max=0.2, jitter="full")
#: Both breakers: open at 50 % failures over the last 20 calls (10 at least), stay open
#: 5 s, then let 2 trial calls decide.
FAILURE_RATE = 0.5
WINDOW = 20
MIN_CALLS = 10
OPEN_FOR = 5.0
HALF_OPEN_CALLS = 2
#: Seconds httpx itself waits (the pipelines' timeouts are shorter and act first).
HTTP_TIMEOUT = 5.0
CHECKOUT_FIELDS = {"order": str, "sku": str, "amount": int}


class PaymentFailed(Exception):
    """``payments`` answered something other than 200.

    Attributes:
        status: the HTTP status it answered.
    """

    def __init__(self, status: int) -> None:
        super().__init__(f"payments answered {status}")
        self.status = status


class StockUnavailable(Exception):
    """The stock could not be read from ``inventory``, retries and breaker included."""


#: What the pending fallback replaces: the open breaker, a timeout, a failed charge.
PENDING_ON = (CircuitOpenError, TimeoutError, PaymentFailed, httpx.TransportError)


def _retry_charge(exc: BaseException) -> bool:
    """Whether a charge attempt is worth repeating: a 5xx or a connection-level error."""
    if isinstance(exc, PaymentFailed):
        return exc.status >= 500
    return isinstance(exc, httpx.TransportError)


def _pending(exc: BaseException) -> dict[str, Any]:
    return {"payment": "pending"}


def breaker(name: str) -> CircuitBreaker:
    """A breaker with the storefront's thresholds (see the module constants)."""
    return CircuitBreaker(
        name=name,
        failure_rate=FAILURE_RATE,
        window=CountWindow(WINDOW),
        min_calls=MIN_CALLS,
        open_for=OPEN_FOR,
        half_open_calls=HALF_OPEN_CALLS,
    )


def calls(
    name: str,
    timeout: float,
    retry_on: Callable[[BaseException], bool],
    guard: CircuitBreaker,
    rng: random.Random,
) -> Pipeline:
    """An upstream's pipeline, outermost first: ``Timeout``, ``Retry`` (jittered from
    ``rng``), the breaker."""
    return Pipeline(
        Timeout(timeout, name=f"{name}-timeout"),
        Retry(
            attempts=ATTEMPTS,
            backoff=BACKOFF,
            retry_on=retry_on,
            name=f"{name}-retry",
            rng=random.Random(rng.random()),
        ),
        guard,
        name=name,
    )


class Storefront:
    """The ``storefront`` service.

    Args:
        payments_url: base URL of ``payments``.
        inventory_url: base URL of ``inventory``.
        seed: seeds the retries' jitter (``None``: unseeded).
        transport: the httpx transport that sends (default: real HTTP connections).

    Attributes:
        payments_breaker: breaker ``payments``.
        inventory_breaker: breaker ``inventory``.
        charge: the metered operation ``charge`` (inside the pending fallback).
        checkout: the metered operation ``checkout`` (the whole request).
    """

    def __init__(
        self,
        *,
        payments_url: str,
        inventory_url: str,
        seed: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        rng = random.Random(seed)
        self.inventory_breaker = breaker("inventory")
        stock = calls("inventory", STOCK_TIMEOUT, retryable, self.inventory_breaker, rng)
        self.inventory = httpx.AsyncClient(
            base_url=inventory_url,
            transport=AsyncReliantTransport(transport, pipelines=lambda request: stock),
            timeout=HTTP_TIMEOUT,
        )
        self.payments_breaker = breaker("payments")
        charges = calls("payments", CHARGE_TIMEOUT, _retry_charge, self.payments_breaker, rng)
        self.charge = metered(charges, name="charge")
        self._charge_or_pending = Pipeline(
            Fallback(handler=_pending, on=PENDING_ON, name="payment-pending"), self.charge
        )
        self.payments = httpx.AsyncClient(
            base_url=payments_url,
            transport=transport if transport is not None else httpx.AsyncHTTPTransport(),
            timeout=HTTP_TIMEOUT,
        )
        self.checkout = metered(Pipeline(name="checkout"), name="checkout")
        self.limiter = inbound_limiter()
        self.link = Link()

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self.inventory.aclose()
        await self.payments.aclose()

    async def _stock(self, sku: str) -> int:
        try:
            response = await self.inventory.get(f"/stock/{quote(sku, safe='')}")
        except (httpx.TransportError, ReliantError, TimeoutError) as exc:
            raise StockUnavailable(f"inventory: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise StockUnavailable(f"inventory answered {response.status_code}")
        count: int = response.json()["available"]
        return count

    async def _post_charge(self, order: str, amount: int) -> dict[str, Any]:
        response = await self.payments.post("/charge", json={"order": order, "amount": amount})
        if response.status_code != 200:
            raise PaymentFailed(response.status_code)
        return {"payment": "charged", "provider": response.json().get("provider")}

    async def _checkout(self, order: str, sku: str, amount: int) -> dict[str, Any]:
        await self._stock(sku)
        payment: dict[str, Any] = await self._charge_or_pending.acall(
            self._post_charge, order, amount
        )
        return {"order": order, **payment}

    async def _checkout_route(self, request: Request) -> JSONResponse:
        body = await read_json(request, CHECKOUT_FIELDS)
        if isinstance(body, str):
            return JSONResponse({"error": body}, status_code=400)
        order = body["order"]
        try:
            answer = await self.checkout.acall(self._checkout, order, body["sku"], body["amount"])
        except StockUnavailable:
            return JSONResponse({"order": order, "error": "inventory unavailable"}, 503)
        return JSONResponse(answer)

    async def _healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"service": "storefront"})

    async def _state(self, request: Request) -> JSONResponse:
        breakers = {
            "payments": self.payments_breaker.state.value,
            "inventory": self.inventory_breaker.state.value,
        }
        return JSONResponse({"breakers": breakers, "link": self.link.state()})

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        await self.aclose()

    def service(self) -> Service:
        """The service to serve: routes, inbound limiter, watched policies."""
        app = Starlette(
            routes=[
                Route("/checkout", self._checkout_route, methods=["POST"]),
                Route("/healthz", self._healthz),
                Route("/state", self._state),
            ],
            middleware=inbound(self.limiter),
            lifespan=self._lifespan,
        )
        watch = (self.checkout, self.charge, self.inventory_breaker, self.limiter)
        return Service(name="storefront", app=app, watch=watch, link=self.link)
