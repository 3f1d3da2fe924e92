"""Signed confirmations that could not be applied, kept so the shop can reconcile or refund."""

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc


class RefusedConfirmation(db.Model):
    """A bank said money arrived, but for an unknown, expired or differently priced payment."""

    __tablename__ = "refused_confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(255), unique=True)
    bank_payment_id: Mapped[str] = mapped_column(String(64))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
