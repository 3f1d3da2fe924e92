"""The one way in for a bank's word: store every verified notice once, and apply it to its payment."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Insert, Update, bindparam
from sqlalchemy.dialects import postgresql, sqlite

import metrics
from db_models import BankNotification, NoticeOutcome, Payment, PaymentStatus, db
from db_models.base import now_utc
from payloads import notice_json
from pix.money import to_cents
from repository.outbox import payment_event
from repository.payments import detached_payment

MAX_KEY_LENGTH = 200
MAX_DETAIL_LENGTH = 200

log = logging.getLogger(__name__)
_payments, _notices = Payment.__table__, BankNotification.__table__


def _pay_by(column: Column) -> Update:
    # One conditional UPDATE: of concurrent notices, only one can match the pending row.
    return (
        _payments.update()
        .where(
            column == bindparam("key"),
            _payments.c.value_cents == bindparam("cents"),
            _payments.c.status == PaymentStatus.PENDING,
            _payments.c.expiration_date > bindparam("deadline_after"),
        )
        .values(status=PaymentStatus.PAID, paid_at=bindparam("paid_when"))
        .returning(*_payments.c)
    )


def _insert_once_in(dialect: Any) -> Insert:
    # INSERT ... ON CONFLICT DO NOTHING in one statement: concurrent retries of one message cannot race.
    return dialect.insert(_notices).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(_notices.c.id)


# Prepared once, as Core statements: they run in every confirmation.
_PAY_BY = {column: _pay_by(_payments.c[column]) for column in ("txid", "bank_payment_id")}
_INSERT_ONCE = {"postgresql": _insert_once_in(postgresql), "sqlite": _insert_once_in(sqlite)}


@dataclass(frozen=True)
class BankNotice:
    """What a bank said, whatever its format: which payment, how much, when, its message id and its bytes.

    The payment is named by txid (the API Pix) or by bank_payment_id (the signed JSON format).
    """

    source: str
    idempotency_key: str
    value: Decimal
    raw: bytes
    txid: str | None = None
    bank_payment_id: str | None = None
    transferred_at: datetime | None = None  # when the money moved (the API Pix `horario`), if the bank says

    def name(self) -> tuple[str, str] | None:
        """The column that names this notice's payment and its value here (None when the notice names none)."""
        if self.txid:
            return "txid", self.txid
        if self.bank_payment_id:
            return "bank_payment_id", self.bank_payment_id
        return None

    @property
    def payment_key(self) -> str | None:
        """How the notice named its payment."""
        return self.txid or self.bank_payment_id


@dataclass(frozen=True)
class NoticeResult:
    """What became of a notice; replayed when the bank had sent this very message before."""

    outcome: NoticeOutcome
    payment: Payment | None
    replayed: bool = False

    @property
    def newly_paid(self) -> bool:
        """This notice paid the payment: the waiting page is to be told now."""
        return self.outcome == NoticeOutcome.APPLIED and not self.replayed


def digest_key(raw: bytes) -> str:
    """The key of a message that names itself by no id: its digest, so the same bytes again are a repeat."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def idempotency_key(message_id: str) -> str:
    """The bank's message id as a key any database stores: itself, or a digest when it is odd or long."""
    if 0 < len(message_id) <= MAX_KEY_LENGTH and message_id.isascii() and message_id.isprintable():
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()


def apply_notice(notice: BankNotice, clock_tolerance: timedelta = timedelta(0), tell_live: bool = True) -> NoticeResult:
    """Apply a notice to its payment and record it, in one transaction; a repeated message changes nothing.

    A payment is paid when the money moved before its deadline, however late the notice arrives: judged by
    the bank's own time (within clock_tolerance of ours), or by the arrival when the bank gives none.
    tell_live: the caller tells the waiting page of a payment paid here; else the outbox relay does.
    """
    now = now_utc()
    moved_at = min(notice.transferred_at or now, now + clock_tolerance)  # a clock ahead of ours is not believed
    paid = payment = None
    if (name := notice.name()) is not None:
        column, key = name
        terms = {"key": key, "cents": to_cents(notice.value), "deadline_after": moved_at - clock_tolerance}
        row = db.session.connection().execute(_PAY_BY[column], terms | {"paid_when": min(moved_at, now)}).one_or_none()
        paid = detached_payment(row) if row else None
        payment = paid or db.session.execute(db.select(Payment).where(_payments.c[column] == key)).scalar_one_or_none()
    outcome = NoticeOutcome.APPLIED if paid else _why_not_applied(payment, notice.value)
    values = {
        "source": notice.source,
        "idempotency_key": notice.idempotency_key,
        "payment_id": payment.id if payment else None,
        "payment_key": notice.payment_key,
        "value_cents": to_cents(notice.value),
        "transferred_at": notice.transferred_at,
        "outcome": outcome,
        "raw": notice.raw,
    }
    if not _insert_once(**values):
        # The bank repeats a message it sent before: undo this attempt and answer as the first time.
        db.session.rollback()
        metrics.BANK_NOTICES.labels(notice.source, "repeated").inc()
        replayed = _replay(notice.idempotency_key)
        _log_notice(notice.source, notice.idempotency_key, replayed.outcome, replayed.payment, notice.value, True)
        return replayed
    # The shop hears of it in the same transaction: paid, or money that arrived and could not be applied.
    # The caller tells the waiting page of a payment paid here, right after this commit (publish_event).
    about = {"notice": notice_json(BankNotification(**values, received_at=now))}
    applied = outcome == NoticeOutcome.APPLIED
    payment_event("payment.paid" if applied else "payment.refused", payment, told_live=applied and tell_live, **about)
    db.session.commit()
    metrics.BANK_NOTICES.labels(notice.source, outcome.value).inc()
    if applied:
        metrics.PAYMENTS_PAID.labels(payment.provider).inc()  # type: ignore[union-attr]
    _log_notice(notice.source, notice.idempotency_key, outcome, payment, notice.value)
    return NoticeResult(outcome, payment)


def _log_notice(
    source: str, key: str, outcome: NoticeOutcome, payment: Payment | None, value: object, repeated: bool = False
) -> None:
    """The one line every bank notice leaves: what the bank said and what became of it."""
    fields = {"source": source, "message_id": key, "outcome": outcome.value, "value": str(value), "repeated": repeated}
    if payment is not None:
        fields |= {"payment_id": payment.id, "txid": payment.txid, "order_id": payment.order_id}
    level = logging.INFO if outcome == NoticeOutcome.APPLIED or repeated else logging.WARNING
    again = " (a repeated message)" if repeated else ""
    log.log(level, "bank notice %s from %s: %s%s", key, source, outcome.value, again, extra=fields)


def keep_unreadable_notice(source: str, key: str, raw: bytes, detail: str) -> bool:
    """Record a verified message that could not be read as a notice (the bank may still have moved money);
    whether it is new, not one kept before."""
    new = _insert_once(
        source=source, idempotency_key=key, outcome=NoticeOutcome.INVALID, detail=detail[:MAX_DETAIL_LENGTH], raw=raw
    )
    db.session.commit()
    if not new:
        return False
    metrics.BANK_NOTICES.labels(source, NoticeOutcome.INVALID.value).inc()
    fields = {"source": source, "message_id": key, "outcome": NoticeOutcome.INVALID.value, "detail": detail[:200]}
    log.warning("bank notice %s from %s could not be read: %s", key, source, detail[:200], extra=fields)
    return True


def notice_by_id(notice_id: int) -> BankNotification | None:
    """The stored notice with this row id, or None."""
    return db.session.get(BankNotification, notice_id)


def notices_needing_action(limit: int = 100) -> list[BankNotification]:
    """The latest notices that were not applied, newest first: money to refund or reconcile."""
    query = (
        db.select(BankNotification)
        .where(BankNotification.outcome != NoticeOutcome.APPLIED)
        .order_by(BankNotification.id.desc())
        .limit(limit)
    )
    return list(db.session.execute(query).scalars())


def _why_not_applied(payment: Payment | None, value: Decimal) -> NoticeOutcome:
    if payment is None:
        return NoticeOutcome.PAYMENT_NOT_FOUND
    if payment.value != value:
        return NoticeOutcome.VALUE_MISMATCH
    if payment.paid:
        return NoticeOutcome.ALREADY_PAID
    return NoticeOutcome.PAYMENT_EXPIRED


def _insert_once(**values: Any) -> bool:
    statement = _INSERT_ONCE[db.session.get_bind().dialect.name]
    inserted = db.session.connection().execute(statement, {"received_at": now_utc()} | values)
    return inserted.scalar_one_or_none() is not None


def _replay(key: str) -> NoticeResult:
    stored = db.session.execute(db.select(BankNotification).filter_by(idempotency_key=key)).scalar_one()
    payment = db.session.get(Payment, stored.payment_id) if stored.payment_id else None
    return NoticeResult(NoticeOutcome(stored.outcome), payment, replayed=True)
