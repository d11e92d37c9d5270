"""Migrations: they build exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from reliant.server.db import make_engine, upgrade
from reliant.server.db.base import Base
from reliant.server.db.migrate import current, head, load_models


def test_migrations_match_the_models(db_url: str) -> None:
    """A store migrated to head has no difference from the models' metadata."""
    load_models()
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert [] == diff


def test_upgrade_is_idempotent(db_url: str) -> None:
    """Upgrading a store already at head changes nothing and leaves it at head."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        assert head() == current(engine)
    finally:
        engine.dispose()


def test_empty_store_is_migrated_from_scratch(tmp_path: object) -> None:
    """A new SQLite file is created, with its directory, and brought to head."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "deep" / "dir" / "reliant.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert current(engine) is None
        upgrade(engine)
        assert head() == current(engine)
    finally:
        engine.dispose()
