"""telemetry: rollup storage for fast batched ingest

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""


def downgrade() -> None:
    """Placeholder: filled in by the change that adds these tables."""
