"""The outbox: record an event in the open transaction, with a delivery to every endpoint that wants it.

An event commits with the change it reports, or not at all: nothing is sent for a change that rolled back, and
nothing committed goes unsent. The waiting pages and the shop's endpoints are both told from these rows.
"""

import fnmatch
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from db_models import DeliveryStatus, OutboxEvent, Payment, WebhookDelivery, WebhookEndpoint, db
from db_models.base import now_utc
from live_status import iso_utc
from payloads import links_context, payment_json

# Every event the shop can be sent; endpoints filter them with "*", "payment.*" or these names.
EVENT_TYPES = ("payment.created", "payment.paid", "payment.expired", "payment.refused", "payment.refunded")
_payments, _events = Payment.__table__, OutboxEvent.__table__
_endpoints, _deliveries = WebhookEndpoint.__table__, WebhookDelivery.__table__
_NEXT_SEQUENCE = (
    _payments.update()
    .where(_payments.c.id == bindparam("payment"))
    .values(event_sequence=_payments.c.event_sequence + 1)
    .returning(_payments.c.event_sequence)
)
_INSERT_EVENT, _INSERT_DELIVERIES = _events.insert(), _deliveries.insert()
# FOR SHARE (PostgreSQL; SQLite writes one at a time anyway): enabling or disabling an endpoint waits for the
# events being recorded, so none is left held for an endpoint that was enabled meanwhile.
_ENDPOINTS = select(_endpoints.c.id, _endpoints.c.enabled, _endpoints.c.event_types).with_for_update(read=True)


def wants(patterns: list[str], event_type: str) -> bool:
    """Whether one of an endpoint's patterns ("payment.paid", "payment.*", "*") matches event_type."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def record_event(
    event_type: str, payment: Payment | None, data: dict[str, Any], told_live: bool = False, sequence: int | None = None
) -> str:
    """Add the event, numbered in its payment's order, and its deliveries, to the caller's transaction; its id.
    told_live: the caller tells the pages and operators itself right after its commit, so no relay does it again.
    sequence: the number the caller already took for it (a new payment's first), else the next one is taken."""
    # Prepared Core statements on the session's connection: this runs inside every creation and confirmation.
    connection = db.session.connection()
    payment_id = payment.id if payment else None
    if sequence is None:
        # Under the payment row's lock: two events of one payment can never take the same number.
        sequence = connection.execute(_NEXT_SEQUENCE, {"payment": payment_id}).scalar_one() if payment_id else 0
    now = now_utc()
    event_id = f"msg_{uuid.uuid4().hex}"
    payload = {"id": event_id, "type": event_type, "timestamp": iso_utc(now), "sequence": sequence, "data": data}
    event = {"id": event_id, "type": event_type, "payment_id": payment_id, "sequence": sequence, "payload": payload}
    connection.execute(_INSERT_EVENT, event | {"created_at": now, "live_sent_at": now if told_live else None})
    deliveries = [
        {
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "payment_id": payment_id,
            "sequence": sequence,
            "status": DeliveryStatus.PENDING if enabled else DeliveryStatus.HELD,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id, enabled, patterns in connection.execute(_ENDPOINTS)
        if wants(patterns, event_type)
    ]
    if deliveries:
        connection.execute(_INSERT_DELIVERIES, deliveries)
    return event_id


def claim_live_events(limit: int = 100) -> list[OutboxEvent]:
    """Events no process has told live yet; claimed, so exactly one process tells the pages and operators."""
    now = now_utc()
    unsent = db.select(OutboxEvent.id).where(OutboxEvent.live_sent_at.is_(None)).limit(limit)
    claimed = (
        db.session.execute(
            update(OutboxEvent)
            # Conditional on still being unsent: of two processes claiming at once, one wins each event.
            .where(OutboxEvent.id.in_(unsent), OutboxEvent.live_sent_at.is_(None))
            .values(live_sent_at=now)
            .returning(OutboxEvent.id),
            execution_options={"synchronize_session": False},
        )
        .scalars()
        .all()
    )
    db.session.commit()
    if not claimed:
        return []
    query = db.select(OutboxEvent).where(OutboxEvent.id.in_(claimed)).order_by(OutboxEvent.created_at)
    return list(db.session.execute(query).scalars())


def events_since(since: datetime, limit: int) -> list[OutboxEvent]:
    """The latest limit events recorded since since, oldest first."""
    query = db.select(OutboxEvent).where(OutboxEvent.created_at >= since).order_by(OutboxEvent.created_at.desc())
    return list(reversed(db.session.execute(query.limit(limit)).scalars().all()))


def payment_event(event_type: str, payment: Payment | None, told_live: bool = False, **about: Any) -> str:
    """record_event with the payment's full JSON (and whatever else it is about) as its data."""
    with links_context():
        data = {"payment": payment_json(payment) if payment else None} | about
    return record_event(event_type, payment, data, told_live)
