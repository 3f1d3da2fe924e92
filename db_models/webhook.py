"""The shop's webhook endpoints, one delivery of each event to each, and every attempt at it."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db, now_utc


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # due at next_attempt_at
    HELD = "held"  # its endpoint is disabled: kept, sent in order when it is enabled again
    DELIVERED = "delivered"
    DEAD = "dead"  # every retry failed: a dead letter, until redelivered


class WebhookEndpoint(db.Model):
    """Where the shop wants events: URL, which types, extra headers, auth towards it, secrets and retry policy."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JSON)  # patterns: "payment.paid", "payment.*", "*"
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    auth: Mapped[dict[str, str] | None] = mapped_column(JSON)  # {"type": "bearer"|"basic", ...}
    # [{"secret": "whsec_...", "expires_at": iso or null}]: every unexpired one signs.
    secrets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    retry_schedule: Mapped[list[int]] = mapped_column(JSON)  # seconds before each retry
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)


class WebhookDelivery(db.Model):
    """One event for one endpoint; per (endpoint, payment) they go in sequence order, one at a time."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id"),
        # Claiming walks the due ones in time order; each checks for an unfinished earlier one of its payment.
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "payment_id", "sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    payment_id: Mapped[int | None] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class WebhookAttempt(db.Model):
    """One try at a delivery: by whom, when, how it ended, how long it took, and the first bytes of the answer."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    worker: Mapped[str | None] = mapped_column(String(64))  # host:pid of the process that made it
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    response_excerpt: Mapped[str | None] = mapped_column(Text)
