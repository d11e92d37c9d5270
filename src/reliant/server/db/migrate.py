"""Alembic migrations, applied at start: ``upgrade(engine)`` brings any store to the head.

Several replicas may start at once: on PostgreSQL an advisory lock serialises them, on
SQLite the write lock taken at ``BEGIN IMMEDIATE`` does.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

#: Modules defining tables; importing them registers their tables on ``Base.metadata``.
MODEL_MODULES = (
    "reliant.server.auth.models",
    "reliant.server.events.models",
    "reliant.server.jobs",
    "reliant.server.domains.catalog.models",
    "reliant.server.domains.telemetry.models",
    "reliant.server.domains.config.models",
    "reliant.server.domains.alerts.models",
    "reliant.server.domains.slo.models",
    "reliant.server.domains.notify.models",
    "reliant.server.domains.incidents.models",
    "reliant.server.domains.oncall.models",
    "reliant.server.domains.runbooks.models",
    "reliant.server.domains.postmortems.models",
)
#: Key of the PostgreSQL advisory lock held while migrating ("rlnt").
MIGRATION_LOCK = 0x726C6E74
MIGRATIONS = Path(__file__).with_name("migrations")


def load_models() -> None:
    """Import every module that defines tables, so the metadata is complete."""
    for name in MODEL_MODULES:
        importlib.import_module(name)


def alembic_config() -> Config:
    """An Alembic configuration pointing at reliant's migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    """The newest revision shipped with this version of reliant."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    """The revision the store is at (``None`` for an empty store)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` to the store behind ``engine``."""
    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
