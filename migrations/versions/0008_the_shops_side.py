"""The shop's side of a payment (order_id, description, metadata, return_url) and its Idempotency-Keys.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the shop's columns to payments, and create idempotency_keys."""
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("order_id", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("description", sa.String(length=140), nullable=True))
        table.add_column(sa.Column("metadata", sa.JSON(), nullable=True))
        table.add_column(sa.Column("return_url", sa.String(length=2048), nullable=True))
        table.create_index(op.f("ix_payments_order_id"), ["order_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_idempotency_keys_payment_id_payments")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"])


def downgrade() -> None:
    """Drop idempotency_keys and the shop's columns."""
    op.drop_index(op.f("ix_idempotency_keys_created_at"), table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("payments") as table:
        table.drop_index(op.f("ix_payments_order_id"))
        table.drop_column("return_url")
        table.drop_column("metadata")
        table.drop_column("description")
        table.drop_column("order_id")
