"""The hub: a commit that appended events wakes this process's streams at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from fastapi import FastAPI
from server_helpers import START
from sqlalchemy import text

from reliant.server.db import transaction
from reliant.server.events import append
from reliant.server.events.hub import HUB

#: Bound on the waits of these tests.
DEADLINE = 10.0


def in_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` in another thread (as a route or job would) and wait for it."""
    thread = threading.Thread(target=fn)
    thread.start()
    thread.join(DEADLINE)


def commit_event(app: FastAPI) -> None:
    """Append an event and commit."""
    with transaction(app.state.sessions) as session:
        append(session, kind="hub.test", now=START)


def commit_nothing(app: FastAPI) -> None:
    """Commit a transaction that appends no event."""
    with transaction(app.state.sessions) as session:
        session.execute(text("SELECT 1"))


def test_commit_with_events_wakes_subscribers(app: FastAPI) -> None:
    """After the commit, every subscribed stream is woken."""

    async def scenario() -> tuple[bool, bool]:
        with HUB.subscribe() as first, HUB.subscribe() as second:
            in_thread(lambda: commit_event(app))
            await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), DEADLINE)
            return first.is_set(), second.is_set()

    assert (True, True) == asyncio.run(scenario())


def test_commit_without_events_wakes_nobody(app: FastAPI) -> None:
    """Transactions that append nothing do not disturb the streams."""

    async def scenario() -> bool:
        with HUB.subscribe() as woken:
            in_thread(lambda: commit_nothing(app))
            for _ in range(10):
                await asyncio.sleep(0)
            return woken.is_set()

    assert asyncio.run(scenario()) is False


def test_rolled_back_append_wakes_nobody(app: FastAPI) -> None:
    """An append whose transaction rolls back wakes no stream."""

    def roll_back() -> None:
        with app.state.sessions() as session, session.begin():
            append(session, kind="hub.test", now=START)
            session.rollback()

    async def scenario() -> bool:
        with HUB.subscribe() as woken:
            in_thread(roll_back)
            for _ in range(10):
                await asyncio.sleep(0)
            return woken.is_set()

    assert asyncio.run(scenario()) is False


def test_unsubscribed_streams_are_forgotten() -> None:
    """Leaving the subscription removes the stream from the hub."""

    async def scenario() -> tuple[int, int]:
        before = HUB.waiting
        with HUB.subscribe():
            during = HUB.waiting
        return during - before, HUB.waiting - before

    assert (1, 0) == asyncio.run(scenario())
