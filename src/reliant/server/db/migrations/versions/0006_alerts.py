"""alerts: alert instances, silences, the routing document, groups and the notification log

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("alertname", sa.String(length=256), nullable=False),
        sa.Column("service", sa.String(length=256), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("annotations", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("for_seconds", sa.Double(), nullable=False),
        sa.Column("active_since", sa.Double(), nullable=False),
        sa.Column("fired_at", sa.Double(), nullable=True),
        sa.Column("ends_at", sa.Double(), nullable=True),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("generator_url", sa.String(length=2000), nullable=False),
        sa.Column("silenced_by", JSON, nullable=False),
        sa.Column("inhibited_by", JSON, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_state", ["state"], unique=False)
        batch_op.create_index("ix_alerts_order", ["active_since", "fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_service"), ["service"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_resolved_at"), ["resolved_at"], unique=False)

    op.create_table(
        "alert_silences",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matchers", JSON, nullable=False),
        sa.Column("starts_at", sa.Double(), nullable=False),
        sa.Column("ends_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_silences")),
    )
    with op.batch_alter_table("alert_silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_silences_ends_at"), ["ends_at"], unique=False)

    op.create_table(
        "alerting_config",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerting_config")),
    )

    op.create_table(
        "alert_groups",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("route_id", sa.Text(), nullable=False),
        sa.Column("receiver", sa.String(length=100), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("group_labels", JSON, nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("next_flush_at", sa.Double(), nullable=False),
        sa.Column("flushed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_groups")),
    )
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_groups_next_flush_at"), ["next_flush_at"], unique=False
        )

    op.create_table(
        "alert_group_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "fingerprint", name=op.f("pk_alert_group_members")),
    )

    op.create_table(
        "alert_notification_log",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("receiver", sa.String(length=100), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("firing", JSON, nullable=False),
        sa.Column("resolved", JSON, nullable=False),
        sa.Column("notified_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_notification_log")),
    )
    with op.batch_alter_table("alert_notification_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_notification_log_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_notification_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_notification_log_expires_at"))
    op.drop_table("alert_notification_log")
    op.drop_table("alert_group_members")
    with op.batch_alter_table("alert_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_groups_next_flush_at"))
    op.drop_table("alert_groups")
    op.drop_table("alerting_config")
    with op.batch_alter_table("alert_silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_silences_ends_at"))
    op.drop_table("alert_silences")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_resolved_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_service"))
        batch_op.drop_index("ix_alerts_order")
        batch_op.drop_index("ix_alerts_state")
    op.drop_table("alerts")
