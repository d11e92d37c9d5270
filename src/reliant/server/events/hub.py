"""Wakes this process's live event streams as soon as an event it appended is committed.

Streams read new events from the database (so they see every replica's events), polling
at a short interval; the hub lets a stream skip the rest of that interval when this
process committed an event. ``append`` marks the session; after its transaction commits,
the session hook calls :meth:`Hub.poke`, from whatever thread committed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Hub:
    """A set of waiting streams, each an :class:`asyncio.Event` on its own loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def waiting(self) -> int:
        """How many streams are subscribed."""
        with self._lock:
            return len(self._waiters)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        """Register the running loop's stream; the event is set on every poke.

        The stream clears the event before each read of the database, so a poke that
        lands during the read is not lost.
        """
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(waiter)
        try:
            yield waiter[1]
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def poke(self) -> None:
        """Wake every waiting stream; safe from any thread."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # its loop is closed; the stream is gone
                with self._lock:
                    self._waiters.discard((loop, event))


#: The process's hub: every session that appends pokes it after commit.
HUB = Hub()
