"""Keep signed confirmations that could not be applied.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Confirmations for unknown, expired or differently priced payments, once per webhook-id."""
    op.create_table(
        "refused_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.String(length=255), nullable=False),
        sa.Column("bank_payment_id", sa.String(length=64), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refused_confirmations")),
        sa.UniqueConstraint("webhook_id", name=op.f("uq_refused_confirmations_webhook_id")),
    )


def downgrade() -> None:
    """Drop the refused confirmations."""
    op.drop_table("refused_confirmations")
