"""One green thread pings every Socket.IO connection, instead of a sleeping green thread of its own for each.

Engine.IO spawns a task per connection and ping cycle that sleeps ping_interval and sends one ping: with 10,000
waiting pages, 10,000 sleeping green threads of about 6 KiB each. Every connection waits the same interval, so
the pings fall due in the order they were scheduled and one queue, read by one loop, keeps them. Each connection
becomes a SharedPingSocket on connect (a subclass with no state of its own), before Engine.IO schedules its first
ping; python-engineio is pinned, and tests/test_shared_pings.py checks pings and ping timeouts on the real server.
"""

import collections
import logging
import time
from typing import Any

import engineio
from engineio import packet
from engineio.socket import Socket

log = logging.getLogger(__name__)
# The longest the loop sleeps: how late a ping scheduled while the queue was empty may be sent.
MAX_NAP = 1.0


class SharedPingSocket(Socket):
    """An Engine.IO socket whose pings SharedPings sends."""

    def schedule_ping(self) -> None:
        # As Engine.IO's own: only once the previous ping was answered.
        if self.last_ping:
            self.last_ping = None
            self.server.shared_pings.due.append((time.monotonic() + self.server.ping_interval, self))


class SharedPings:
    """The queue of pings that fall due, and the one loop that sends them."""

    def __init__(self, eio: engineio.Server) -> None:
        self.eio = eio
        self.due: collections.deque[tuple[float, SharedPingSocket]] = collections.deque()
        eio.shared_pings = self
        self._connect = eio.handlers.get("connect")
        eio.on("connect", self.connect)
        self.loop = None

    def connect(self, eio_sid: str, environ: dict[str, Any]) -> bool | None:
        """Hand the new connection's pings to the loop, then let the application accept or refuse it."""
        if self.loop is None:
            self.loop = self.eio.start_background_task(self.run)
        connection = self.eio.sockets.get(eio_sid)
        if type(connection) is Socket:
            connection.__class__ = SharedPingSocket
        return self._connect(eio_sid, environ) if self._connect else None

    def run(self) -> None:
        """Send every ping as it falls due, for as long as the server runs."""
        while True:
            now = time.monotonic()
            while self.due and self.due[0][0] <= now:
                _due, connection = self.due.popleft()
                if not connection.closing and not connection.closed:
                    connection.last_ping = time.time()
                    try:
                        connection.send(packet.Packet(packet.PING))
                    except Exception:  # a connection closing under us must not stop everyone's pings
                        log.debug("ping to %s not sent", connection.sid, exc_info=True)
            self.eio.sleep(min(self.due[0][0] - now, MAX_NAP) if self.due else MAX_NAP)
