"""No reference cycles left by a request or a page, so that reference counting alone frees them.

The server freezes what survives a young collection (serving.freeze_survivors) to keep full collections short;
anything that dies in a cycle after that would never be freed. These are the cycles Flask would otherwise leave
on every page and every unmatched URL; tests/test_memory.py checks that pages and requests leave none.
"""

from flask import Flask, abort, request


def _answered_by_engineio() -> None:
    abort(404)  # never called: engine.io answers /socket.io/ before Flask sees it


def _drop_routing_exception(_error: BaseException | None) -> None:
    # A URL that matched no rule keeps its NotFound on the request, whose traceback holds the request: a cycle.
    request.routing_exception = None


def register_cycle_breakers(app: Flask) -> None:
    """Give Socket.IO's request contexts a rule to match, and let go of routing errors when a request ends."""
    # Socket.IO handlers run in a request context made from the connection's environ; without a rule for its
    # path, each one's routing raises NotFound, and every page would end as such a cycle.
    app.add_url_rule("/socket.io/", "socketio", _answered_by_engineio, methods=["GET", "POST"])
    app.add_url_rule("/socket.io/", "socketio", _answered_by_engineio, websocket=True)
    app.teardown_request(_drop_routing_exception)
