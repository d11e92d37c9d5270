"""Fixtures for the control-plane tests: a test runs on SQLite and on PostgreSQL.

``db_url`` is a migrated, empty store: on SQLite a copy of a template file migrated once, on
PostgreSQL one database migrated once and emptied after each test. ``app`` and ``client``
build the server on it with a virtual clock and a known admin token.

Which stores a test runs on — the rule. Every test using ``db_url`` runs on both stores,
unless it is marked ``@pytest.mark.store_agnostic`` (or its module sets
``pytestmark = pytest.mark.store_agnostic``): then it runs on SQLite alone. Mark a test
store-agnostic only when what it checks cannot differ between the stores: the shape of
HTTP answers (status codes, problem documents, headers, the OpenAPI document), auth and
sessions, the web UI's rendering and forms, the CLI's wording and exit codes — whose
queries are the same domain code the API tests run on both stores. Never mark a test that
exercises SQL of its own (filters, ordering, upserts, JSON columns, counting), migrations,
locking, jobs and their leases, the outbox, or concurrency: those run on both stores.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from postgres_engine import PostgresServer
from server_helpers import ADMIN, START
from sqlalchemy import text

from reliant.server.app import create_app
from reliant.server.db import make_engine, upgrade
from reliant.server.db.base import Base
from reliant.server.db.migrate import load_models
from reliant.server.settings import Settings
from reliant.testing import VirtualClock

BACKENDS = ["sqlite", "postgresql"]
#: The marker of tests that run on SQLite alone (see the rule above).
STORE_AGNOSTIC = "store_agnostic"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``store_agnostic`` marker."""
    config.addinivalue_line(
        "markers",
        f"{STORE_AGNOSTIC}: checks nothing store-specific (HTTP shape, auth, UI rendering, "
        "CLI wording), so db_url is SQLite alone; see tests/server/conftest.py",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests using ``db_url`` on every store, or on SQLite when store-agnostic."""
    if "db_backend" in metafunc.fixturenames:
        agnostic = metafunc.definition.get_closest_marker(STORE_AGNOSTIC) is not None
        metafunc.parametrize("db_backend", BACKENDS[:1] if agnostic else BACKENDS)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_store(postgres: PostgresServer) -> str:
    """A database migrated to head once per run."""
    url = postgres.create_database("reliant_tests")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "reliant.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def empty_postgres(postgres_store: str) -> Iterator[Callable[[], None]]:
    """Empty the PostgreSQL store after a test: as new, but for the migrations.

    Only the tables holding rows are truncated (``CASCADE`` adds those referencing them),
    and sequences a test advanced restart, also those of tables it emptied itself. Truncating
    every table, on a new engine each time, cost about 0.2 s per test; this about 5 ms.
    """
    load_models()
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
    holding = text(
        " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM {t})" for t in tables)
    )
    advanced = text(
        "SELECT schemaname, sequencename FROM pg_sequences WHERE last_value IS NOT NULL"
    )
    engine = make_engine(postgres_store)

    def empty() -> None:
        with engine.begin() as conn:
            if used := [row[0] for row in conn.execute(holding)]:
                conn.execute(text(f"TRUNCATE {', '.join(used)} RESTART IDENTITY CASCADE"))
            for schema, sequence in conn.execute(advanced).all():
                conn.execute(text(f'ALTER SEQUENCE "{schema}"."{sequence}" RESTART'))

    try:
        yield empty
    finally:
        engine.dispose()


@pytest.fixture
def db_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store: SQLite, then PostgreSQL unless the test is store-agnostic.

    ``db_backend`` ("sqlite" or "postgresql") is parametrized by ``pytest_generate_tests``.
    """
    if db_backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "reliant.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_store")
    empty: Callable[[], None] = request.getfixturevalue("empty_postgres")
    try:
        yield url
    finally:
        empty()


@pytest.fixture
def clock() -> VirtualClock:
    """The server's wall clock, starting at ``START``."""
    return VirtualClock(start=START)


@pytest.fixture
def settings(db_url: str, clock: VirtualClock, tmp_path: Path) -> Settings:
    """Settings of a test server: the test store, the virtual clock, no background thread."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        bootstrap_token=ADMIN,
        run_jobs=False,
        now=clock.now,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The control plane on the test store."""
    application = create_app(settings)
    try:
        yield application
    finally:
        application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTPS test client authenticated as the bootstrap admin."""
    with TestClient(
        app, base_url="https://testserver", headers={"Authorization": f"Bearer {ADMIN}"}
    ) as c:
        yield c


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """An HTTPS test client without credentials."""
    with TestClient(app, base_url="https://testserver") as c:
        yield c
