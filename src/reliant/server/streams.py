"""Shutdown of long-lived responses (Server-Sent Events) for every stream of an app.

uvicorn waits for open responses before it tells the app to stop, so an open stream would
hold a shutdown forever. Each app has one :class:`Closing`: streams loop while it is unset
and register a waker to be poked when it is set. ``reliant server`` sets it on SIGINT and
SIGTERM (the app's lifespan chains those handlers); code that stops uvicorn by other means
calls :func:`close_streams` first.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any


class Closing:
    """Set when an app stops: its streams end at their next wake-up, which it triggers."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._wakers: list[Callable[[], None]] = []

    def on_close(self, waker: Callable[[], None]) -> None:
        """Call ``waker`` when closing (once per distinct waker)."""
        if waker not in self._wakers:
            self._wakers.append(waker)

    def close(self) -> None:
        """End the app's streams (safe from any thread and from a signal handler)."""
        self._event.set()
        for waker in list(self._wakers):
            waker()

    def is_set(self) -> bool:
        """Whether the app is stopping."""
        return self._event.is_set()


def closing_of(app: Any) -> Closing:
    """The app's :class:`Closing`, made on first use (the lifespan makes a fresh one)."""
    closing: Closing | None = getattr(app.state, "streams_closing", None)
    if closing is None:
        closing = app.state.streams_closing = Closing()
    return closing


def close_streams(app: Any) -> None:
    """End every open stream of ``app`` now, e.g. before stopping its server."""
    closing_of(app).close()


def hook_signals(close: Callable[[], None]) -> Callable[[], None]:
    """Call ``close`` on SIGINT/SIGTERM, then the handler already installed (uvicorn's).

    Only Python-level handlers are chained, and only from the main thread, where signal
    handlers live.

    Returns:
        a function restoring the previous handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if not callable(handler):
            continue

        def chained(
            signum: int, frame: FrameType | None, handler: Callable[..., Any] = handler
        ) -> None:
            close()
            handler(signum, frame)

        previous[sig] = handler
        signal.signal(sig, chained)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
