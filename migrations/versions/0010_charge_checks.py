"""Record when reconciliation last asked the PSP about each charge, so every one is asked in turn.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add payments.charge_checked_at."""
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("charge_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop payments.charge_checked_at."""
    with op.batch_alter_table("payments") as table:
        table.drop_column("charge_checked_at")
