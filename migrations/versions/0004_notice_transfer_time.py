"""Record when the money moved, as the bank says, on each notice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add bank_notifications.transferred_at (the API Pix `horario`)."""
    with op.batch_alter_table("bank_notifications") as table:
        table.add_column(sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop bank_notifications.transferred_at."""
    with op.batch_alter_table("bank_notifications") as table:
        table.drop_column("transferred_at")
