"""Who is an operator: the holder of ADMIN_TOKEN (kept in a cookie on /admin), or of a ticket /admin handed out.

The ticket lets the dashboard's Socket.IO connection into the operators' room: that connection is made to
/socket.io, where the /admin cookie is never sent. It is signed with ADMIN_TOKEN, so a new token voids it.
"""

import hmac
from datetime import UTC, datetime

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE = "pix_admin"
TICKET_HOURS = 12
# Development without ADMIN_TOKEN, where /admin is open anyway: tickets still keep buyers out of the room.
DEVELOPMENT_TICKET_KEY = "development-only-operator-ticket-key"
_SALT = "pix-operators-room"


def is_operator() -> bool:
    """Whether this request comes from an operator: its cookie holds ADMIN_TOKEN (anyone, without a token)."""
    # Development without a token: the operator is whoever runs make run.
    return not current_app.config["ADMIN_TOKEN"] or token_matches(request.cookies.get(COOKIE, ""))


def token_matches(sent: str) -> bool:
    """Whether sent is ADMIN_TOKEN (never, without one)."""
    token = current_app.config["ADMIN_TOKEN"]
    return bool(token) and hmac.compare_digest(sent.encode(), token.encode())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["ADMIN_TOKEN"] or DEVELOPMENT_TICKET_KEY, salt=_SALT)


def operator_ticket() -> str:
    """A ticket into the operators' room, good for TICKET_HOURS."""
    return _serializer().dumps("operator")


def ticket_seconds_left(ticket: object) -> float | None:
    """How long ticket stays good, when it is one of ours and unexpired; None for anything else a client sends."""
    if not isinstance(ticket, str) or len(ticket) > 200 or not ticket.isascii():
        return None
    try:
        subject, issued = _serializer().loads(ticket, max_age=TICKET_HOURS * 3600, return_timestamp=True)
    except BadData:
        return None
    return TICKET_HOURS * 3600 - (datetime.now(UTC) - issued).total_seconds() if subject == "operator" else None
