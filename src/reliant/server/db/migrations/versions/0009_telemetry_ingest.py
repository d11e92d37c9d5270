"""telemetry: rollup storage for fast batched ingest

One row per (service, operation, bucket) instead of one per outcome, every outcome's count,
sum and histogram in columns of their own (NULL while that outcome has no points) instead
of a JSON histogram: an ingest upsert adds plain numbers to a quarter as many rows. On
PostgreSQL pages are half filled, so that merges are HOT updates (no index writes).
Existing rollups are carried over, summed exactly as they were stored.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: The protocol's outcomes and histogram size when this revision was written (frozen here:
#: a later change to them needs a migration of its own).
OUTCOMES = ("success", "failure", "rejected", "timeout")
HISTOGRAM_SIZE = 14
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TABLE = "telemetry_rollups"
#: Per cent of each page filled on insert: the rest takes merged row versions in place (HOT).
FILLFACTOR = 50
#: Where the table being replaced waits while its rows are copied.
PREVIOUS = "telemetry_rollups_previous"


def _group(outcome: str) -> list[str]:
    counts = [f"{outcome}_h{i}" for i in range(HISTOGRAM_SIZE)]
    return [f"{outcome}_count", f"{outcome}_sum", *counts]


def _set_aside(indexes: list[str]) -> None:
    """Rename the current table out of the way, freeing its index and key names."""
    for index in indexes:
        op.drop_index(index, table_name=TABLE)
    op.rename_table(TABLE, PREVIOUS)
    if op.get_bind().dialect.name == "postgresql":
        # A PostgreSQL key is an index named in the schema; SQLite's is the table's own.
        op.execute(f"ALTER INDEX pk_{TABLE} RENAME TO pk_{PREVIOUS}")


def _indexes() -> None:
    op.create_index(f"ix_{TABLE}_bucket_start", TABLE, ["bucket_start"], unique=False)
    op.create_index(f"ix_{TABLE}_service_bucket", TABLE, ["service", "bucket_start"], unique=False)


def upgrade() -> None:
    _set_aside([f"ix_{TABLE}_bucket_start", f"ix_{TABLE}_service_bucket"])
    values = [name for outcome in OUTCOMES for name in _group(outcome)]
    op.create_table(
        TABLE,
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        *(
            sa.Column(name, sa.Double() if name.endswith("_sum") else sa.BigInteger())
            for name in values
        ),
        sa.PrimaryKeyConstraint("service", "operation", "bucket_start", name=op.f(f"pk_{TABLE}")),
        postgresql_with={"fillfactor": FILLFACTOR},
    )
    _indexes()
    postgres = op.get_bind().dialect.name == "postgresql"
    selected = []
    for outcome in OUTCOMES:
        elements = [
            f"(histogram ->> {i})::bigint" if postgres else f"json_extract(histogram, '$[{i}]')"
            for i in range(HISTOGRAM_SIZE)
        ]
        # One stored row per outcome at most (the old key): max() picks it, or NULL.
        selected += [
            f"max(CASE WHEN outcome = '{outcome}' THEN {value} END)"
            for value in ("count", "sum", *elements)
        ]
    op.execute(
        f"INSERT INTO {TABLE} (service, operation, bucket_start, {', '.join(values)})"
        f" SELECT service, operation, bucket_start, {', '.join(selected)} FROM {PREVIOUS}"
        " GROUP BY service, operation, bucket_start"
    )
    op.drop_table(PREVIOUS)


def downgrade() -> None:
    _set_aside([f"ix_{TABLE}_bucket_start", f"ix_{TABLE}_service_bucket"])
    op.create_table(
        TABLE,
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Double(), nullable=False),
        sa.Column("histogram", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "service", "operation", "outcome", "bucket_start", name=op.f(f"pk_{TABLE}")
        ),
    )
    _indexes()
    array = "jsonb_build_array" if op.get_bind().dialect.name == "postgresql" else "json_array"
    for outcome in OUTCOMES:
        count, total, *counts = _group(outcome)
        op.execute(
            f"INSERT INTO {TABLE} (service, operation, outcome, bucket_start, count, sum,"
            f" histogram) SELECT service, operation, '{outcome}', bucket_start, {count},"
            f" {total}, {array}({', '.join(counts)}) FROM {PREVIOUS} WHERE {count} IS NOT NULL"
        )
    op.drop_table(PREVIOUS)
