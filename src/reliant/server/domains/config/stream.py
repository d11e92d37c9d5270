"""The config stream: Server-Sent Events carrying a service's document on every change.

On connect the stream sends the document (``event: config``, ``id: <version>``) unless
the client's ``Last-Event-ID`` is already the current version; then one event per change.
It looks at the stored version every ``poll`` seconds (changes made by other replicas) and
at once when this process commits a change (:mod:`notify`); a ``: keepalive`` comment goes
out after ``keepalive`` seconds of silence. It ends when the client leaves or its app
closes (:class:`Closing`). Free of web-framework types: the route supplies the readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from reliant.server.domains.config.notify import HUB, Hub
from reliant.server.streams import Closing

#: Seconds between two looks at the stored version.
POLL_INTERVAL = 0.5
#: Seconds of silence after which a keepalive comment is sent.
KEEPALIVE_INTERVAL = 15.0
#: Milliseconds a client should wait before reconnecting (the SSE ``retry`` field).
RECONNECT_MS = 1000


def sse(document: dict[str, Any]) -> str:
    """One ``config`` event carrying ``document``, with its version as the event id."""
    data = json.dumps(document, separators=(",", ":"), sort_keys=True)
    return f"event: config\nid: {document['version']}\ndata: {data}\n\n"


def parse_last_event_id(value: str | None) -> int | None:
    """The version a reconnecting client last received, if it sent a usable one."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


async def config_events(
    service: str,
    *,
    read_version: Callable[[], Awaitable[int]],
    read_document: Callable[[], Awaitable[dict[str, Any]]],
    disconnected: Callable[[], Awaitable[bool]],
    closing: Closing,
    last_event_id: int | None = None,
    hub: Hub = HUB,
    poll: float = POLL_INTERVAL,
    keepalive: float = KEEPALIVE_INTERVAL,
) -> AsyncIterator[str]:
    """Yield the stream's text: a ``retry`` hint, then events and keepalive comments.

    Args:
        read_version: the stored version of the service's document.
        read_document: the document (which carries its own version).
        disconnected: whether the client has gone.
        closing: the app's; the stream ends when it is set.
        last_event_id: the version the client already has (``Last-Event-ID``).
    """
    loop = asyncio.get_running_loop()
    closing.on_close(hub.wake_all)
    waiter = hub.subscribe(service)
    sent = last_event_id
    try:
        yield f"retry: {RECONNECT_MS}\n\n"
        quiet_until = loop.time() + keepalive
        while not closing.is_set():
            waiter.event.clear()  # before reading: a change committed from now on wakes us
            if await read_version() != sent:
                document = await read_document()
                sent = int(document["version"])
                yield sse(document)
                quiet_until = loop.time() + keepalive
            if closing.is_set() or await disconnected():
                return
            wait = min(poll, max(0.0, quiet_until - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.event.wait(), wait)
            if loop.time() >= quiet_until and not closing.is_set():
                yield ": keepalive\n\n"
                quiet_until = loop.time() + keepalive
    finally:
        hub.unsubscribe(waiter)
