"""The event log: predictions, feedback, business events, erasures.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the four tables and the indexes a controller reads windows through."""
    op.create_table(
        "predictions",
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("variant", sa.String(), nullable=False),
        sa.Column("deployment", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("unit_hash", sa.String(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", "variant", name="pk_predictions"),
    )
    op.create_index(
        "ix_predictions_deployment_created_at", "predictions", ["deployment", "created_at"]
    )
    op.create_index(
        "ix_predictions_deployment_variant_created_at",
        "predictions",
        ["deployment", "variant", "created_at"],
    )
    op.create_index("ix_predictions_unit_hash", "predictions", ["unit_hash"])

    op.create_table(
        "feedback",
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_feedback"),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])

    op.create_table(
        "business_events",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("deployment", sa.String(), nullable=True),
        sa.Column("unit_hash", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_business_events"),
    )
    op.create_index(
        "ix_business_events_deployment_created_at",
        "business_events",
        ["deployment", "created_at"],
    )
    op.create_index("ix_business_events_unit_hash", "business_events", ["unit_hash"])

    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_hash", sa.String(), nullable=False),
        sa.Column("predictions", sa.Integer(), nullable=False),
        sa.Column("feedback", sa.Integer(), nullable=False),
        sa.Column("business_events", sa.Integer(), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_erasures"),
    )
    op.create_index("ix_erasures_unit_hash", "erasures", ["unit_hash"])


def downgrade() -> None:
    """Drop the event log (all its data)."""
    for table in ("erasures", "business_events", "feedback", "predictions"):
        op.drop_table(table)
