"""incidents: incidents and their links, updates, tasks, notes, pins, rules and the cursor

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _index(table: str, name: str, columns: list[str]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(name, columns, unique=False)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=4), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("commander", sa.String(length=200), nullable=True),
        sa.Column("communications", sa.String(length=200), nullable=True),
        sa.Column("scribe", sa.String(length=200), nullable=True),
        sa.Column("merged_into", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(length=100), nullable=True),
        sa.Column("group_hash", sa.String(length=64), nullable=True),
        sa.Column("group_labels", JSON, nullable=False),
        sa.Column("subscribers", JSON, nullable=False),
        sa.Column("transitions", JSON, nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("acknowledged_at", sa.Double(), nullable=True),
        sa.Column("mitigated_at", sa.Double(), nullable=True),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.Column("closed_at", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_incidents_group", ["rule", "group_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_merged_into"), ["merged_into"], unique=False)
        batch_op.create_index("ix_incidents_state", ["state"], unique=False)
    op.create_table(
        "incident_services",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "service", name=op.f("pk_incident_services")),
    )
    _index("incident_services", op.f("ix_incident_services_service"), ["service"])
    op.create_table(
        "incident_slos",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("slo", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "slo", name=op.f("pk_incident_slos")),
    )
    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("alertname", sa.String(length=256), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("linked_at", sa.Double(), nullable=False),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("incident_id", "fingerprint", name=op.f("pk_incident_alerts")),
    )
    _index("incident_alerts", op.f("ix_incident_alerts_fingerprint"), ["fingerprint"])
    op.create_table(
        "incident_events",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "event_id", name=op.f("pk_incident_events")),
    )
    _index("incident_events", op.f("ix_incident_events_event_id"), ["event_id"])
    op.create_table(
        "incident_updates",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    _index("incident_updates", op.f("ix_incident_updates_incident_id"), ["incident_id"])
    op.create_table(
        "incident_tasks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due", sa.String(length=10), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_tasks")),
    )
    _index("incident_tasks", op.f("ix_incident_tasks_incident_id"), ["incident_id"])
    op.create_table(
        "incident_notes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_notes")),
    )
    _index("incident_notes", op.f("ix_incident_notes_incident_id"), ["incident_id"])
    op.create_table(
        "incident_pins",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("pinned_at", sa.Double(), nullable=False),
        sa.Column("pinned_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "key", name=op.f("pk_incident_pins")),
    )
    op.create_table(
        "incident_rules",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("managed_by", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_incident_rules")),
    )
    op.create_table(
        "incident_cursor",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("gap", sa.BigInteger(), nullable=True),
        sa.Column("gap_since", sa.Double(), nullable=False),
        sa.Column("given_up", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_incident_cursor")),
    )


def downgrade() -> None:
    for table in (
        "incident_cursor",
        "incident_rules",
        "incident_pins",
        "incident_notes",
        "incident_tasks",
        "incident_updates",
        "incident_events",
        "incident_alerts",
        "incident_slos",
        "incident_services",
        "incidents",
    ):
        op.drop_table(table)
