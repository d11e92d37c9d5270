"""Streams never pass a missing id too early: out-of-order commits arrive in id order."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from postgres_engine import PostgresServer
from server_helpers import START
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from reliant.server.db import make_engine, session_factory, transaction, upgrade
from reliant.server.events import EventFilter, append
from reliant.server.events.stream import GAP_GRACE, Position, read


def test_contiguous_ids_are_all_safe() -> None:
    """Without holes, everything scanned may be sent."""
    position = Position(last=4)
    assert 7 == position.safe_upto([(5, START), (6, START), (7, START)], now=0, server_now=START)
    assert 4 == position.safe_upto([], now=0, server_now=START)


def test_a_fresh_gap_holds_the_stream_until_grace_passes() -> None:
    """A missing id stops the stream before it, until it has been missing GAP_GRACE seconds."""
    position = Position(last=4)
    scanned = [(5, START), (7, START), (8, START)]
    assert 5 == position.safe_upto(scanned, now=10.0, server_now=START)
    assert 5 == position.safe_upto(scanned, now=10.0 + GAP_GRACE / 2, server_now=START)
    assert 8 == position.safe_upto(scanned, now=10.0 + GAP_GRACE, server_now=START)
    position.last = 5
    assert 8 == position.safe_upto(scanned[1:], now=10.0 + GAP_GRACE, server_now=START)


def test_a_filled_gap_is_sent_in_order() -> None:
    """When the missing id shows up, the stream moves on through it."""
    position = Position(last=4)
    assert 4 == position.safe_upto([(6, START)], now=0.0, server_now=START)
    assert 6 == position.safe_upto([(5, START), (6, START)], now=0.1, server_now=START)


def test_an_old_gap_is_passed_at_once() -> None:
    """A hole before rows received long ago (a rollback, pruning) does not hold the stream."""
    position = Position(last=0)
    scanned = [(40, START - GAP_GRACE), (41, START)]
    assert 41 == position.safe_upto(scanned, now=0.0, server_now=START)


@pytest.fixture(scope="module")
def gap_store(postgres: PostgresServer) -> str:
    """A PostgreSQL database of this module's own, migrated once."""
    url = postgres.create_database("events_gaps")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def sessions(gap_store: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the gap store, emptied afterwards."""
    engine = make_engine(gap_store)
    try:
        yield session_factory(engine)
    finally:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE events RESTART IDENTITY"))
        engine.dispose()


def sent(chunk: str) -> list[str]:
    """The kinds of the events in a stream chunk."""
    return [json.loads(line[6:])["kind"] for line in chunk.splitlines() if line[:6] == "data: "]


def test_late_commit_is_not_skipped(sessions: sessionmaker[Session]) -> None:
    """PostgreSQL: id 2 commits before id 1; the stream waits, then sends 1 and 2 in order."""
    slow = sessions()
    slow.begin()
    append(slow, kind="slow.first", now=START)
    with transaction(sessions) as fast:
        append(fast, kind="fast.second", now=START)
    position = Position(last=0)
    chunk, _ = read(sessions, EventFilter(), position, now=0.0, server_now=START)
    assert ("", 0) == (chunk, position.last)
    slow.commit()
    slow.close()
    chunk, more = read(sessions, EventFilter(), position, now=0.1, server_now=START)
    assert (["slow.first", "fast.second"], False, 2) == (sent(chunk), more, position.last)


def test_rolled_back_id_is_passed_after_grace(sessions: sessionmaker[Session]) -> None:
    """PostgreSQL: an id whose transaction rolled back holds the stream GAP_GRACE seconds."""
    doomed = sessions()
    doomed.begin()
    append(doomed, kind="never.committed", now=START)
    with transaction(sessions) as fast:
        append(fast, kind="after.rollback", now=START)
    doomed.rollback()
    doomed.close()
    position = Position(last=0)
    assert "" == read(sessions, EventFilter(), position, now=0.0, server_now=START)[0]
    assert "" == read(sessions, EventFilter(), position, now=GAP_GRACE / 2, server_now=START)[0]
    chunk, _ = read(sessions, EventFilter(), position, now=GAP_GRACE, server_now=START)
    assert ["after.rollback"] == sent(chunk)


def test_filtered_rows_move_the_position(sessions: sessionmaker[Session]) -> None:
    """Rows the filter leaves out are passed too, so they are not read again."""
    with transaction(sessions) as session:
        for kind in ("a.one", "b.two", "a.three", "b.four"):
            append(session, kind=kind, now=START)
    position = Position(last=0)
    chunk, _ = read(sessions, EventFilter(kinds=("a.*",)), position, now=0.0, server_now=START)
    assert (["a.one", "a.three"], 4) == (sent(chunk), position.last)
