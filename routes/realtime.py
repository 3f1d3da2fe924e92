"""Socket.IO: each waiting page joins its own payment's room with the page's secret token."""

from typing import Any

from flask_socketio import emit, join_room, leave_room

from db_models import Payment
from extensions import socketio
from repository.payments import TOKEN_LENGTH, get_payment_by_token
from routes.presenters import payment_status_json

STATUS_EVENT = "payment_status"


def payment_room(token: str) -> str:
    """The room of one payment; named by its secret token, so it cannot be guessed."""
    return f"payment:{token}"


def publish_payment_status(payment: Payment) -> None:
    """Tell the pages watching payment its new status; called after the commit."""
    socketio.emit(STATUS_EVENT, payment_status_json(payment), to=payment_room(payment.token))


@socketio.on("subscribe")
def subscribe(data: Any) -> dict[str, Any]:
    """Join a payment's room and send its status at once, so no earlier change is missed."""
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return {"ok": False, "error": {"code": "invalid_token", "message": 'send {"token": "..."}'}}
    room = payment_room(token)
    # Join before reading: a confirmation committed after the read is then emitted to us.
    join_room(room)
    payment = get_payment_by_token(token)
    if payment is None:
        leave_room(room)
        return {"ok": False, "error": {"code": "payment_not_found", "message": "no payment has this token"}}
    status = payment_status_json(payment)
    emit(STATUS_EVENT, status)
    return {"ok": True, "payment": status}
