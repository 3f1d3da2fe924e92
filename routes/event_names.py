"""Client events named like python-socketio's own handlers reach the catch-all, as any unknown event does.

python-socketio (5.x) looks a client's event name up in the handler table before the catch-all: an event called
"connect" would run the connect handler again with the client's arguments, and one called "*" would run the
catch-all without its event name, so Flask-SocketIO took the client's first argument for the session id (a
traceback, or another connection's session read as this one's). A name that is no string fails the lookup itself.
This wraps the server's private `_handle_event`; python-socketio is pinned, and tests/test_hostile_input.py sends
these names.
"""

from typing import Any

import socketio

RESERVED_NAMES = frozenset({"connect", "disconnect", "*"})
UNKNOWN_NAME = "\x00unknown"  # no handler can have it: it goes to the catch-all and its refusal


def is_ordinary_name(name: Any) -> bool:
    """Whether a client may use name as an event's: a string no handler table reserves."""
    return isinstance(name, str) and name not in RESERVED_NAMES


def route_reserved_names_to_catch_all(server: socketio.Server) -> None:
    """Rename, before dispatch, any client event whose name is not ordinary."""
    handle_event = server._handle_event

    def ordinary_names_only(eio_sid: str, namespace: str | None, ack_id: int | None, data: list[Any]) -> None:
        if data and not is_ordinary_name(data[0]):
            data = [UNKNOWN_NAME, *data[1:]]
        handle_event(eio_sid, namespace, ack_id, data)

    server._handle_event = ordinary_names_only
