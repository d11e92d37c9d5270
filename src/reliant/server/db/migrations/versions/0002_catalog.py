"""catalog: services and their declared dependencies

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("links", JSON, nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_owner"), ["owner"], unique=False)

    op.create_table(
        "service_dependencies",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("depends_on", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service"],
            ["services.name"],
            name=op.f("fk_service_dependencies_service_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service", "depends_on", name=op.f("pk_service_dependencies")),
    )
    with op.batch_alter_table("service_dependencies", schema=None) as batch_op:
        batch_op.create_index("ix_service_dependencies_depends_on", ["depends_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("service_dependencies", schema=None) as batch_op:
        batch_op.drop_index("ix_service_dependencies_depends_on")
    op.drop_table("service_dependencies")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_owner"))
    op.drop_table("services")
