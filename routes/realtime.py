"""Socket.IO: each waiting page joins its own payment's room with the page's secret token."""

import logging
import traceback
from typing import Any

from flask import current_app
from flask_socketio import emit, join_room, leave_room, rooms

from extensions import socketio
from live_status import STATUS_EVENT, is_payment_room, payment_room, payment_status_json
from repository.payments import get_payment_by_token, is_page_token
from routes.errors import DATABASE_UNAVAILABLE, DatabaseUnavailable, roll_back
from routes.throttled_log import ThrottledLog

log = logging.getLogger(__name__)
# A client can make a handler fail as often as it likes: one short line each, and not too many.
failures = ThrottledLog(log)


def refusal(code: str, message: str) -> dict[str, Any]:
    """The acknowledgement of an event the server did not act on."""
    return {"ok": False, "error": {"code": code, "message": message}}


def subscribe(*args: Any) -> dict[str, Any]:
    """Join a payment's room and send its status at once, so no earlier change is missed."""
    token = args[0].get("token") if len(args) == 1 and isinstance(args[0], dict) else None
    if not is_page_token(token):
        return refusal("invalid_token", 'send one argument, {"token": "<the page token>"}')
    room = payment_room(token)
    subscribed = [name for name in rooms() if is_payment_room(name)]
    if room not in subscribed and len(subscribed) >= current_app.config["SOCKETIO_MAX_SUBSCRIPTIONS"]:
        return refusal("too_many_subscriptions", "this connection already follows as many payments as it may")
    # Join before reading: a confirmation committed after the read is then emitted to us.
    join_room(room)
    try:
        payment = get_payment_by_token(token)
    except Exception:
        leave_room(room)  # a failed read must not keep the room, nor count against the connection's limit
        raise
    if payment is None:
        leave_room(room)
        return refusal("payment_not_found", "no payment has this token")
    status = payment_status_json(payment)
    emit(STATUS_EVENT, status, ignore_queue=True)  # to this connection, here: no other process has it
    return {"ok": True, "payment": status}


def unknown_event(event: str, *_args: Any) -> dict[str, Any]:
    """Answer events nobody handles, so a client learns of its mistake instead of waiting for an ack."""
    return refusal("unknown_event", "this server only understands subscribe")


def handler_failed(error: Exception) -> dict[str, Any]:
    """Any handler failure: roll back, log one throttled line, and acknowledge with an error."""
    roll_back()
    if isinstance(error, DATABASE_UNAVAILABLE):
        failures.warning("socket.io handler: database unavailable: %s", error)
        return refusal(DatabaseUnavailable.api_code, DatabaseUnavailable.description)
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    failures.warning(
        "socket.io handler failed: %s at %s", type(error).__name__, f"{where.filename}:{where.lineno}" if where else "?"
    )
    return refusal("internal_error", "the server could not handle this event")


def register_socket_handlers() -> None:
    """Attach the handlers to the unbound socketio extension."""
    socketio.on_event("subscribe", subscribe)
    socketio.on_event("*", unknown_event)
    socketio.on_error_default(handler_failed)
