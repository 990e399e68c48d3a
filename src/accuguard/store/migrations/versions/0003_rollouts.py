"""Rollouts (the controller's state machine) and leases (one controller acts).

Revision ID: 0003_rollouts
Revises: 0002_audit_tokens
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_rollouts"
down_revision: str | Sequence[str] | None = "0002_audit_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``rollouts`` and ``leases``."""
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(), nullable=False),
        sa.Column("active_deployment", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("champion_alias", sa.String(), nullable=False),
        sa.Column("champion_version", sa.String(), nullable=False),
        sa.Column("challenger_version", sa.String(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("plan_hash", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_started_at", sa.Double(), nullable=False),
        sa.Column("paused_at", sa.Double(), nullable=True),
        sa.Column("paused_s", sa.Double(), nullable=False),
        sa.Column("weight_override", sa.Double(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("gate", sa.JSON(), nullable=True),
        sa.Column("last_decision", sa.String(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("pending", sa.JSON(), nullable=True),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("checked_at", sa.Double(), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollouts"),
        sa.UniqueConstraint("active_deployment", name="uq_rollouts_active_deployment"),
    )
    op.create_index("ix_rollouts_deployment_started_at", "rollouts", ["deployment", "started_at"])
    op.create_index("ix_rollouts_state", "rollouts", ["state"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    """Drop ``leases`` and ``rollouts``."""
    op.drop_table("leases")
    op.drop_table("rollouts")
