"""What an operator looks at: the last hour in numbers, payments by reference, and one payment's whole story."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, or_

from db_models import BankNotification, OutboxEvent, Payment, Refund, WebhookAttempt, WebhookDelivery, db
from repository.deliveries import with_attempts

RECENT = 25


@dataclass(frozen=True)
class PaymentHistory:
    """A payment with what the banks said of it (and the refunds of each notice) and what the shop was sent."""

    payment: Payment
    notices: list[tuple[BankNotification, list[Refund]]]
    events: list[tuple[OutboxEvent, list[tuple[WebhookDelivery, list[WebhookAttempt]]]]]


def last_hour(now: datetime) -> dict[str, Any]:
    """Payments created and paid in the hour before now, the conversion, and the median time from page to paid."""
    since = now - timedelta(hours=1)
    created = db.session.execute(db.select(func.count()).where(Payment.created_at >= since)).scalar_one()
    paid = db.session.execute(db.select(func.count()).where(Payment.paid_at >= since)).scalar_one()
    return {
        "created": created,
        "paid": paid,
        "conversion": paid / created if created else None,
        "median_seconds_to_pay": _median_seconds_to_pay(since) if paid else None,
    }


def _median_seconds_to_pay(since: datetime) -> float | None:
    paid_since = Payment.paid_at >= since
    if db.session.get_bind().dialect.name == "postgresql":
        # In the database: a busy hour's paid rows never travel to this process.
        waited = func.extract("epoch", Payment.paid_at - Payment.created_at)
        found = db.session.execute(db.select(func.percentile_cont(0.5).within_group(waited)).where(paid_since))
        seconds = found.scalar_one()
        return float(seconds) if seconds is not None else None
    rows = db.session.execute(db.select(Payment.created_at, Payment.paid_at).where(paid_since)).all()
    return median((paid_at - created_at).total_seconds() for created_at, paid_at in rows) if rows else None


def find_payments(reference: str | None, limit: int = RECENT) -> list[Payment]:
    """The latest payments, or those whose order_id or txid is reference, newest first."""
    query = db.select(Payment).order_by(Payment.id.desc()).limit(limit)
    if reference:
        query = query.where(or_(Payment.order_id == reference, Payment.txid == reference))
    return list(db.session.execute(query).scalars())


def refunds_by_notice(notice_ids: list[int]) -> dict[int, list[Refund]]:
    """The refunds of each of these notices, oldest first."""
    found: dict[int, list[Refund]] = {notice_id: [] for notice_id in notice_ids}
    query = db.select(Refund).where(Refund.notification_id.in_(notice_ids)).order_by(Refund.id)
    for refund in db.session.execute(query).scalars():
        found[refund.notification_id].append(refund)
    return found


def payment_history(payment_id: int) -> PaymentHistory | None:
    """Everything about one payment, oldest first; None when there is no such payment."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        return None
    notices = list(
        db.session.execute(
            db.select(BankNotification).where(BankNotification.payment_id == payment_id).order_by(BankNotification.id)
        ).scalars()
    )
    refunds = refunds_by_notice([notice.id for notice in notices])
    events = list(
        db.session.execute(
            db.select(OutboxEvent).where(OutboxEvent.payment_id == payment_id).order_by(OutboxEvent.sequence)
        ).scalars()
    )
    deliveries = list(
        db.session.execute(
            db.select(WebhookDelivery).where(WebhookDelivery.payment_id == payment_id).order_by(WebhookDelivery.id)
        ).scalars()
    )
    by_event: dict[str, list[tuple[WebhookDelivery, list[WebhookAttempt]]]] = {event.id: [] for event in events}
    for delivery, attempts in with_attempts(deliveries):
        by_event.setdefault(delivery.event_id, []).append((delivery, attempts))
    return PaymentHistory(
        payment,
        [(notice, refunds[notice.id]) for notice in notices],
        [(event, by_event[event.id]) for event in events],
    )
