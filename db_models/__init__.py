"""SQLAlchemy models and the unbound Flask-SQLAlchemy extension."""

from db_models.bank_notification import BankNotification, NoticeOutcome
from db_models.base import db
from db_models.idempotency_key import IdempotencyKey
from db_models.job_lease import JobLease
from db_models.payment import Payment, PaymentStatus
from db_models.refund import Refund, RefundStatus

__all__ = [
    "BankNotification",
    "IdempotencyKey",
    "JobLease",
    "NoticeOutcome",
    "Payment",
    "PaymentStatus",
    "Refund",
    "RefundStatus",
    "db",
]
