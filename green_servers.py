"""The HTTP and websocket servers for the green runtimes: many idle pages, and no connection held by a silent client.

Both give a client HTTP_IDLE_TIMEOUT plus HTTP_HEADER_TIMEOUT to send a request line and headers, however slowly
they trickle (per-read socket timeouts alone let a client send one byte just before each runs out), and
HTTP_IDLE_TIMEOUT for any later read or write that stalls. A waiting page keeps as little as it can: small
buffers, two of its request headers, a shallow stack. Starting eventlet's server also replaces eventlet's
websocket unmasking (for every websocket in the process) with apply_mask.
"""

from typing import Any

from flask import Flask

from middleware import flat_call
from routes.socket_budget import GEVENT_CONNECTION

MAX_CONNECTIONS = 20_000
LISTEN_BACKLOG = 2048
# A waiting page's connection keeps its read buffer while its websocket lives: 1 KiB holds most requests (longer
# ones take more reads), and 4 KiB of writes hold any of our answers in one send.
READ_BUFFER_BYTES = 1024
WRITE_BUFFER_BYTES = 4096


class WriterOnFirstUse:
    """A connection's buffered writer, made when first used: a websocket page never writes through it (eventlet
    sends the handshake and frames on the socket itself), and its buffer was 4.5 KiB of every waiting page."""

    __slots__ = ("_connection", "_file")

    def __init__(self, connection: Any) -> None:
        self._connection, self._file = connection, None

    @property
    def closed(self) -> bool:
        return self._file is None or self._file.closed

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __getattr__(self, name: str) -> Any:
        if self._file is None:
            self._file = self._connection.makefile("wb", WRITE_BUFFER_BYTES)
        return getattr(self._file, name)


def apply_mask(data: bytes, mask: bytes, length: int | None = None, offset: int = 0) -> bytes:
    """RFC 6455's masking of a websocket payload (the first length bytes of data, the mask's offset-th byte
    first), as one XOR of two integers: eventlet's own goes byte by byte in Python, 46 ms for a 64 KiB frame,
    and every page waits while it runs."""
    size = len(data) if length is None else length
    turned = mask[offset % 4 :] + mask[: offset % 4]
    key = (turned * (size // 4 + 1))[:size]
    return (int.from_bytes(data[:size], "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


class HeadersReadLater(dict):
    """The request headers eventlet still reads once the environ is built (keep-alive, the access log's client).

    eventlet keeps the parsed headers as long as the connection lives, hours for a waiting page, beside the
    environ that holds every value: this keeps the two it asks for again, by lower-case name.
    """

    NAMES = ("connection", "x-forwarded-for")

    def __init__(self, headers: Any) -> None:
        super().__init__((name, value) for name in self.NAMES if (value := headers.get(name)) is not None)

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


def eventlet_server(app: Flask, host: str, port: int) -> None:
    """Serve app with eventlet.wsgi until interrupted."""
    import eventlet
    import eventlet.websocket
    import eventlet.wsgi

    eventlet.websocket.RFC6455WebSocket._apply_mask = staticmethod(apply_mask)

    class DeadlineProtocol(eventlet.wsgi.HttpProtocol):
        """HTTP/1.1 whose request line and headers must arrive in time."""

        header_deadline = app.config["HTTP_IDLE_TIMEOUT"] + app.config["HTTP_HEADER_TIMEOUT"]
        # eventlet's 8 and 16 KiB were a third of a waiting page's memory.
        rbufsize, wbufsize = READ_BUFFER_BYTES, WRITE_BUFFER_BYTES

        def setup(self) -> None:
            super().setup()
            self.wfile = WriterOnFirstUse(self.connection)

        def handle_one_request(self) -> None:
            self.deadline = eventlet.Timeout(self.header_deadline, TimeoutError("request headers too slow"))
            try:
                super().handle_one_request()
            finally:
                self.deadline.cancel()

        def get_environ(self) -> dict[str, Any]:
            environ = super().get_environ()
            del environ["headers_raw"]  # the headers once more, as pairs: nothing reads them
            self.headers = HeadersReadLater(self.headers)
            return environ

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            self.deadline.cancel()  # the headers are in: the application may take its time
            return parsed

        def finish(self) -> None:
            super().finish()
            # The environ holds eventlet's set_idle closure over this protocol: without letting go of it, every
            # connection (every page that leaves) would end as garbage only a full collection frees.
            self.environ = None

    eventlet.wsgi.server(
        eventlet.listen((host, port), backlog=LISTEN_BACKLOG),
        flat_call(app.wsgi_app),  # what Flask's own __call__ calls, one C frame less on every page's stack
        max_size=MAX_CONNECTIONS,
        log_output=False,
        debug=False,  # eventlet would otherwise put tracebacks in the body of a 500
        protocol=DeadlineProtocol,
        keepalive=app.config["HTTP_IDLE_TIMEOUT"],  # waiting for the next request on a kept-alive connection
        socket_timeout=app.config["HTTP_IDLE_TIMEOUT"],  # a read or write that stalls mid-request
    )


def gevent_server(app: Flask, host: str, port: int) -> None:
    """Serve app with gevent's pywsgi until interrupted; websockets through simple-websocket."""
    import gevent
    from gevent.pool import Pool
    from gevent.pywsgi import WSGIHandler, WSGIServer

    class DeadlineHandler(WSGIHandler):
        """HTTP/1.1 whose request line and headers must arrive in time."""

        header_deadline = app.config["HTTP_IDLE_TIMEOUT"] + app.config["HTTP_HEADER_TIMEOUT"]

        def __init__(self, sock, address, server) -> None:
            sock.settimeout(app.config["HTTP_IDLE_TIMEOUT"])  # a read or write that stalls mid-request
            # pywsgi sends an answer's headers and body in two writes: Nagle would hold the body for the ACK.
            sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
            super().__init__(sock, address, server)

        def handle_one_request(self):
            # A silenced timeout: a client too slow with its headers is closed without a word or a traceback.
            self.deadline = gevent.Timeout(self.header_deadline, False)
            self.websocket = False
            with self.deadline:
                result = super().handle_one_request()
                # Once a websocket ends, what is left on its connection is not HTTP: close it.
                return None if self.websocket else result
            return None

        def get_environ(self) -> dict:
            environ = super().get_environ()
            environ[GEVENT_CONNECTION] = self.socket  # so that a connection over its budget can be cut
            self.websocket = environ.get("HTTP_UPGRADE", "").lower() == "websocket"
            if self.websocket:
                # A waiting page may be quiet for a whole ping interval: Engine.IO's pings decide when it is gone.
                self.socket.settimeout(None)
            return environ

        def read_request(self, raw_requestline: str) -> bool:
            parsed = super().read_request(raw_requestline)
            self.deadline.cancel()  # the headers are in: the application may take its time
            return parsed

    listener = gevent.socket.socket()
    listener.setsockopt(gevent.socket.SOL_SOCKET, gevent.socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(LISTEN_BACKLOG)
    application = flat_call(app.wsgi_app)  # what Flask's own __call__ calls, one C frame less on every page's stack
    WSGIServer(
        listener, application, spawn=Pool(MAX_CONNECTIONS), log=None, handler_class=DeadlineHandler
    ).serve_forever()
