"""The outbox: every event the shop is told, written in the transaction of the change it reports."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc


class OutboxEvent(db.Model):
    """One event: its id (the webhook-id receivers deduplicate on), type, payment, order and full payload."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    # Order of the payment's events: deliveries to an endpoint follow it.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, index=True)
    # When the operators (and, for paid or expired, the waiting pages) were told; None until a process claims it.
    live_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
