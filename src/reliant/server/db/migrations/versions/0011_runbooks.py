"""runbooks: runbooks, their runs and steps, and the trigger job's cursor

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "runbooks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("managed_by", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_runbooks")),
    )
    with op.batch_alter_table("runbooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runbooks_service"), ["service"], unique=False)
    op.create_table(
        "runbook_runs",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("runbook", sa.String(length=100), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("secrets", JSON, nullable=False),
        sa.Column("incident", sa.BigInteger(), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("trigger", JSON, nullable=True),
        sa.Column("approve_destructive", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_runs")),
    )
    with op.batch_alter_table("runbook_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runbook_runs_incident"), ["incident"], unique=False)
        batch_op.create_index("ix_runbook_runs_runbook_id", ["runbook", "id"], unique=False)
        batch_op.create_index("ix_runbook_runs_state", ["state"], unique=False)
    op.create_table(
        "runbook_steps",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("waiting_for", sa.String(length=16), nullable=True),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.Double(), nullable=True),
        sa.Column("next_at", sa.Double(), nullable=True),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runbook_runs.id"],
            name=op.f("fk_runbook_steps_run_id_runbook_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runbook_steps")),
    )
    with op.batch_alter_table("runbook_steps", schema=None) as batch_op:
        batch_op.create_index("ix_runbook_steps_run_position", ["run_id", "position"], unique=True)
    op.create_table(
        "runbook_cursor",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.Column("gap", sa.BigInteger(), nullable=True),
        sa.Column("gap_since", sa.Double(), nullable=False),
        sa.Column("given_up", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_runbook_cursor")),
    )


def downgrade() -> None:
    op.drop_table("runbook_cursor")
    with op.batch_alter_table("runbook_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_runbook_steps_run_position")
    op.drop_table("runbook_steps")
    with op.batch_alter_table("runbook_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runbook_runs_state")
        batch_op.drop_index("ix_runbook_runs_runbook_id")
        batch_op.drop_index(batch_op.f("ix_runbook_runs_incident"))
    op.drop_table("runbook_runs")
    with op.batch_alter_table("runbooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runbooks_service"))
    op.drop_table("runbooks")
