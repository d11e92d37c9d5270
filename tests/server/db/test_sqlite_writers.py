"""SQLite transactions of one process queue on a lock handed over when each one ends."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from reliant.server.db import make_engine
from reliant.server.db.engine import SQLiteWriters

#: Bound on any wait in these tests (a failure, not a pace).
WAIT = 10.0


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    made = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with made.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return made


def _second_writer(engine: Engine, started: threading.Event, done: threading.Event) -> None:
    started.set()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    done.set()


def test_a_second_transaction_waits_for_the_first_to_commit(engine: Engine) -> None:
    """A transaction begun while another is open starts once the first commits."""
    started, done = threading.Event(), threading.Event()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        thread = threading.Thread(target=_second_writer, args=(engine, started, done))
        thread.start()
        assert started.wait(WAIT)
        assert not done.wait(0.05)  # still queued behind this transaction
    assert done.wait(WAIT)
    thread.join(WAIT)
    with engine.connect() as conn:
        assert [1, 2] == conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all()


def test_a_rolled_back_transaction_hands_over_too(engine: Engine) -> None:
    """A transaction that fails and rolls back lets the next one in; its write is gone."""

    def failing() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing()
    started, done = threading.Event(), threading.Event()
    _second_writer(engine, started, done)
    with engine.connect() as conn:
        assert [2] == conn.execute(text("SELECT n FROM t")).scalars().all()


def test_closing_a_connection_mid_transaction_hands_over(engine: Engine) -> None:
    """A connection closed with its transaction open (rolled back) frees the turn."""
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    conn.close()
    started, done = threading.Event(), threading.Event()
    _second_writer(engine, started, done)
    assert done.is_set()


def test_an_invalidated_connection_hands_over(engine: Engine) -> None:
    """A connection invalidated inside its transaction frees the turn."""
    conn = engine.connect()
    transaction = conn.begin()
    conn.execute(text("SELECT 1"))
    conn.invalidate()
    started, done = threading.Event(), threading.Event()
    _second_writer(engine, started, done)
    assert done.is_set()
    transaction.rollback()
    conn.close()


def test_the_wait_is_bounded(tmp_path: Path) -> None:
    """A transaction that cannot start within the timeout fails as "database is locked"."""
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    engine.dispatch._clear()
    engine.pool.dispatch._clear()
    writers = SQLiteWriters(timeout=0.05)
    writers.install(engine)
    with engine.connect() as first:
        first.execute(text("SELECT 1"))
        result: list[BaseException] = []

        def second() -> None:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except OperationalError as exc:
                result.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(WAIT)
    assert 1 == len(result)
    assert "database is locked" in str(result[0])
