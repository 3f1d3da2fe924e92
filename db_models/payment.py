"""The PIX payment a buyer is asked to pay."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc
from pix.money import from_cents

QR_CODE_PREFIX = "qr_code_payment_"


class PaymentStatus(StrEnum):
    """Where a payment stands; expired is derived from the clock, never stored."""

    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


class Payment(db.Model):
    """One PIX charge: its amount, BR Code, secret page token and lifecycle."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("value_cents > 0", name="value_positive"),
        CheckConstraint("status IN ('pending', 'paid')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Integer cents are exact on every database; SQLite has no exact decimal type.
    value_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING)
    # Where the charge lives: "static" (a BR Code built here) or "api-pix" (a cob at the PSP).
    provider: Mapped[str] = mapped_column(String(16), default="static")
    bank_payment_id: Mapped[str] = mapped_column(String(36), unique=True)
    txid: Mapped[str] = mapped_column(String(35), unique=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)
    pix_copy_paste: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    expiration_date: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The shop's side: its reference (searchable), what the buyer is told, its own data, where the buyer returns.
    order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(String(140))
    shop_metadata: Mapped[dict[str, str] | None] = mapped_column("metadata", JSON, key="shop_metadata")
    return_url: Mapped[str | None] = mapped_column(String(2048))
    # How many events this payment has had: each new one takes the next number, under the row's lock.
    event_sequence: Mapped[int] = mapped_column(Integer, default=0)
    # When payment.expired was recorded: once, by whichever process saw the deadline pass first.
    expiry_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the PSP last said no Pix can come for this charge (GET /cob): its expiry is announced after that.
    charge_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def value(self) -> Decimal:
        """The amount in reais, exact, with two decimal places."""
        return from_cents(self.value_cents)

    @property
    def paid(self) -> bool:
        """Whether the bank confirmed this payment."""
        return self.status == PaymentStatus.PAID

    def current_status(self, now: datetime | None = None) -> PaymentStatus:
        """Paid, pending, or expired once the deadline passed unpaid."""
        if self.paid:
            return PaymentStatus.PAID
        if (now or now_utc()) >= self.expiration_date:
            return PaymentStatus.EXPIRED
        return PaymentStatus.PENDING

    def seconds_left(self, now: datetime | None = None) -> int:
        """Whole seconds until the deadline, never negative: drives the page's countdown."""
        return max(0, int((self.expiration_date - (now or now_utc())).total_seconds()))

    @property
    def qr_code(self) -> str:
        """The name under which the QR code PNG is served."""
        return f"{QR_CODE_PREFIX}{self.token}"
