"""oncall: schedules, overrides, escalation policies and pages

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""


def downgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""
