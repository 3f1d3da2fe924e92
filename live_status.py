"""What a waiting page and the operators' room are told about a payment, and where; usable from any process.

The server's handlers, the webhooks, the outbox relay and the reconciliation job (a CLI process, through the
message queue) all publish from here.
"""

from datetime import UTC, datetime
from typing import Any

from db_models import Payment
from extensions import socketio
from pix.money import json_number

STATUS_EVENT = "payment_status"
ROOM_PREFIX = "payment:"
# The events a waiting page hears about (as payment_status); the operators hear of every event.
PAGE_EVENT_TYPES = {"payment.paid", "payment.expired"}
# The operators' namespace and room: only a connection that proved it is an operator joins it.
OPERATORS_NAMESPACE = "/operadores"
OPERATORS_ROOM = "operadores"
OPERATOR_EVENT = "operacao"


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


def operator_event_json(event_type: str, payment: Payment | None) -> dict[str, Any]:
    """What the operators' room hears of one event: its type and the payment's references, never its token."""
    about = None
    if payment is not None:
        about = payment_status_json(payment) | {"txid": payment.txid, "order_id": payment.order_id}
    return {"type": event_type, "payment": about}


def payment_room(token: str) -> str:
    """The room of one payment; named by its secret token, so it cannot be guessed."""
    return f"{ROOM_PREFIX}{token}"


def is_payment_room(room: Any) -> bool:
    """Whether room is a payment's (pages wait there), not a connection's own or the operators'."""
    return isinstance(room, str) and room.startswith(ROOM_PREFIX)


def publish_payment_status(payment: Payment, here_only: bool = False) -> None:
    """Tell the pages watching payment its new status; called after the commit. here_only: this process's pages."""
    room = payment_room(payment.token)
    socketio.emit(STATUS_EVENT, payment_status_json(payment), to=room, ignore_queue=here_only)


def _tell_operators(event: dict[str, Any], here_only: bool = False) -> None:
    socketio.emit(OPERATOR_EVENT, event, to=OPERATORS_ROOM, namespace=OPERATORS_NAMESPACE, ignore_queue=here_only)


def publish_to_operators(event_type: str, payment: Payment | None, here_only: bool = False) -> None:
    """Tell the operators' room of an event; called after the commit that recorded it."""
    _tell_operators(operator_event_json(event_type, payment), here_only)


def publish_dead_delivery(delivery_id: int, payment_id: int | None) -> None:
    """Tell the operators' room a delivery ran out of retries: a dead letter to look at."""
    about = {"id": payment_id} if payment_id else None
    _tell_operators({"type": "delivery.dead", "payment": about, "delivery_id": delivery_id})


def publish_event(event_type: str, payment: Payment | None, here_only: bool = False) -> None:
    """Tell whoever is to hear of an outbox event: the payment's waiting pages when it changes them, the operators;
    here_only: only those connected to this process (the others heard it already)."""
    if payment is not None and event_type in PAGE_EVENT_TYPES:
        publish_payment_status(payment, here_only)
    publish_to_operators(event_type, payment, here_only)
