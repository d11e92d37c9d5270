"""The fleet's back ends: ``inventory`` (stock levels) and ``payments`` (charges).

``payments`` charges through a primary provider with a standby behind it. Its pipeline
``provider`` is ``Fallback(standby, on=CircuitOpenError)``, ``CircuitBreaker
"primary-provider"``, ``Fault "provider-outage"``, then the primary. The breaker is
configured never to trip by itself under the demo's fault: failing over costs fees, so it
is the operator's call, made by forcing the breaker open through the config stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reliant.exceptions import CircuitOpenError
from reliant.faults.fault import Fault
from reliant.resilience.circuit_breaker import CircuitBreaker
from reliant.resilience.fallback import Fallback
from reliant.resilience.pipeline import Pipeline
from reliant.resilience.windows import CountWindow
from reliant.telemetry.metered import metered

from .fleet_run import Link, Service, inbound, inbound_limiter, read_json

#: Seconds ``GET /stock/{sku}`` works (a database read, say).
STOCK_WORK = 0.003
#: Seconds a charge takes at the primary and at the standby provider.
PRIMARY_WORK = 0.005
STANDBY_WORK = 0.010
#: The ``provider-outage`` fault, once switched on: share of charges failed, and the
#: seconds each failed one waits first (a provider timing out before it refuses).
OUTAGE_RATE = 0.7
OUTAGE_LATENCY = 0.3
#: ``primary-provider`` trips only when every one of its last 100 calls failed; at the
#: outage's 70 % that is about 0.7**100 ≈ 3e-16 per call: in practice, only when forced.
PRIMARY_WINDOW = 100
ORDER_FIELDS = {"order": str, "amount": int}


def available(sku: str) -> int:
    """Units of ``sku`` in stock: 1..100, always the same for the same sku."""
    digest = hashlib.sha256(sku.encode()).digest()
    return 1 + int.from_bytes(digest[:4], "big") % 100


def inventory() -> Service:
    """The ``inventory`` service: ``GET /stock/{sku}``, operation ``stock`` metered."""
    stock = metered(Pipeline(name="stock"), name="stock")
    limiter = inbound_limiter()
    link = Link()

    async def read_stock(sku: str) -> dict[str, object]:
        await asyncio.sleep(STOCK_WORK)
        return {"sku": sku, "available": available(sku)}

    async def get_stock(request: Request) -> JSONResponse:
        return JSONResponse(await stock.acall(read_stock, request.path_params["sku"]))

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"service": "inventory"})

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"service": "inventory", "link": link.state()})

    app = Starlette(
        routes=[
            Route("/stock/{sku}", get_stock),
            Route("/healthz", healthz),
            Route("/state", state),
        ],
        middleware=inbound(limiter),
    )
    return Service(name="inventory", app=app, watch=(stock, limiter), link=link)


class Payments:
    """The ``payments`` service: ``POST /charge`` through pipeline ``provider``.

    Args:
        seed: seeds the ``provider-outage`` fault's draws (``None``: unseeded).
        outage_latency: seconds a charge failed by the fault waits first.

    Attributes:
        primary: the ``primary-provider`` breaker (forced open: all charges to standby).
        outage: the ``provider-outage`` fault (off until the control plane enables it).
        charges: charges answered so far, by ``primary``, ``standby`` and ``failed``.
    """

    def __init__(self, *, seed: int | None = None, outage_latency: float = OUTAGE_LATENCY):
        self.primary = CircuitBreaker(
            name="primary-provider",
            failure_rate=1.0,
            window=CountWindow(PRIMARY_WINDOW),
            min_calls=PRIMARY_WINDOW,
            open_for=30.0,
            half_open_calls=5,
        )
        self.outage = Fault(
            name="provider-outage",
            rate=OUTAGE_RATE,
            latency=outage_latency,
            enabled=False,
            rng=random.Random(seed),
        )
        standby = Fallback(handler=self._standby, on=CircuitOpenError, name="standby-provider")
        provider = Pipeline(standby, self.primary, self.outage, name="provider")
        self.charge = metered(provider, name="charge")
        self.charges = {"primary": 0, "standby": 0, "failed": 0}
        self.limiter = inbound_limiter()
        self.link = Link()

    @staticmethod
    async def _primary() -> str:
        await asyncio.sleep(PRIMARY_WORK)
        return "primary"

    @staticmethod
    async def _standby(exc: BaseException) -> str:
        await asyncio.sleep(STANDBY_WORK)
        return "standby"

    async def _charge(self, request: Request) -> JSONResponse:
        body = await read_json(request, ORDER_FIELDS)
        if isinstance(body, str):
            return JSONResponse({"error": body}, status_code=400)
        try:
            provider: str = await self.charge.acall(self._primary)
        except ConnectionError:  # the injected outage (InjectedFault is a ConnectionError)
            self.charges["failed"] += 1
            return JSONResponse({"error": "provider unavailable"}, status_code=503)
        self.charges[provider] += 1
        return JSONResponse({"order": body["order"], "charged": True, "provider": provider})

    async def _healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"service": "payments"})

    async def _state(self, request: Request) -> JSONResponse:
        outage = self.outage
        return JSONResponse(
            {
                "service": "payments",
                "breakers": {"primary-provider": self.primary.state.value},
                "faults": {"provider-outage": {"enabled": outage.enabled, "rate": outage.rate}},
                "charges": self.charges,
                "link": self.link.state(),
            }
        )

    def service(self) -> Service:
        """The service to serve: routes, inbound limiter, watched policies."""
        app = Starlette(
            routes=[
                Route("/charge", self._charge, methods=["POST"]),
                Route("/healthz", self._healthz),
                Route("/state", self._state),
            ],
            middleware=inbound(self.limiter),
        )
        return Service(name="payments", app=app, watch=(self.charge, self.limiter), link=self.link)
