"""Deliveries of events to endpoints: claimed by one worker at a time, in order per payment, retried, or dead.

A claim is a lease (locked_until): a worker killed mid-delivery loses it when the lease runs out, and another
worker picks the delivery up, so every event is delivered at least once and no attempt runs twice at once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_
from sqlalchemy.orm import aliased

from db_models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, db
from db_models.base import now_utc

delivery_table = WebhookDelivery.__table__
attempt_table = WebhookAttempt.__table__
UNFINISHED = (DeliveryStatus.PENDING, DeliveryStatus.HELD)
FINISHED = (DeliveryStatus.DEAD, DeliveryStatus.DELIVERED)


@dataclass(frozen=True)
class Job:
    """A claimed delivery with all that sending it takes: its event and its endpoint's settings."""

    delivery_id: int
    attempts: int
    event_id: str
    payload: dict[str, Any]
    endpoint_id: int
    url: str
    headers: dict[str, str]
    auth: dict[str, str] | None
    secrets: list[dict[str, Any]]
    retry_schedule: list[int]
    enabled: bool


def claim_jobs(worker: str, limit: int, lease: timedelta) -> list[Job]:
    """Up to limit deliveries due now, each the next one of its (endpoint, payment), leased to worker for lease
    (longer than any one attempt may take), read with their events and endpoints in one query."""
    ids = claim_deliveries(worker, limit, lease)
    if not ids:
        db.session.commit()
        return []
    rows = db.session.execute(
        db.select(
            WebhookDelivery.id,
            WebhookDelivery.attempts,
            OutboxEvent.id,
            OutboxEvent.payload,
            WebhookEndpoint.id,
            WebhookEndpoint.url,
            WebhookEndpoint.headers,
            WebhookEndpoint.auth,
            WebhookEndpoint.secrets,
            WebhookEndpoint.retry_schedule,
            WebhookEndpoint.enabled,
        )
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id.in_(ids))
    ).all()
    db.session.commit()
    return [Job(*row) for row in rows]


def claim_deliveries(worker: str, limit: int, lease: timedelta) -> list[int]:
    """The ids of up to limit deliveries due now, each the next one of its (endpoint, payment), leased to worker,
    in the caller's transaction."""
    now = now_utc()
    earlier = aliased(WebhookDelivery)
    # An event waits for the events of its payment before it, at the same endpoint (a refund never overtakes
    # the paid event); a dead one no longer blocks the rest.
    waits = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.payment_id == WebhookDelivery.payment_id,
        earlier.sequence < WebhookDelivery.sequence,
        earlier.status.in_(UNFINISHED),
    )
    free = or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now)
    due = (
        db.select(WebhookDelivery.id)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now, free, ~waits)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=WebhookDelivery)  # workers pass each other's rows by
    # One statement; `free` again in the UPDATE, so of two claims racing for a row (SQLite) one gets it.
    claimed = db.session.execute(
        delivery_table.update()
        .where(delivery_table.c.id.in_(due.correlate(None).scalar_subquery()), free)
        .values(locked_by=worker, locked_until=now + lease)
        .returning(delivery_table.c.id)
    )
    return list(claimed.scalars())


def delivery_parts(delivery_id: int) -> tuple[WebhookDelivery, OutboxEvent, WebhookEndpoint] | None:
    """The delivery, its event and its endpoint."""
    row = db.session.execute(
        db.select(WebhookDelivery, OutboxEvent, WebhookEndpoint)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one_or_none()
    return None if row is None else tuple(row)  # type: ignore[return-value]


def record_attempt(
    job: Job, worker: str, attempt: dict[str, Any], status: DeliveryStatus, next_at: datetime | None
) -> None:
    """Keep the attempt and where the delivery stands now; release the lease, if it is still this worker's."""
    # Core statements on the tables: the hot path of every delivery, without the ORM's bookkeeping.
    db.session.execute(attempt_table.insert().values(delivery_id=job.delivery_id, worker=worker, **attempt))
    values: dict = {"status": status, "attempts": job.attempts + 1, "locked_by": None, "locked_until": None}
    values["last_error"] = attempt["error"] or (
        f"HTTP {attempt['status_code']}" if status != DeliveryStatus.DELIVERED else None
    )
    if status == DeliveryStatus.DELIVERED:
        values["delivered_at"] = now_utc()
    if next_at is not None:
        values["next_attempt_at"] = next_at
    db.session.execute(
        delivery_table.update()
        .where(delivery_table.c.id == job.delivery_id, delivery_table.c.locked_by == worker)
        .values(**values)
    )
    db.session.commit()


def hold(delivery_id: int) -> None:
    """Its endpoint was disabled meanwhile: keep it for when the endpoint is enabled again."""
    db.session.execute(
        db.update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=DeliveryStatus.HELD, locked_by=None, locked_until=None)
    )
    db.session.commit()


def dead_letters(endpoint_id: int | None = None, limit: int = 100) -> list[tuple[WebhookDelivery, OutboxEvent]]:
    """Deliveries whose retries are spent, newest first, with their events."""
    query = (
        db.select(WebhookDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.status == DeliveryStatus.DEAD)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    return [tuple(row) for row in db.session.execute(query).all()]  # type: ignore[misc]


def redeliver(delivery_id: int) -> bool:
    """Send a dead or delivered delivery again, from its first attempt; False when there is none."""
    result = db.session.execute(
        db.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status.in_([DeliveryStatus.DEAD, DeliveryStatus.DELIVERED]),
        )
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now_utc(), locked_by=None, locked_until=None)
    )
    db.session.commit()
    return result.rowcount == 1


def redeliver_dead_since(since: datetime, endpoint_id: int | None = None) -> int:
    """Send again every dead letter whose event happened since; how many."""
    events = db.select(OutboxEvent.id).where(OutboxEvent.created_at >= since)
    condition = and_(WebhookDelivery.status == DeliveryStatus.DEAD, WebhookDelivery.event_id.in_(events))
    if endpoint_id is not None:
        condition = and_(condition, WebhookDelivery.endpoint_id == endpoint_id)
    result = db.session.execute(
        db.update(WebhookDelivery)
        .where(condition)
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now_utc()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount


def deliveries_of(
    endpoint_id: int, status: DeliveryStatus | None = None, limit: int = 50
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """An endpoint's latest deliveries (of one status, when given), each with its attempts: the delivery log."""
    query = db.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    deliveries = list(db.session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit)).scalars())
    return with_attempts(deliveries)


def with_attempts(deliveries: list[WebhookDelivery]) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """Each delivery with its attempts, oldest first."""
    attempts = db.session.execute(
        db.select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
        .order_by(WebhookAttempt.id)
    ).scalars()
    by_delivery: dict[int, list[WebhookAttempt]] = {}
    for attempt in attempts:
        by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
    return [(delivery, by_delivery.get(delivery.id, [])) for delivery in deliveries]
