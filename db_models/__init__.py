"""SQLAlchemy models and the unbound Flask-SQLAlchemy extension."""

from db_models.base import db
from db_models.payment import Payment, PaymentStatus
from db_models.refused_confirmation import RefusedConfirmation

__all__ = ["Payment", "PaymentStatus", "RefusedConfirmation", "db"]
