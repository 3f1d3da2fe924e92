"""An Idempotency-Key the shop sent with a creation, and the answer it got, kept so a retry gets the same."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc


class IdempotencyKey(db.Model):
    """One key: the request it was first used with (its fingerprint) and, once done, the answer."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while the first request runs
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, index=True)
