"""A devolução: money the shop sends back to a payer, through the PSP, for a Pix it received."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc


class RefundStatus(StrEnum):
    """Where a refund stands: the API Pix's three states, plus before and instead of the PSP's answer."""

    REQUESTED = "REQUESTED"  # stored, the PSP not yet told (or its answer lost): safe to ask again
    IN_PROGRESS = "EM_PROCESSAMENTO"
    REFUNDED = "DEVOLVIDO"
    NOT_DONE = "NAO_REALIZADO"
    REFUSED = "RECUSADO"  # the PSP refused the request itself


FINAL = {RefundStatus.REFUNDED, RefundStatus.NOT_DONE, RefundStatus.REFUSED}
FAILED = {RefundStatus.NOT_DONE, RefundStatus.REFUSED}  # these send nothing back: the Pix is still to refund


class Refund(db.Model):
    """One refund of (part of) one received Pix, identified at the PSP by our refund_id."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_id: Mapped[str] = mapped_column(String(35), unique=True)
    end_to_end_id: Mapped[str] = mapped_column(String(32), index=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("bank_notifications.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    value_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(24), default=RefundStatus.REQUESTED)
    description: Mapped[str | None] = mapped_column(String(140))
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)
