"""SQLAlchemy models and the unbound Flask-SQLAlchemy extension."""

from db_models.bank_notification import BankNotification, NoticeOutcome
from db_models.base import db
from db_models.idempotency_key import IdempotencyKey
from db_models.job_lease import JobLease
from db_models.outbox_event import OutboxEvent
from db_models.payment import Payment, PaymentStatus
from db_models.refund import Refund, RefundStatus
from db_models.webhook import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "BankNotification",
    "DeliveryStatus",
    "IdempotencyKey",
    "JobLease",
    "NoticeOutcome",
    "OutboxEvent",
    "Payment",
    "PaymentStatus",
    "Refund",
    "RefundStatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "db",
]
