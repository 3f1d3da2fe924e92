"""Socket.IO's client manager with each connection's rooms indexed, so a page's subscribe and disconnect cost the
same with 10 or 10,000 other pages waiting.

python-socketio (5.18) finds a connection's rooms, and on disconnect the rooms it must leave, by walking every room
of the namespace; with one room per waiting page that made each page's subscribe and disconnect O(pages), and
opening 10,000 pages quadratic. Here the manager also keeps, per connection, the rooms it is in.

It also counts the pages subscribed to a payment (metrics.PAGES_SUBSCRIBED) as connections enter and leave
payment rooms, so a disconnect needs no handler: Flask-SocketIO runs each handler in a Flask request context,
and that was a third of the CPU a page's disconnect cost.
"""

from typing import Any

import socketio

import metrics
from live_status import is_payment_room
from routes.redis_channel import CONNECT_TIMEOUT_SECONDS, CatchingUpChannel


class IndexedRooms:
    """A mixin for python-socketio's managers: (namespace, sid) -> its rooms, kept on every enter and leave."""

    rooms: dict
    callbacks: dict
    pending_connect: dict
    pending_disconnect: dict

    def initialize(self) -> None:
        super().initialize()  # type: ignore[misc]
        self.rooms_of: dict[tuple[str, str], set[Any]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid)  # type: ignore[misc]
        joined = self.rooms_of.setdefault((namespace, sid), set())
        if room not in joined and is_payment_room(room):
            metrics.PAGES_SUBSCRIBED.inc()
        joined.add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)  # type: ignore[misc]
        joined = self.rooms_of.get((namespace, sid))
        if joined is not None and room in joined:
            joined.discard(room)
            if is_payment_room(room):
                metrics.PAGES_SUBSCRIBED.dec()
            if not joined:
                del self.rooms_of[(namespace, sid)]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        """The rooms sid is in (its own sid room included), as the library answers, without walking the others."""
        return [room for room in self.rooms_of.get((namespace, sid), ()) if room is not None]

    def basic_disconnect(self, sid: str, namespace: str, **_kwargs: Any) -> None:
        """Leave sid's rooms, then what the library's own basic_disconnect does after its walk over every room."""
        for room in list(self.rooms_of.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]


class IndexedManager(IndexedRooms, socketio.Manager):
    """One process's rooms."""


class IndexedRedisManager(IndexedRooms, CatchingUpChannel, socketio.RedisManager):
    """Rooms of several processes, their events carried by Redis; what Redis failed to carry is told again."""


def client_manager(message_queue: str | None, channel: str) -> socketio.Manager:
    """The indexed manager for SOCKETIO_MESSAGE_QUEUE (a Redis URL, checked by config), or for one process."""
    if not message_queue:
        return IndexedManager()
    options = {"socket_connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return IndexedRedisManager(message_queue, channel=channel, redis_options=options)
