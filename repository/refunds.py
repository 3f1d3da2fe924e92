"""Refunds as the checkout keeps them: opened once per refund id, within the Pix's value, then the PSP's state."""

import logging
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, func, update
from sqlalchemy.exc import IntegrityError

from db_models import BankNotification, NoticeOutcome, Payment, Refund, RefundStatus, db
from db_models.base import now_utc
from db_models.refund import FAILED, FINAL
from payloads import refund_json
from pix.money import from_cents, to_cents
from repository.outbox import payment_event

log = logging.getLogger(__name__)
REFUND_WINDOW = timedelta(days=90)  # the API Pix allows refunds for 90 days after the Pix settled
RECEIVED_PIX_SOURCES = ("api_pix", "reconciliation")
UNREFUNDABLE = (NoticeOutcome.APPLIED, NoticeOutcome.INVALID)  # paid its payment, or no money to name


class RefundRefusedError(ValueError):
    """A refund the rules do not allow; code says which rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def open_refund(end_to_end_id: str, refund_id: str, amount: Decimal | None, description: str | None) -> Refund:
    """The refund with refund_id: a new one for amount (default: all that is left), or the same one again."""
    # Two refunds of one Pix at once must not both fit in what is left: an UPDATE that changes nothing locks the
    # Pix's row on PostgreSQL and takes the write lock on SQLite (which ignores FOR UPDATE), so the second waits
    # here and then reads what the first committed.
    db.session.execute(update(BankNotification).where(*_received_pix(end_to_end_id)).values(id=BankNotification.id))
    try:
        existing = _same_refund(refund_id, end_to_end_id, amount)
        if existing is None:
            return _new_refund(end_to_end_id, refund_id, amount, description)
        db.session.rollback()  # nothing to write: the lock goes before the PSP is called
        return existing
    except RefundRefusedError:
        db.session.rollback()
        raise
    except IntegrityError:
        # The same refund_id, opened at once for another Pix (whose row the lock above did not cover).
        db.session.rollback()
        refund = _same_refund(refund_id, end_to_end_id, amount)
        if refund is None:
            raise
        return refund


def _same_refund(refund_id: str, end_to_end_id: str, amount: Decimal | None) -> Refund | None:
    """The refund already opened with refund_id, if it is this one; refused if it was another."""
    existing = refund_by_id(refund_id)
    if existing is not None and (
        existing.end_to_end_id != end_to_end_id or (amount is not None and existing.value_cents != to_cents(amount))
    ):
        raise RefundRefusedError("refund_id_conflict", "this refund_id was used for another refund")
    return existing


def _received_pix(end_to_end_id: str) -> tuple[ColumnElement[bool], ...]:
    return BankNotification.idempotency_key == end_to_end_id, BankNotification.source.in_(RECEIVED_PIX_SOURCES)


def _new_refund(end_to_end_id: str, refund_id: str, amount: Decimal | None, description: str | None) -> Refund:
    notice = db.session.execute(db.select(BankNotification).where(*_received_pix(end_to_end_id))).scalar_one_or_none()
    if notice is None or notice.value_cents is None:
        raise RefundRefusedError("pix_not_found", "no Pix with this endToEndId was received")
    if notice.transferred_at is not None and now_utc() - notice.transferred_at > REFUND_WINDOW:
        raise RefundRefusedError("refund_window_closed", "a Pix can be refunded for 90 days after it was paid")
    left = notice.value_cents - refunded_cents(end_to_end_id)
    cents = to_cents(amount) if amount is not None else left
    if not 0 < cents <= left:
        raise RefundRefusedError("refund_too_large", f"at most {Decimal(left).scaleb(-2):.2f} is left to refund")
    refund = Refund(
        refund_id=refund_id,
        end_to_end_id=end_to_end_id,
        notification_id=notice.id,
        payment_id=notice.payment_id,
        value_cents=cents,
        status=RefundStatus.REQUESTED,
        description=description,
    )
    db.session.add(refund)
    db.session.commit()
    return refund


def refunded_cents(end_to_end_id: str) -> int:
    """What the refunds of a Pix take, or may take, from it: all but the ones that failed."""
    query = db.select(func.coalesce(func.sum(Refund.value_cents), 0)).where(
        Refund.end_to_end_id == end_to_end_id, Refund.status.not_in(FAILED)
    )
    return db.session.execute(query).scalar_one()


def can_refund(notice: BankNotification, refunds: list[Refund]) -> bool:
    """Whether notice is a received Pix that was not applied and still has money to send back (given its refunds)."""
    if notice.source not in RECEIVED_PIX_SOURCES or notice.outcome in UNREFUNDABLE or not notice.value_cents:
        return False
    return notice.value_cents > sum(refund.value_cents for refund in refunds if refund.status not in FAILED)


def record_refund_state(
    refund_id: str, status: str, detail: str | None, value: Decimal | None = None, of_pix: str | None = None
) -> Refund | None:
    """The PSP's word on a refund, taken once: a final state is never undone nor announced twice, even when two
    reports of it arrive at once. value: the amount the PSP reports, which must be the refund's own; of_pix: the
    endToEndId of the Pix whose devolucoes reported it, which must be the refund's own."""
    refund = refund_by_id(refund_id)
    if refund is None or refund.status in FINAL or refund.status == status:
        return refund
    if of_pix is not None and of_pix != refund.end_to_end_id:
        log.warning("the PSP reported refund %s under Pix %s, not its own %s", refund_id, of_pix, refund.end_to_end_id)
        return refund
    if value is not None and to_cents(value) != refund.value_cents:
        reported, ours = f"{value:.2f}", f"{from_cents(refund.value_cents):.2f}"
        log.error("the PSP reported refund %s as %s %s, not its %s: left as it was", refund_id, status, reported, ours)
        return refund
    # Conditional on the state read above: of two reports at once, the second changes nothing and tells no one.
    changed = db.session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status == refund.status)
        .values(status=status, detail=detail[:200] if detail else None, updated_at=now_utc())
        .returning(Refund.id),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if changed is not None and status == RefundStatus.REFUNDED:
        db.session.refresh(refund)
        payment = db.session.get(Payment, refund.payment_id) if refund.payment_id else None
        payment_event("payment.refunded", payment, refund=refund_json(refund))
    db.session.commit()
    return refund_by_id(refund_id)


def note_checked(refund: Refund) -> None:
    """Put a refund the PSP left as it was at the back of the queue refunds_in_flight asks from."""
    db.session.execute(update(Refund).where(Refund.id == refund.id).values(updated_at=now_utc()))
    db.session.commit()


def refund_by_id(refund_id: str) -> Refund | None:
    """The refund with our refund_id, as the database has it now, or None."""
    query = db.select(Refund).filter_by(refund_id=refund_id).execution_options(populate_existing=True)
    return db.session.execute(query).scalar_one_or_none()


def refunds_in_flight(limit: int = 100) -> list[Refund]:
    """Refunds the PSP has not settled yet, the longest unchecked first: reconciliation asks about them, and one
    the PSP never settles goes to the back each time, so it holds back none of the others."""
    unsettled = (RefundStatus.REQUESTED, RefundStatus.IN_PROGRESS)
    query = db.select(Refund).where(Refund.status.in_(unsettled)).order_by(Refund.updated_at, Refund.id).limit(limit)
    return list(db.session.execute(query).scalars())


def latest_refunds(limit: int = 50) -> list[Refund]:
    """The latest refunds, newest first."""
    return list(db.session.execute(db.select(Refund).order_by(Refund.id.desc()).limit(limit)).scalars())


def late_money(payment_id: int) -> list[tuple[BankNotification, list[Refund]]]:
    """Pix received for a payment after its deadline, each with its refunds: what its expired page tells the buyer."""
    notices = db.session.execute(
        db.select(BankNotification)
        .where(BankNotification.payment_id == payment_id, BankNotification.outcome == "payment_expired")
        .order_by(BankNotification.id)
    ).scalars()
    refunds = db.session.execute(db.select(Refund).where(Refund.payment_id == payment_id)).scalars().all()
    return [(notice, [r for r in refunds if r.notification_id == notice.id]) for notice in notices]
