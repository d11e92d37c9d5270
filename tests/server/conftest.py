"""Fixtures for the control-plane tests: every test runs on SQLite and on PostgreSQL.

``db_url`` is a migrated, empty store: on SQLite a copy of a template file migrated once, on
PostgreSQL one database migrated once and emptied after each test. ``app`` and ``client``
build the server on it with a virtual clock and a known admin token.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
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


def _empty(url: str) -> None:
    load_models()
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store on SQLite and then on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "reliant.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_store")
    try:
        yield url
    finally:
        _empty(url)


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
