"""Hourly rollups of the event log for the dashboard (store/rollups.py, docs/dashboard.md).

Revision ID: 0004_rollups
Revises: 0003_rollouts
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rollups"
down_revision: str | Sequence[str] | None = "0003_rollouts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _texts(*names: str) -> list[sa.Column[str]]:
    return [sa.Column(n, sa.String(), nullable=False) for n in names]


def _id() -> sa.Column[int]:
    """A 64-bit surrogate key (the rowid on SQLite): texts of any length stay out of keys."""
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def upgrade() -> None:
    """Create the rollup tables (empty: the first refresh fills them)."""
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("watermark", sa.Double(), nullable=True),
        sa.Column("refreshed_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_rollup_state"),
    )
    op.create_table(
        "rollup_traffic",
        sa.Column("deployment", sa.String(), nullable=False),
        sa.Column("hour", sa.Double(), nullable=False),
        sa.Column("variant", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("served", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("latency_ms_sum", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "hour", "variant", name="pk_rollup_traffic"),
    )
    for table, other in (("rollup_labels", "label"), ("rollup_shadow", "champion_output")):
        op.create_table(
            table,
            _id(),
            sa.Column("deployment", sa.String(), nullable=False),
            sa.Column("hour", sa.Double(), nullable=False),
            sa.Column("variant", sa.String(), nullable=False),
            sa.Column("output", sa.Text(), nullable=False),
            sa.Column(other, sa.Text(), nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_deployment_hour", table, ["deployment", "hour"])
    op.create_table(
        "rollup_feature_bins",
        *_texts("deployment", "feature", "kind"),
        sa.Column("edges", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "feature", name="pk_rollup_feature_bins"),
    )
    op.create_table(
        "rollup_features",
        _id(),
        *_texts("deployment", "feature"),
        sa.Column("hour", sa.Double(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollup_features"),
    )
    op.create_index(
        "ix_rollup_features_deployment_feature_hour",
        "rollup_features",
        ["deployment", "feature", "hour"],
    )
    op.create_table(
        "rollup_exposure",
        *_texts("deployment", "unit_hash", "variant_min", "variant_max"),
        sa.Column("first_seen", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "unit_hash", name="pk_rollup_exposure"),
    )
    op.create_index(
        "ix_rollup_exposure_range",
        "rollup_exposure",
        ["deployment", "last_seen", "first_seen", "variant_min", "variant_max", "unit_hash"],
    )


def downgrade() -> None:
    """Drop the rollup tables (the event log itself is untouched)."""
    for table in (
        "rollup_exposure",
        "rollup_features",
        "rollup_feature_bins",
        "rollup_shadow",
        "rollup_labels",
        "rollup_traffic",
        "rollup_state",
    ):
        op.drop_table(table)
