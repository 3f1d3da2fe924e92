"""Charges at the PSP: a payment's provider, and txids of up to 35 characters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add payments.provider (every earlier payment was static) and widen payments.txid to 35."""
    with op.batch_alter_table("payments") as table:
        table.add_column(sa.Column("provider", sa.String(length=16), nullable=False, server_default="static"))
        table.alter_column("txid", existing_type=sa.String(length=25), type_=sa.String(length=35))
    with op.batch_alter_table("payments") as table:
        table.alter_column("provider", server_default=None)


def downgrade() -> None:
    """Drop payments.provider and narrow payments.txid back to 25 (fails if an API Pix txid is stored)."""
    with op.batch_alter_table("payments") as table:
        table.alter_column("txid", existing_type=sa.String(length=35), type_=sa.String(length=25))
        table.drop_column("provider")
