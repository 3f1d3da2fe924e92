"""Payment use cases: create, look up and confirm, each committing at most once."""

import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from db_models import Payment, PaymentStatus, RefusedConfirmation, db
from db_models.base import now_utc
from pix.brcode import Merchant, build_brcode
from pix.money import to_cents

TXID_ALPHABET = string.ascii_letters + string.digits
TXID_LENGTH = 25
TOKEN_BYTES = 24
TOKEN_LENGTH = 32  # characters of url-safe base64 for TOKEN_BYTES


class PaymentNotFoundError(LookupError):
    """No payment has that identifier."""


class ValueMismatchError(ValueError):
    """The confirmed value differs from the payment's value."""


class PaymentExpiredError(Exception):
    """The payment expired unpaid, so it can no longer be confirmed."""


REFUSAL_REASONS = {
    PaymentNotFoundError: "payment_not_found",
    ValueMismatchError: "value_mismatch",
    PaymentExpiredError: "payment_expired",
}


@dataclass(frozen=True)
class Confirmation:
    """A confirmed payment, and whether this call was the one that moved it to paid."""

    payment: Payment
    transitioned: bool


def create_payment(value: Decimal, merchant: Merchant, expires_in: timedelta) -> Payment:
    """Store a pending payment with its BR Code, unguessable page token and deadline."""
    txid = "".join(secrets.choice(TXID_ALPHABET) for _ in range(TXID_LENGTH))
    payment = Payment(
        value_cents=to_cents(value),
        status=PaymentStatus.PENDING,
        bank_payment_id=str(uuid.uuid4()),
        txid=txid,
        token=secrets.token_urlsafe(TOKEN_BYTES),
        pix_copy_paste=build_brcode(merchant, txid, value),
        expiration_date=now_utc() + expires_in,
    )
    db.session.add(payment)
    db.session.commit()
    return payment


def get_payment_by_token(token: str) -> Payment | None:
    """The payment behind a page token, or None."""
    if len(token) != TOKEN_LENGTH:
        return None
    return db.session.execute(db.select(Payment).filter_by(token=token)).scalar_one_or_none()


def get_payment_by_bank_id(bank_payment_id: str) -> Payment | None:
    """The payment the bank knows by bank_payment_id, or None."""
    return db.session.execute(db.select(Payment).filter_by(bank_payment_id=bank_payment_id)).scalar_one_or_none()


def confirm_payment(bank_payment_id: str, value: Decimal, webhook_id: str) -> Confirmation:
    """Mark a pending payment paid exactly once, however many confirmations race for it.

    A confirmation that cannot be applied is kept as a RefusedConfirmation before the error is raised:
    the bank says the money arrived, so the shop must be able to refund or reconcile it.
    """
    now = now_utc()
    # One conditional UPDATE: of concurrent confirmations, only one can match the pending row.
    paid = db.session.execute(
        update(Payment)
        .where(
            Payment.bank_payment_id == bank_payment_id,
            Payment.value_cents == to_cents(value),
            Payment.status == PaymentStatus.PENDING,
            Payment.expiration_date > now,
        )
        .values(status=PaymentStatus.PAID, paid_at=now)
        .returning(Payment),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    db.session.commit()
    if paid is not None:
        return Confirmation(paid, transitioned=True)
    # Nothing matched: look at the payment only to tell the bank why.
    payment = get_payment_by_bank_id(bank_payment_id)
    if payment is None:
        error: Exception = PaymentNotFoundError(bank_payment_id)
    elif payment.value != value:
        error = ValueMismatchError(f"expected {payment.value}, got {value}")
    elif payment.paid:
        return Confirmation(payment, transitioned=False)
    else:
        error = PaymentExpiredError(bank_payment_id)
    _keep_refused(webhook_id, bank_payment_id, value, REFUSAL_REASONS[type(error)])
    raise error


def _keep_refused(webhook_id: str, bank_payment_id: str, value: Decimal, reason: str) -> None:
    # The bank may retry the same message: keep it once.
    if db.session.execute(db.select(RefusedConfirmation.id).filter_by(webhook_id=webhook_id)).first() is None:
        db.session.add(
            RefusedConfirmation(
                webhook_id=webhook_id, bank_payment_id=bank_payment_id, value_cents=to_cents(value), reason=reason
            )
        )
        db.session.commit()


def refused_confirmations(limit: int = 100) -> list[RefusedConfirmation]:
    """The latest confirmations that could not be applied, newest first."""
    query = db.select(RefusedConfirmation).order_by(RefusedConfirmation.id.desc()).limit(limit)
    return list(db.session.execute(query).scalars())


def database_is_up() -> bool:
    """Whether the database answers a trivial query."""
    try:
        db.session.execute(db.select(1))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False
