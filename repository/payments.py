"""Payment use cases: create and look up, each committing at most once."""

import logging
import re
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, or_, update

from db_models import Payment, PaymentStatus, db
from db_models.base import now_utc
from pix.money import to_cents
from pix.providers import IssuedCharge
from repository.transactions import transaction

log = logging.getLogger(__name__)

TOKEN_BYTES = 24
TOKEN_LENGTH = 32  # characters of url-safe base64 for TOKEN_BYTES
# Anything else cannot be a token, so it never reaches a query (lone surrogates and NUL break drivers).
TOKEN_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")
_INSERT = Payment.__table__.insert().returning(Payment.__table__.c.id)
_BY_TOKEN = Payment.__table__.select().where(Payment.__table__.c.token == bindparam("token"))
CREATED_EVENT_SEQUENCE = 1  # payment.created is always a payment's first event
HEALTH_PROBE_TOKEN = "health-probe"  # noqa: S105  (shorter than a token, so never issued)
_HEALTH_PROBE = _BY_TOKEN.with_only_columns(Payment.__table__.c.id).limit(1)


def add_payment(
    value: Decimal,
    charge: IssuedCharge,
    provider: str,
    expires_in: timedelta,
    created_at: datetime | None = None,
    **shop: Any,
) -> Payment:
    """A pending payment with its charge's BR Code, an unguessable page token and its deadline (expires_in from
    created_at, by default now), in the open transaction; shop holds order_id, description, shop_metadata and
    return_url. Its first event number is taken, for its payment.created."""
    now = created_at or now_utc()
    values = {
        "value_cents": to_cents(value),
        "status": PaymentStatus.PENDING,
        "provider": provider,
        "bank_payment_id": str(uuid.uuid4()),
        "txid": charge.txid,
        "token": secrets.token_urlsafe(TOKEN_BYTES),
        "pix_copy_paste": charge.pix_copy_paste,
        "created_at": now,
        "expiration_date": now + expires_in,
        "event_sequence": CREATED_EVENT_SEQUENCE,
        "order_id": None,
        "description": None,
        "shop_metadata": None,
        "return_url": None,
    } | shop
    # One INSERT, without the unit of work: this runs in every creation, and nothing changes the row after it.
    payment_id = db.session.connection().execute(_INSERT, values).scalar_one()
    return Payment(id=payment_id, paid_at=None, expiry_announced_at=None, charge_checked_at=None, **values)


def create_payment(value: Decimal, charge: IssuedCharge, provider: str, expires_in: timedelta, **shop: Any) -> Payment:
    """add_payment, committed."""
    with transaction():
        return add_payment(value, charge, provider, expires_in, **shop)


def payments_of_order(order_id: str, limit: int = 20) -> list[Payment]:
    """The payments a shop created for one of its orders, newest first."""
    query = db.select(Payment).filter_by(order_id=order_id).order_by(Payment.id.desc()).limit(limit)
    return list(db.session.execute(query).scalars())


def is_page_token(text: object) -> bool:
    """Whether text has the shape of a page token (32 characters of url-safe base64)."""
    return isinstance(text, str) and TOKEN_PATTERN.fullmatch(text) is not None


def get_payment_by_token(token: str) -> Payment | None:
    """The payment behind a page token, or None."""
    if not is_page_token(token):
        return None
    # A Core row made into a detached Payment: every page, poll and subscribe reads one, and none changes it.
    row = db.session.connection().execute(_BY_TOKEN, {"token": token}).one_or_none()
    return detached_payment(row) if row is not None else None


def detached_payment(row: Row) -> Payment:
    """A Payment outside the session from a row of all its columns (keyed as the model names them: the column
    `metadata` is `shop_metadata`)."""
    return Payment(**{column.key: row._mapping[column] for column in Payment.__table__.c})


def payments_by_id(payment_ids: set[int]) -> dict[int, Payment]:
    """The payments with these ids, in one query, by id."""
    if not payment_ids:
        return {}
    query = db.select(Payment).where(Payment.id.in_(payment_ids))
    return {payment.id: payment for payment in db.session.execute(query).scalars()}


def get_payment_by_bank_id(bank_payment_id: str) -> Payment | None:
    """The payment the bank knows by bank_payment_id, or None."""
    return db.session.execute(db.select(Payment).filter_by(bank_payment_id=bank_payment_id)).scalar_one_or_none()


def database_is_up() -> bool:
    """Whether the database answers what a request asks: a parameterised read of the payments table."""
    try:
        # Prepared, in Core: load balancers and pingers ask many times a second.
        db.session.connection().execute(_HEALTH_PROBE, {"token": HEALTH_PROBE_TOKEN}).all()
        return True
    except Exception as error:  # a broken driver raises anything; a process that cannot read must say so
        log.warning("health check failed: %s: %s", type(error).__name__, error)
        db.session.rollback()
        return False


def unpaid_charges(provider: str, deadline_from: datetime, deadline_to: datetime, limit: int) -> list[Payment]:
    """Pending payments of provider whose deadline falls in [deadline_from, deadline_to] and that the PSP has not
    said are closed yet (charge_checked_at), the latest deadline first: while its money is likeliest on the way.

    A charge the PSP said is closed takes no place again, so however many deadlines a run's limit leaves out,
    the next run asks about the next ones."""
    query = (
        db.select(Payment)
        .where(
            Payment.provider == provider,
            Payment.status == PaymentStatus.PENDING,
            Payment.expiration_date >= deadline_from,
            Payment.expiration_date <= deadline_to,
            Payment.charge_checked_at.is_(None),
        )
        .order_by(Payment.expiration_date.desc())
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def mark_charges_closed(payment_ids: list[int], at: datetime) -> None:
    """Record that the PSP said at at that no Pix can come for these charges any more; committed."""
    if payment_ids:
        with transaction():
            db.session.execute(update(Payment).where(Payment.id.in_(payment_ids)).values(charge_checked_at=at))


def announce_expired(
    deadline_before: datetime,
    record: Callable[[Payment], object],
    *,
    asked_of: str,
    unasked_before: datetime,
    limit: int = 200,
) -> int:
    """Mark unpaid payments whose deadline is before deadline_before as announced, once each, calling record
    for each in the same transaction (it writes payment.expired); how many.

    A charge at a PSP (provider asked_of) is announced only once the PSP said no Pix can come for it any more
    (charge_checked_at), since a Pix made in time may still be on its way to us; or, should nobody have asked,
    once its deadline is before unasked_before."""
    due = (
        db.select(Payment.id)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.expiration_date < deadline_before,
            Payment.expiry_announced_at.is_(None),
            or_(
                Payment.provider != asked_of,
                Payment.charge_checked_at.is_not(None),
                Payment.expiration_date < unasked_before,
            ),
        )
        .limit(limit)
    )
    with transaction():
        # A conditional UPDATE: of two processes sweeping at once, each payment is announced by exactly one.
        announced = (
            db.session.execute(
                update(Payment)
                .where(
                    Payment.id.in_(due), Payment.expiry_announced_at.is_(None), Payment.status == PaymentStatus.PENDING
                )
                .values(expiry_announced_at=now_utc())
                .returning(Payment),
                execution_options={"synchronize_session": False},
            )
            .scalars()
            .all()
        )
        for payment in announced:
            record(payment)
    return len(announced)
