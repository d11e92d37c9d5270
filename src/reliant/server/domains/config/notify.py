"""In-process wake-ups of config streams: a committed change wakes the streams of its service.

Streams also poll the store, so changes made by another replica arrive too; this only makes
changes made by this process arrive at once. A write marks its service on the session
(:func:`changed`); the services are announced after the transaction commits, never before,
so a woken stream always reads the new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.orm import Session

_PENDING = "reliant.config.changed"


@dataclass(eq=False, slots=True)
class Waiter:
    """One stream's subscription: its service, loop and wake-up event."""

    service: str
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)


class Hub:
    """The streams of this process, by service; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[Waiter]] = {}

    def subscribe(self, service: str) -> Waiter:
        """Register a stream of ``service`` running on the current event loop."""
        waiter = Waiter(service, asyncio.get_running_loop())
        with self._lock:
            self._waiters.setdefault(service, set()).add(waiter)
        return waiter

    def unsubscribe(self, waiter: Waiter) -> None:
        """Forget a stream (it ended)."""
        with self._lock:
            waiters = self._waiters.get(waiter.service)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[waiter.service]

    def count(self, service: str | None = None) -> int:
        """How many streams are subscribed (to ``service``, or to any)."""
        with self._lock:
            if service is not None:
                return len(self._waiters.get(service, ()))
            return sum(len(w) for w in self._waiters.values())

    def notify(self, services: set[str] | frozenset[str]) -> None:
        """Wake every stream of ``services``."""
        with self._lock:
            waiters = [w for s in services for w in self._waiters.get(s, ())]
        for waiter in waiters:
            _wake(waiter)

    def wake_all(self) -> None:
        """Wake every stream (to look whether its app is closing)."""
        with self._lock:
            waiters = [w for ws in self._waiters.values() for w in ws]
        for waiter in waiters:
            _wake(waiter)


def _wake(waiter: Waiter) -> None:
    with contextlib.suppress(RuntimeError):  # its loop is closed: the stream is gone
        waiter.loop.call_soon_threadsafe(waiter.event.set)


#: The streams of this process.
HUB = Hub()


def changed(session: Session, service: str) -> None:
    """Announce ``service``'s document change once ``session``'s transaction commits."""
    session.info.setdefault(_PENDING, set()).add(service)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    services = session.info.pop(_PENDING, None)
    if services:
        HUB.notify(services)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
