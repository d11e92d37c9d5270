"""Engines and sessions for the embedded SQLite store and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

#: Milliseconds a SQLite writer waits for another writer before failing.
SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalize_url(url: str) -> str:
    """Return ``url`` with the driver reliant uses (psycopg 3 for PostgreSQL).

    Raises:
        ValueError: the URL is not SQLite or PostgreSQL.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    if backend == "sqlite":
        return url
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string()!r}: reliant stores its data in "
        "SQLite (the default) or PostgreSQL (RELIANT_DATABASE_URL=postgresql://user@host/db)"
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class SQLiteWriters:
    """One transaction at a time on a SQLite engine, handed over the moment it ends.

    Every transaction takes SQLite's write lock when it begins (``BEGIN IMMEDIATE``), so two
    writers queue instead of failing on a lock upgrade. Within a process they queue on this
    lock first: a waiter wakes when the transaction before it commits or rolls back, where
    SQLite's own busy handler polls with sleeps of up to 100 ms (with four busy writers
    that left the server idle half the time). Other processes still meet SQLite's lock and
    its busy timeout.
    """

    _KEY = "reliant_sqlite_writer"

    def __init__(self, timeout: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()

    def install(self, engine: Engine) -> None:
        """Hook ``engine``'s transactions, and its pool as a safety net: a connection that
        goes back to the pool, is invalidated or closed no longer holds the turn."""
        event.listen(engine, "begin", self.begin)
        event.listen(engine, "commit", self.end)
        event.listen(engine, "rollback", self.end)
        for name in ("checkin", "invalidate", "close"):
            event.listen(engine.pool, name, self._released)

    def begin(self, conn: Connection) -> None:
        """Wait for the transaction before (at most :attr:`timeout`), then take SQLite's lock.

        Raises:
            OperationalError: the wait timed out (as SQLite's "database is locked").
        """
        if not self._lock.acquire(timeout=self.timeout):
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                Exception(
                    "database is locked: another transaction "
                    f"of this process held it for {self.timeout:g} s"
                ),
            )
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        conn.info[self._KEY] = True

    def end(self, conn: Connection) -> None:
        """Hand the turn to the next transaction (the commit or rollback follows at once).

        An invalidated connection has already handed it over (its pool's event).
        """
        if not conn.invalidated and conn.info.pop(self._KEY, False):
            self._lock.release()

    def _released(self, _dbapi: Any, record: Any, *_: Any) -> None:
        if record is not None and record.info.pop(self._KEY, False):
            self._lock.release()


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``: SQLite in WAL mode, or PostgreSQL through psycopg.

    A SQLite file's directory is created when missing.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        SQLiteWriters().install(engine)
        event.listen(engine, "connect", _no_pysqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite opens transactions itself and too late; let SQLAlchemy's "begin" do it.
    dbapi_connection.isolation_level = None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit when the block ends, roll back when it raises."""
    with factory() as session, session.begin():
        yield session
