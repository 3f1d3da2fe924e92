"""Socket.IO for /admin: a namespace of its own whose room only a connection with an operator's ticket joins.

A buyer's connection lives in the default namespace and hears only its payments' status; this one hears every
payment event, by reference (txid, order_id), never by page token.
"""

import time
from typing import Any

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room

from extensions import socketio
from live_status import OPERATORS_NAMESPACE, OPERATORS_ROOM
from routes.operator_access import ticket_seconds_left
from routes.realtime import refusal

LOOK_EVERY_SECONDS = 60


def connected(auth: Any = None) -> None:
    """Let an operator in (with the ticket /admin handed out) and into the room, for as long as the ticket is
    good; refuse anyone else."""
    ticket = auth.get("ticket") if isinstance(auth, dict) else None
    seconds_left = ticket_seconds_left(ticket)
    if "admin" not in current_app.blueprints or seconds_left is None:
        raise ConnectionRefusedError("operators only: open /admin to get a ticket")
    join_room(OPERATORS_ROOM)
    socketio.start_background_task(_close_when_expired, request.sid, seconds_left)  # type: ignore[attr-defined]


def _close_when_expired(sid: str, seconds: float) -> None:
    """A ticket seen once must not keep a connection hearing every payment after it expired (or leaked); a
    connection that left ends this wait within LOOK_EVERY_SECONDS."""
    expires_at = time.monotonic() + seconds
    while (left := expires_at - time.monotonic()) > 0:
        socketio.sleep(min(left, LOOK_EVERY_SECONDS))
        if not socketio.server.manager.is_connected(sid, OPERATORS_NAMESPACE):
            return
    socketio.server.disconnect(sid, namespace=OPERATORS_NAMESPACE)


def unknown_event(event: str, *_args: Any) -> dict[str, Any]:
    """The room only listens: say so to a client that talks."""
    return refusal("unknown_event", "the operators' namespace takes no events")


def register_operator_handlers() -> None:
    """Attach the operators' namespace to the unbound socketio extension."""
    socketio.on_event("connect", connected, namespace=OPERATORS_NAMESPACE)
    socketio.on_event("*", unknown_event, namespace=OPERATORS_NAMESPACE)
