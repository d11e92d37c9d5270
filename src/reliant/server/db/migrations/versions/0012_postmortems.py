"""postmortems: postmortems and their services, error-budget policies, the require cursor

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "postmortems",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("required_reason", sa.Text(), nullable=False),
        sa.Column("due", sa.String(length=10), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("impact", sa.Text(), nullable=False),
        sa.Column("root_causes", JSON, nullable=False),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("detection", sa.Text(), nullable=False),
        sa.Column("went_well", JSON, nullable=False),
        sa.Column("went_wrong", JSON, nullable=False),
        sa.Column("got_lucky", JSON, nullable=False),
        sa.Column("timeline", JSON, nullable=False),
        sa.Column("action_items", JSON, nullable=False),
        sa.Column("supporting_information", sa.Text(), nullable=False),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortems_incident_id")),
    )
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.create_index("ix_postmortems_state", ["state"], unique=False)
    op.create_table(
        "postmortem_services",
        sa.Column("postmortem_id", sa.BigInteger(), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("postmortem_id", "service", name=op.f("pk_postmortem_services")),
    )
    with op.batch_alter_table("postmortem_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_postmortem_services_service"), ["service"], unique=False
        )
    op.create_table(
        "error_budget_policies",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_error_budget_policies")),
    )
    op.create_table(
        "postmortem_cursor",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("gap", sa.BigInteger(), nullable=True),
        sa.Column("gap_since", sa.Double(), nullable=False),
        sa.Column("given_up", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_postmortem_cursor")),
    )


def downgrade() -> None:
    op.drop_table("postmortem_cursor")
    op.drop_table("error_budget_policies")
    with op.batch_alter_table("postmortem_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortem_services_service"))
    op.drop_table("postmortem_services")
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_index("ix_postmortems_state")
    op.drop_table("postmortems")
