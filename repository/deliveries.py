"""Deliveries of events to endpoints: claimed by one worker at a time, in order per payment, retried, or dead.

A claim is a lease (locked_until): a worker killed mid-delivery loses it when the lease runs out, and another
worker picks the delivery up, so every event is delivered at least once and no attempt runs twice at once.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_

from db_models import DeliveryStatus, OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, db
from db_models.base import UTCDateTime, now_utc

delivery_table = WebhookDelivery.__table__
attempt_table = WebhookAttempt.__table__
event_table = OutboxEvent.__table__
endpoint_table = WebhookEndpoint.__table__
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
    (longer than any one attempt may take), read with their events and endpoints in one query; commits."""
    ids = claim_deliveries(worker, limit, lease) if limit > 0 else []
    rows = db.session.execute(_JOBS, {"ids": ids}).all() if ids else []
    db.session.commit()
    return [Job(*row) for row in rows]


# Core statements on the tables: the hot path of every delivery, without the ORM's bookkeeping.
_delivery, _event, _endpoint = delivery_table.c, event_table.c, endpoint_table.c
_JOBS = (
    db.select(
        _delivery.id,
        _delivery.attempts,
        _event.id,
        _event.payload,
        _endpoint.id,
        _endpoint.url,
        _endpoint.headers,
        _endpoint.auth,
        _endpoint.secrets,
        _endpoint.retry_schedule,
        _endpoint.enabled,
    )
    .join_from(delivery_table, event_table, _event.id == _delivery.event_id)
    .join(endpoint_table, _endpoint.id == _delivery.endpoint_id)
    .where(_delivery.id.in_(bindparam("ids", expanding=True)))
)


def claim_deliveries(worker: str, limit: int, lease: timedelta) -> list[int]:
    """The ids of up to limit deliveries due now, each the next one of its (endpoint, payment), leased to worker,
    in the caller's transaction."""
    now, row = now_utc(), delivery_table.c
    earlier = delivery_table.alias("earlier")
    # An event waits for the events of its payment before it, at the same endpoint (a refund never overtakes
    # the paid event); a dead one no longer blocks the rest.
    waits = exists().where(
        earlier.c.endpoint_id == row.endpoint_id,
        earlier.c.payment_id == row.payment_id,
        earlier.c.sequence < row.sequence,
        earlier.c.status.in_(UNFINISHED),
    )
    free = or_(row.locked_until.is_(None), row.locked_until < now)
    due = (
        db.select(row.id)
        .where(row.status == DeliveryStatus.PENDING, row.next_attempt_at <= now, free, ~waits)
        .order_by(row.next_attempt_at)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=delivery_table)  # workers pass each other's rows by
    # One statement; `free` again in the UPDATE, so of two claims racing for a row (SQLite) one gets it.
    claimed = db.session.execute(
        delivery_table.update()
        .where(row.id.in_(due.correlate(None).scalar_subquery()), free)
        .values(locked_by=worker, locked_until=now + lease)
        .returning(row.id)
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


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt at a claimed delivery (attempt is None when it was held without one)."""

    job: Job
    status: DeliveryStatus
    attempt: dict[str, Any] | None = None
    next_at: datetime | None = None
    gone: bool = False  # the endpoint answered 410 Gone


def record_outcomes(worker: str, outcomes: list[Outcome]) -> set[int]:
    """Keep every attempt and where each delivery stands now, releasing the leases still this worker's, in the
    caller's transaction (a few statements however large the batch); the endpoints that answered 410."""
    sent = [outcome for outcome in outcomes if outcome.attempt is not None]
    still_there = _still_there([o.job.delivery_id for o in sent]) if sent else set()
    tried = [
        {"delivery_id": o.job.delivery_id, "worker": worker, **(o.attempt or {})}
        for o in sent
        if o.job.delivery_id in still_there
    ]
    if tried:
        # RETURNING lets SQLAlchemy send the rows as one multi-row INSERT ("insertmanyvalues"), compiled once.
        db.session.execute(attempt_table.insert().returning(attempt_table.c.id), tried)
    settled = {"locked_by": None, "locked_until": None}
    mine = delivery_table.c.locked_by == worker
    delivered = [o.job.delivery_id for o in sent if o.status == DeliveryStatus.DELIVERED]
    if delivered:
        db.session.execute(
            delivery_table.update()
            .where(delivery_table.c.id.in_(delivered), mine)
            .values(status=DeliveryStatus.DELIVERED, attempts=delivery_table.c.attempts + 1, last_error=None)
            .values(delivered_at=now_utc(), **settled)
        )
    failed = [_failed_row(o) for o in sent if o.status != DeliveryStatus.DELIVERED]
    if failed:
        db.session.execute(_SETTLE_FAILED.values(**settled).where(mine), failed)
    held = [o.job.delivery_id for o in outcomes if o.attempt is None]
    if held:  # its endpoint was disabled meanwhile: kept for when it is enabled again
        db.session.execute(
            delivery_table.update()
            .where(delivery_table.c.id.in_(held), mine)
            .values(status=DeliveryStatus.HELD, **settled)
        )
    return {outcome.job.endpoint_id for outcome in outcomes if outcome.gone}


def _still_there(delivery_ids: list[int]) -> set[int]:
    """Of delivery_ids, those not deleted, locked in id order (as deleting an endpoint locks them): an endpoint
    deleted meanwhile took its deliveries with it, and an attempt at one has nothing left to belong to."""
    query = delivery_table.c.id.in_(delivery_ids)
    locked = db.select(delivery_table.c.id).where(query).order_by(delivery_table.c.id).with_for_update()
    return set(db.session.execute(locked).scalars())


def _failed_row(outcome: Outcome) -> dict[str, Any]:
    attempt = outcome.attempt or {}
    return {
        "b_id": outcome.job.delivery_id,
        "b_status": outcome.status.value,
        "b_error": attempt["error"] or f"HTTP {attempt['status_code']}",
        "b_next_at": outcome.next_at,
    }


# A failed attempt: pending again (next_at), held (410) or dead (no next_at: next_attempt_at stays).
_SETTLE_FAILED = (
    delivery_table.update()
    .where(delivery_table.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        attempts=delivery_table.c.attempts + 1,
        last_error=bindparam("b_error"),
        next_attempt_at=func.coalesce(bindparam("b_next_at", type_=UTCDateTime()), delivery_table.c.next_attempt_at),
    )
)


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


def queue_state() -> tuple[dict[str, int], datetime | None]:
    """Deliveries not delivered, by status (pending, held, dead), and when the oldest undelivered one was made."""
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.HELD, DeliveryStatus.DEAD)
    rows = db.session.execute(
        db.select(delivery_table.c.status, func.count(), func.min(delivery_table.c.created_at))
        .where(delivery_table.c.status.in_(waiting))
        .group_by(delivery_table.c.status)
    ).all()
    counts = {str(status): 0 for status in waiting} | {status: count for status, count, _ in rows}
    undelivered = [first for status, _, first in rows if status in UNFINISHED and first is not None]
    return counts, min(undelivered, default=None)
