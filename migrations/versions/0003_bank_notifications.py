"""Keep every verified bank notice, applied or not, instead of refused confirmations only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create bank_notifications, carry the refused confirmations over, drop their old table."""
    op.create_table(
        "bank_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("payment_key", sa.String(length=64), nullable=True),
        sa.Column("value_cents", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_bank_notifications_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_notifications")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_bank_notifications_idempotency_key")),
    )
    op.create_index(op.f("ix_bank_notifications_payment_id"), "bank_notifications", ["payment_id"])
    op.execute(
        "INSERT INTO bank_notifications"
        " (source, idempotency_key, payment_id, payment_key, value_cents, outcome, received_at)"
        " SELECT 'signed_json', r.webhook_id, p.id, r.bank_payment_id, r.value_cents, r.reason, r.received_at"
        " FROM refused_confirmations r LEFT JOIN payments p ON p.bank_payment_id = r.bank_payment_id"
        " ORDER BY r.id"
    )
    op.drop_table("refused_confirmations")


def downgrade() -> None:
    """Bring back refused_confirmations with the refusals of today's format; other notices are dropped."""
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
    op.execute(
        "INSERT INTO refused_confirmations (webhook_id, bank_payment_id, value_cents, reason, received_at)"
        " SELECT idempotency_key, payment_key, value_cents, outcome, received_at FROM bank_notifications"
        " WHERE source = 'signed_json' AND outcome IN ('payment_not_found', 'value_mismatch', 'payment_expired')"
        " AND payment_key IS NOT NULL AND value_cents IS NOT NULL ORDER BY id"
    )
    op.drop_index(op.f("ix_bank_notifications_payment_id"), table_name="bank_notifications")
    op.drop_table("bank_notifications")
