"""A budget per Socket.IO connection: no client can flood the process or make it buffer what it never reads.

It sits between Engine.IO and python-socketio, on the `eio.on` hooks and `eio.send`, so an event over budget is
refused before python-socketio spawns a handler for it. It also reads Engine.IO's socket table and queues, which
are not a public API: python-engineio is pinned, and tests/test_socket_abuse.py checks all of it on the real server.
"""

import contextlib
import logging
import socket
import time
from typing import Any

import engineio.packet
import socketio
from engineio.exceptions import SocketIsClosedError
from socketio import packet

import metrics
from routes.throttled_log import ThrottledLog

log = logging.getLogger(__name__)
dropped = ThrottledLog(log)
MAX_BARRED = 10_000
# Where green_servers.gevent_server puts each request's connection (gevent's pywsgi exposes none).
GEVENT_CONNECTION = "pix.connection"
BINARY_PACKETS = (str(packet.BINARY_EVENT), str(packet.BINARY_ACK))
OVER_BUDGET = {"ok": False, "error": {"code": "rate_limited", "message": "too many events: slow down"}}


def connection_of(environ: dict[str, Any]) -> socket.socket | None:
    """The TCP connection a client's Socket.IO session was opened on, where the server exposes it."""
    if "eventlet.input" in environ:
        return environ["eventlet.input"].get_socket()
    return environ.get("werkzeug.socket") or environ.get(GEVENT_CONNECTION)


def _closed(_packet: Any) -> None:
    raise SocketIsClosedError


def _engineio_frames_only(websocket: type) -> type:
    """The driver's websocket, where a frame that is no Engine.IO packet ends the connection.

    Engine.IO decodes each frame outside any handler: a bad one would end its loop with a traceback and leave the
    connection's writer waiting for good.
    """

    class EngineioFramesOnly(websocket):
        def wait(self) -> Any:
            frame = super().wait()
            if frame is None:  # the client closed the connection
                return None
            try:
                engineio.packet.Packet(encoded_packet=frame)
            except ValueError:  # empty, no packet type, bad base64
                dropped.warning("websocket client disconnected: sent a frame that is no Engine.IO packet")
                return None  # the connection is over, as when the client closes it
            return frame

    return EngineioFramesOnly


class TokenBucket:
    """`rate` events a second on average, `burst` at once; refusals in a row are counted as strikes."""

    __slots__ = ("strikes", "tokens", "updated")

    def __init__(self, burst: int) -> None:
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.strikes = 0

    def spend(self, rate: float, burst: int) -> bool:
        """Take one token if there is one; False (and a strike) when the budget is spent."""
        now = time.monotonic()
        self.tokens = min(burst, self.tokens + (now - self.updated) * rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        return False


class ConnectionBudget:
    """Meter every packet a client sends, cap the packets waiting for it, and keep abusers out for a while."""

    def __init__(
        self,
        server: socketio.Server,
        rate: float,
        burst: int,
        max_queued: int,
        cooldown: float,
        sessions_per_address: int,
    ) -> None:
        self.server = server
        self.eio = server.eio
        self.rate, self.burst, self.max_queued, self.cooldown = rate, burst, max_queued, cooldown
        self.buckets: dict[str, TokenBucket] = {}
        # Open Engine.IO sessions by address: a polling handshake holds no connection, only memory until its
        # ping timeout, so without a cap one client could open them by the hundred thousand.
        self.sessions_per_address = sessions_per_address
        self.sessions: dict[str, int] = {}
        # Address -> until when (monotonic) its new connections are refused: a cut-off abuser reconnects at once.
        self.barred: dict[str, float] = {}
        self._connect = self.eio.handlers["connect"]
        self._deliver = self.eio.handlers["message"]
        self._forget = self.eio.handlers["disconnect"]
        self._send = self.eio.send
        self.eio.on("connect", self.connect)
        self.eio.on("message", self.receive)
        self.eio.on("disconnect", self.disconnected)
        self.eio.send = self.send
        if (websocket := self.eio._async.get("websocket")) is not None:
            # A copy: the driver's table is shared by every server in the process.
            self.eio._async = self.eio._async | {"websocket": _engineio_frames_only(websocket)}

    def connect(self, eio_sid: str, environ: dict[str, Any]) -> bool | None:
        """Refuse a new session from an address that was cut off for abuse moments ago, or that holds as many
        sessions as one address may."""
        address = environ.get("REMOTE_ADDR", "")
        if address in self.barred:
            if time.monotonic() < self.barred[address]:
                return False  # a page falls back to polling its status; the abuser gets nothing to chew on
            del self.barred[address]
        if self.sessions.get(address, 0) >= self.sessions_per_address:
            dropped.warning("socket.io session refused: %s already holds %d", address, self.sessions_per_address)
            return False
        accepted = self._connect(eio_sid, environ)
        if accepted is not False:
            self.sessions[address] = self.sessions.get(address, 0) + 1
            metrics.SOCKET_CONNECTIONS.inc()
        return accepted

    def receive(self, eio_sid: str, data: Any) -> None:
        """One packet from a client: delivered within budget, refused with an error ack beyond it."""
        # A client whose packets keep arriving must not keep this green thread from yielding to the others.
        self.eio.sleep(0)
        if eio_sid not in self.eio.sockets:
            return  # dropped already; its reader has not noticed yet
        if isinstance(data, bytes) or data[:1] in BINARY_PACKETS:
            # The protocol carries no binary data, and python-socketio keeps a binary event's attachments until
            # as many as it announced have come: never, for a count of 9,999,999,999, while the memory grows.
            self.drop(eio_sid, "sent binary data, which this protocol has none of", abusive=True)
            return
        bucket = self.buckets.get(eio_sid) or self.buckets.setdefault(eio_sid, TokenBucket(self.burst))
        if not bucket.spend(self.rate, self.burst):
            if bucket.strikes > self.burst:
                self.drop(eio_sid, "kept sending far over its event budget", abusive=True)
            else:
                self.refuse(eio_sid, data)
            return
        try:
            self._deliver(eio_sid, data)
        except Exception as error:  # python-socketio could not read the packet
            self.drop(eio_sid, f"sent a malformed packet ({type(error).__name__})", abusive=True)

    def refuse(self, eio_sid: str, data: Any) -> None:
        """Answer an event over budget with an error ack, so an honest client knows to slow down."""
        try:
            event = self.server.packet_class(encoded_packet=data)
        except Exception:
            self.drop(eio_sid, "sent a malformed packet", abusive=True)
            return
        if event.packet_type == packet.EVENT and event.id is not None:
            ack = self.server.packet_class(packet.ACK, namespace=event.namespace, data=[OVER_BUDGET], id=event.id)
            self.send(eio_sid, ack.encode())

    def send(self, eio_sid: str, data: Any) -> None:
        """Queue data for a client, unless it has stopped reading what was queued before."""
        client = self.eio.sockets.get(eio_sid)
        if client is not None and client.queue.qsize() >= self.max_queued:
            self.drop(eio_sid, f"does not read: {self.max_queued} packets wait for it")
            return
        self._send(eio_sid, data)

    def drop(self, eio_sid: str, why: str, abusive: bool = False) -> None:
        """Disconnect a client at once and say so, in a throttled log line; bar its address if it abused."""
        client = self.eio.sockets.pop(eio_sid, None)
        if client is None:
            return
        environ = self.server.environ.get(eio_sid, {})
        dropped.warning("socket.io client %s from %s disconnected: %s", eio_sid, environ.get("REMOTE_ADDR"), why)
        if abusive and self.cooldown:
            self.bar(environ.get("REMOTE_ADDR", ""))
        connection = connection_of(environ)
        # Neither wait for its queue to drain nor queue a goodbye: a client that does not read gets neither.
        client.close(wait=False, abort=True)
        # Engine.IO's reader would go on parsing whatever the client already sent; this ends its loop at the
        # next packet, and the shutdown ends the writer, so the connection closes now.
        client.receive = _closed
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def bar(self, address: str) -> None:
        """Refuse address's new sessions for the cool-down; the oldest bars go first past MAX_BARRED."""
        self.barred.pop(address, None)  # re-inserted last: the order of the dict is the order of expiry
        self.barred[address] = time.monotonic() + self.cooldown
        while len(self.barred) > MAX_BARRED:
            self.barred.pop(next(iter(self.barred)))

    def disconnected(self, eio_sid: str, reason: Any) -> None:
        """Forget the client's budget, then let python-socketio clean up after it."""
        self.buckets.pop(eio_sid, None)
        address = self.server.environ.get(eio_sid, {}).get("REMOTE_ADDR", "")
        if self.sessions.get(address, 0) > 1:
            self.sessions[address] -= 1
        else:
            self.sessions.pop(address, None)
        metrics.SOCKET_CONNECTIONS.dec()
        self._forget(eio_sid, reason)
