"""What a waiting page is told about its payment, and the room it hears it in; usable from any process.

The server's handlers, the webhooks and the reconciliation job (a CLI process, through the message queue)
all publish from here.
"""

from datetime import UTC, datetime
from typing import Any

from db_models import Payment
from extensions import socketio
from pix.money import json_number

STATUS_EVENT = "payment_status"
ROOM_PREFIX = "payment:"


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, e.g. 2026-11-22T07:48:03Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def payment_status_json(payment: Payment) -> dict[str, Any]:
    """What a buyer's page may know: the status, sent on subscribe, on change and to pollers."""
    return {
        "id": payment.id,
        "status": payment.current_status().value,
        "paid": payment.paid,
        "value": json_number(payment.value),
        "expiration_date": iso_utc(payment.expiration_date),
        "paid_at": iso_utc(payment.paid_at),
    }


def payment_room(token: str) -> str:
    """The room of one payment; named by its secret token, so it cannot be guessed."""
    return f"{ROOM_PREFIX}{token}"


def publish_payment_status(payment: Payment) -> None:
    """Tell the pages watching payment its new status; called after the commit."""
    socketio.emit(STATUS_EVENT, payment_status_json(payment), to=payment_room(payment.token))
