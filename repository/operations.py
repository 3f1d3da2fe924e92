"""What an operator looks at: the last hour in numbers, and payments found by the shop's or the bank's reference."""

from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import func, or_

from db_models import Payment, db

RECENT = 25


def last_hour(now: datetime) -> dict[str, Any]:
    """Payments created and paid in the hour before now, the conversion, and the median time from page to paid."""
    since = now - timedelta(hours=1)
    created = db.session.execute(db.select(func.count()).where(Payment.created_at >= since)).scalar_one()
    paid = db.session.execute(db.select(Payment.created_at, Payment.paid_at).where(Payment.paid_at >= since)).all()
    waits = [(paid_at - created_at).total_seconds() for created_at, paid_at in paid]
    return {
        "created": created,
        "paid": len(paid),
        "conversion": len(paid) / created if created else None,
        "median_seconds_to_pay": median(waits) if waits else None,
    }


def find_payments(reference: str | None, limit: int = RECENT) -> list[Payment]:
    """The latest payments, or those whose order_id or txid is reference, newest first."""
    query = db.select(Payment).order_by(Payment.id.desc()).limit(limit)
    if reference:
        query = query.where(or_(Payment.order_id == reference, Payment.txid == reference))
    return list(db.session.execute(query).scalars())
