"""A service instrumented with the reliant SDK whose payment dependency is down.

Run as ``python instrumented_service.py PORT``: it serves Prometheus metrics on
``127.0.0.1:PORT/metrics`` and calls ``charge`` (through a metered Retry) every few
milliseconds; every call fails, as in a total outage of the dependency. It stops by itself
after ``LIFETIME`` seconds, or on SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

from prometheus_client import start_http_server

from reliant import Backoff, Retry
from reliant.telemetry import prometheus
from reliant.telemetry.metered import metered

#: Seconds the service lives at most, so a lost test never leaves it running.
LIFETIME = 120.0
#: Seconds between two calls.
PACE = 0.005


def charge() -> None:
    """The dependency: down."""
    raise ConnectionError("payments-db refused the connection")


def main() -> None:
    port = int(sys.argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    prometheus.instrument()
    checkout = metered(
        Retry(attempts=2, backoff=Backoff.constant(0.001), name="charge"), name="charge"
    )
    server, _ = start_http_server(port, addr="127.0.0.1")
    deadline = threading.Timer(LIFETIME, stop.set)
    deadline.start()
    try:
        while not stop.wait(PACE):
            with contextlib.suppress(ConnectionError):
                checkout.call(charge)
    finally:
        deadline.cancel()
        server.shutdown()


if __name__ == "__main__":
    main()
