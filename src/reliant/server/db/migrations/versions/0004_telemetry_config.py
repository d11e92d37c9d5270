"""telemetry and config: rollups, SDK instances, config versions, overrides, policies

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "telemetry_rollups",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Double(), nullable=False),
        sa.Column("histogram", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "service", "operation", "outcome", "bucket_start", name=op.f("pk_telemetry_rollups")
        ),
    )
    with op.batch_alter_table("telemetry_rollups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telemetry_rollups_bucket_start"), ["bucket_start"], unique=False
        )
        batch_op.create_index(
            "ix_telemetry_rollups_service_bucket", ["service", "bucket_start"], unique=False
        )

    op.create_table(
        "telemetry_instances",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("instance", sa.String(length=200), nullable=False),
        sa.Column("sdk", sa.String(length=50), nullable=False),
        sa.Column("first_seen", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.Column("dropped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("service", "instance", name=op.f("pk_telemetry_instances")),
    )
    with op.batch_alter_table("telemetry_instances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_telemetry_instances_last_seen"), ["last_seen"], unique=False
        )

    op.create_table(
        "config_versions",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_config_versions")),
    )
    op.create_table(
        "config_overrides",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("service", "kind", "name", name=op.f("pk_config_overrides")),
    )
    op.create_table(
        "policies",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_policies")),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policies_service"), ["service"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policies_service"))
    op.drop_table("policies")
    op.drop_table("config_overrides")
    op.drop_table("config_versions")
    with op.batch_alter_table("telemetry_instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telemetry_instances_last_seen"))
    op.drop_table("telemetry_instances")
    with op.batch_alter_table("telemetry_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_telemetry_rollups_service_bucket")
        batch_op.drop_index(batch_op.f("ix_telemetry_rollups_bucket_start"))
    op.drop_table("telemetry_rollups")
