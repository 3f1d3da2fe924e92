"""One green thread pings every Socket.IO connection and drops those that stop answering.

Engine.IO spawns a task per connection and ping cycle that sleeps ping_interval and sends one ping: with 10,000
waiting pages, 10,000 sleeping green threads of about 6 KiB each. Its monitor then wakes once per connection per
ping_timeout to check for an answer: 500 times a second at 10,000 pages. Every connection waits the same interval
for its ping and the same timeout for its answer, so each falls due in the order it was queued: two queues, read
by one loop, do both jobs (the app starts Engine.IO with monitor_clients=False). Each connection becomes a
SharedPingSocket on connect (a subclass with no state of its own; on green runtimes, routes/socket_writer.py's),
before Engine.IO schedules its first ping; python-engineio is pinned, and tests/test_shared_pings.py checks
pings and ping timeouts on the real server.
"""

import collections
import logging
import time
from typing import Any

import engineio
from engineio import packet
from engineio.socket import Socket

log = logging.getLogger(__name__)
# The longest the loop sleeps: how late a ping scheduled while the queues were empty may be sent.
MAX_NAP = 1.0
# How long after its timeout an unanswered ping is checked, so that Engine.IO's own clock agrees it is over.
TIMEOUT_MARGIN = 0.5


class SharedPingSocket(Socket):
    """An Engine.IO socket whose pings SharedPings sends."""

    def schedule_ping(self) -> None:
        # As Engine.IO's own: only once the previous ping was answered.
        if self.last_ping:
            self.last_ping = None
            self.server.shared_pings.due.append((time.monotonic() + self.server.ping_interval, self))


class SharedPings:
    """The queues of pings that fall due and of pings awaiting their answer, and the one loop that serves both."""

    def __init__(self, eio: engineio.Server, socket_class: type[SharedPingSocket] = SharedPingSocket) -> None:
        self.eio, self.socket_class = eio, socket_class
        self.due: collections.deque[tuple[float, SharedPingSocket]] = collections.deque()
        self.awaiting: collections.deque[tuple[float, SharedPingSocket]] = collections.deque()
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
            connection.__class__ = self.socket_class
        return self._connect(eio_sid, environ) if self._connect else None

    def run(self) -> None:
        """Send every ping as it falls due and drop every connection whose answer did not come in time."""
        while True:
            now = time.monotonic()
            for queue, serve in ((self.due, self.ping), (self.awaiting, self.check)):
                while queue and queue[0][0] <= now:
                    connection = queue.popleft()[1]
                    try:
                        serve(connection, now)
                    except Exception:  # closing runs the app's disconnect handlers: none may stop the loop
                        log.exception("heartbeat of socket.io connection %s failed", connection.sid)
            heads = [queue[0][0] for queue in (self.due, self.awaiting) if queue]
            self.eio.sleep(min(min(heads, default=now + MAX_NAP) - now, MAX_NAP))

    def ping(self, connection: SharedPingSocket, now: float) -> None:
        """Ping connection, and wait for its answer; forget it if it has closed."""
        if connection.closing or connection.closed:
            self.forget(connection)
            return
        connection.last_ping = time.time()
        self.awaiting.append((now + self.eio.ping_timeout + TIMEOUT_MARGIN, connection))
        connection.send(packet.Packet(packet.PING))

    def check(self, connection: SharedPingSocket, now: float) -> None:
        """Close connection if its ping is still unanswered (as Engine.IO's monitor did); forget it once closed."""
        if connection.last_ping and not connection.closed:
            connection.check_ping_timeout()  # closes it when the timeout has passed
            if not connection.closed:  # answered just now, or clocks disagree: look again shortly
                self.awaiting.append((now + TIMEOUT_MARGIN, connection))
                return
        if connection.closed:
            self.forget(connection)

    def forget(self, connection: SharedPingSocket) -> None:
        """Remove a closed connection from Engine.IO's table, as its monitor did."""
        if self.eio.sockets.get(connection.sid) is connection:
            del self.eio.sockets[connection.sid]
