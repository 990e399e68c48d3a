"""Event log at volume: ``created_at`` indexes for retention (docs/event-log.md).

``accuguard events prune`` deletes the oldest rows in bounded batches
(``... WHERE created_at < :cutoff ORDER BY created_at LIMIT :batch``); these indexes
make each batch a short index range scan instead of a table scan. ``feedback`` has
had its ``created_at`` index since 0001. The controller's windows are served by the
existing ``(deployment, created_at)`` and ``(deployment, variant, created_at)``
indexes (EXPLAIN in docs/event-log.md, "Indexes and plans").

Revision ID: 0005_event_log_volume
Revises: 0004_rollups
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_event_log_volume"
down_revision: str | Sequence[str] | None = "0004_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index ``predictions.created_at`` and ``business_events.created_at``."""
    op.create_index("ix_predictions_created_at", "predictions", ["created_at"])
    op.create_index("ix_business_events_created_at", "business_events", ["created_at"])


def downgrade() -> None:
    """Drop the two indexes."""
    op.drop_index("ix_business_events_created_at", table_name="business_events")
    op.drop_index("ix_predictions_created_at", table_name="predictions")
