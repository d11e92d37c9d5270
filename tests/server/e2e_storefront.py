"""A real FastAPI service using the SDK, linked to a control plane (run as a program).

Usage: python e2e_storefront.py PORT CONTROL_PLANE_URL INGEST_TOKEN

GET /call calls the protected dependency (failing while /fail?on=1 is set) and answers the
outcome with the breaker's state; GET /state answers the state and the link's stats.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

import reliant as r
from reliant.telemetry.metered import metered


class DependencyDown(Exception):
    """The dependency failed."""


def build() -> FastAPI:
    """The service: one breaker-protected dependency, linked to the control plane."""
    port, url, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    del port
    breaker = r.CircuitBreaker(
        name="payments-db",
        failure_rate=0.5,
        window=r.CountWindow(4),
        min_calls=4,
        open_for=1.0,
        half_open_calls=1,
    )
    charge = metered(breaker, name="charge")
    agent = r.connect(
        url=url,
        token=token,
        service="storefront",
        flush_interval=0.5,
        event_delay=0.1,
        poll_interval=0.5,
        watch=[breaker],
    )
    failing = {"on": False}
    app = FastAPI()

    def dependency() -> str:
        if failing["on"]:
            raise DependencyDown
        return "charged"

    @app.get("/call")
    def call() -> dict[str, object]:
        try:
            return {"ok": True, "result": charge.call(dependency), "state": breaker.state.value}
        except (DependencyDown, r.CircuitOpenError) as exc:
            return {"ok": False, "error": type(exc).__name__, "state": breaker.state.value}

    @app.post("/fail")
    def fail(on: int) -> dict[str, bool]:
        failing["on"] = bool(on)
        return failing

    @app.get("/state")
    def state() -> dict[str, object]:
        stats = agent.stats()
        return {
            "state": breaker.state.value,
            "sent": stats.sent,
            "buffered": stats.buffered_items,
            "connected": stats.connected,
            "dropped": stats.dropped,
        }

    return app


if __name__ == "__main__":
    uvicorn.run(build(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
