"""The outbox: record an event in the open transaction, with a delivery to every endpoint that wants it.

An event commits with the change it reports, or not at all: nothing is sent for a change that rolled back, and
nothing committed goes unsent. The waiting pages and the shop's endpoints are both told from these rows.
"""

import fnmatch
import uuid
from typing import Any

from sqlalchemy import update

from db_models import DeliveryStatus, OutboxEvent, Payment, WebhookDelivery, WebhookEndpoint, db
from db_models.base import now_utc
from live_status import iso_utc
from payloads import links_context, payment_json

# Every event the shop can be sent; endpoints filter them with "*", "payment.*" or these names.
EVENT_TYPES = ("payment.created", "payment.paid", "payment.expired", "payment.refused", "payment.refunded")
# The events a waiting page hears about (as payment_status); the others only go to the shop.
LIVE_TYPES = {"payment.paid", "payment.expired"}


def wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """Whether one of the endpoint's patterns ("payment.paid", "payment.*", "*") matches event_type."""
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in endpoint.event_types)


def record_event(event_type: str, payment: Payment | None, data: dict[str, Any]) -> OutboxEvent:
    """Add the event, numbered in its payment's order, and its deliveries, to the caller's transaction."""
    sequence = 0
    if payment is not None:
        # Under the payment row's lock: two events of one payment can never take the same number.
        sequence = db.session.execute(
            update(Payment)
            .where(Payment.id == payment.id)
            .values(event_sequence=Payment.event_sequence + 1)
            .returning(Payment.event_sequence),
            execution_options={"synchronize_session": False},
        ).scalar_one()
    now = now_utc()
    event_id = f"msg_{uuid.uuid4().hex}"
    payload = {"id": event_id, "type": event_type, "timestamp": iso_utc(now), "sequence": sequence, "data": data}
    event = OutboxEvent(
        id=event_id,
        type=event_type,
        payment_id=payment.id if payment else None,
        sequence=sequence,
        payload=payload,
        created_at=now,
        live_sent_at=None if event_type in LIVE_TYPES else now,
    )
    db.session.add(event)
    for endpoint in db.session.execute(db.select(WebhookEndpoint)).scalars():
        if wants(endpoint, event_type):
            status = DeliveryStatus.PENDING if endpoint.enabled else DeliveryStatus.HELD
            db.session.add(
                WebhookDelivery(
                    event_id=event_id,
                    endpoint_id=endpoint.id,
                    payment_id=event.payment_id,
                    sequence=sequence,
                    status=status,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return event


def claim_live_events(limit: int = 100) -> list[OutboxEvent]:
    """Events no process has told the waiting pages about yet; claimed, so exactly one process tells them."""
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


def payment_event(event_type: str, payment: Payment | None, **about: Any) -> OutboxEvent:
    """record_event with the payment's full JSON (and whatever else it is about) as its data."""
    with links_context():
        data = {"payment": payment_json(payment) if payment else None} | about
    return record_event(event_type, payment, data)
