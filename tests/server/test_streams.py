"""Shutdown of an app's streams: wakers, and the SIGINT/SIGTERM hook."""

from __future__ import annotations

import signal
import threading
from types import SimpleNamespace
from typing import Any

from reliant.server.streams import Closing, close_streams, closing_of, hook_signals


def test_close_sets_and_wakes_each_waker_once() -> None:
    """Closing sets the flag and calls every distinct waker."""
    woken: list[str] = []
    closing = Closing()
    waker = lambda: woken.append("a")  # noqa: E731
    closing.on_close(waker)
    closing.on_close(waker)
    closing.on_close(lambda: woken.append("b"))
    assert not closing.is_set()
    closing.close()
    assert (True, ["a", "b"]) == (closing.is_set(), woken)


def test_closing_of_makes_one_per_app() -> None:
    """An app gets one Closing, which close_streams sets."""
    app = SimpleNamespace(state=SimpleNamespace())
    assert closing_of(app) is closing_of(app)
    close_streams(app)
    assert closing_of(app).is_set()


def test_signal_hook_closes_then_chains_and_restores() -> None:
    """SIGTERM closes the streams, then runs the handler installed before; restore undoes it."""
    calls: list[Any] = []

    def previous(signum: int, frame: object) -> None:
        calls.append(signum)

    old = signal.signal(signal.SIGTERM, previous)
    try:
        restore = hook_signals(lambda: calls.append("closed"))
        signal.raise_signal(signal.SIGTERM)
        assert ["closed", signal.SIGTERM] == calls
        restore()
        assert previous == signal.getsignal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, old)


def test_signal_hook_is_a_no_op_off_the_main_thread() -> None:
    """From another thread nothing is installed (signal handlers live on the main thread)."""
    before = signal.getsignal(signal.SIGTERM)
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(hook_signals(lambda: None)))
    thread.start()
    thread.join()
    results[0]()
    assert before == signal.getsignal(signal.SIGTERM)
