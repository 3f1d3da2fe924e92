"""Create the payments table.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Payments with integer cents, UTC deadlines and unique identifiers."""
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bank_payment_id", sa.String(length=36), nullable=False),
        sa.Column("txid", sa.String(length=25), nullable=False),
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("pix_copy_paste", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expiration_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'paid')", name=op.f("ck_payments_status_known")),
        sa.CheckConstraint("value_cents > 0", name=op.f("ck_payments_value_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("bank_payment_id", name=op.f("uq_payments_bank_payment_id")),
        sa.UniqueConstraint("token", name=op.f("uq_payments_token")),
        sa.UniqueConstraint("txid", name=op.f("uq_payments_txid")),
    )


def downgrade() -> None:
    """Drop the payments table."""
    op.drop_table("payments")
