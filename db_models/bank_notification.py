"""Every verified message from a bank, applied or not, kept once per the bank's idempotency key."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc


class NoticeOutcome(StrEnum):
    """What became of a bank's notice; everything but applied is money to refund or reconcile."""

    APPLIED = "applied"
    ALREADY_PAID = "already_paid"  # a new message for a paid payment: possibly a second transfer
    PAYMENT_NOT_FOUND = "payment_not_found"
    VALUE_MISMATCH = "value_mismatch"
    PAYMENT_EXPIRED = "payment_expired"  # the money moved after the deadline: late, to refund
    INVALID = "invalid"  # verified, but not readable as a confirmation


class BankNotification(db.Model):
    """One bank notice: which payment it named, the amount, what happened, and the bytes the bank sent."""

    __tablename__ = "bank_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    # The bank's own message id (webhook-id today): a retry of a message is the same row.
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    payment_key: Mapped[str | None] = mapped_column(String(64))
    value_cents: Mapped[int | None] = mapped_column(BigInteger)
    # When the money moved, as the bank says (the API Pix `horario`); None when it does not say.
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(String(200))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
