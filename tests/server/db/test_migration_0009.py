"""Migration 0009: rollups move from one JSON-histogram row per outcome to one row per
operation and bucket with columns per outcome, and back, without changing a single count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from postgres_engine import PostgresServer
from sqlalchemy import Engine, text

from reliant.server.db import make_engine, upgrade
from reliant.server.db.migrate import alembic_config

#: Rows of the old table: service, operation, outcome, bucket, count, sum, histogram.
OLD_ROWS = [
    ("payments", "charge", "success", 1800000000, 42, 1.234, [0, 3, 10, 20, 9] + [0] * 9),
    ("payments", "charge", "timeout", 1800000000, 2, 20.5, [0] * 12 + [1, 1]),
    ("payments", "charge", "success", 1800000010, 7, 0.125, [7] + [0] * 13),
    ("payments", "refund", "failure", 1800000000, 0, 0.0, [0] * 14),
    ("search", "query", "rejected", 1800000000, 3, 0.003, [3] + [0] * 13),
]
OUTCOMES = ("success", "failure", "rejected", "timeout")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty store of its own (the migration goes down and up again)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'reliant.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database(f"migration_0009_{tmp_path.name[-12:].lower()}")
    made = make_engine(url)
    try:
        yield made
    finally:
        made.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _old_rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT service, operation, outcome, bucket_start, count, sum, histogram"
                " FROM telemetry_rollups ORDER BY service, operation, bucket_start, outcome"
            )
        )
        return [(*r[:6], r[6] if isinstance(r[6], list) else json.loads(r[6])) for r in rows]


def _new_rows(engine: Engine) -> dict[tuple[str, str, int], dict[str, list[object] | None]]:
    """Each row's groups: outcome → [count, sum, *histogram], or None when absent."""
    out: dict[tuple[str, str, int], dict[str, list[object] | None]] = {}
    with engine.connect() as conn:
        for row in conn.execute(text("SELECT * FROM telemetry_rollups")).mappings():
            groups: dict[str, list[object] | None] = {}
            for o in OUTCOMES:
                values = [row[f"{o}_count"], row[f"{o}_sum"]]
                values += [row[f"{o}_h{i}"] for i in range(14)]
                groups[o] = None if row[f"{o}_count"] is None else values
                assert groups[o] is not None or values == [None] * 16
            out[(row["service"], row["operation"], row["bucket_start"])] = groups
    return out


def test_rollups_are_carried_over_and_back(engine: Engine) -> None:
    """Upgrading pivots every stored row into its outcome's columns (other outcomes NULL);
    downgrading gives back exactly the rows there were."""
    upgrade(engine, "0008")
    with engine.begin() as conn:
        for service, operation, outcome, bucket, count, total, histogram in OLD_ROWS:
            conn.execute(
                text(
                    "INSERT INTO telemetry_rollups (service, operation, outcome, bucket_start,"
                    " count, sum, histogram) VALUES (:s, :o, :r, :b, :c, :t, :h)"
                ),
                {
                    "s": service,
                    "o": operation,
                    "r": outcome,
                    "b": bucket,
                    "c": count,
                    "t": total,
                    "h": json.dumps(histogram),
                },
            )
    upgrade(engine, "0009")
    expected: dict[tuple[str, str, int], dict[str, list[object] | None]] = {}
    for service, operation, outcome, bucket, count, total, histogram in OLD_ROWS:
        groups = expected.setdefault((service, operation, bucket), dict.fromkeys(OUTCOMES))
        groups[outcome] = [count, total, *histogram]
    assert expected == _new_rows(engine)
    _downgrade(engine, "0008")
    assert sorted(OLD_ROWS, key=lambda r: (r[0], r[1], r[3], r[2])) == _old_rows(engine)
    upgrade(engine)
