"""A real HTTP server standing in for the shop's webhook endpoint: it records what it receives and answers as told."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """How to answer one request: status, headers, body, and how long to wait first (or between body bytes)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0
    trickle: float = 0.0  # seconds between each byte of the status line and headers
    raw: bytes | None = None  # sent as is instead of an HTTP answer (garbage, half an answer)


@dataclass
class Received:
    """One request as it arrived."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A threaded HTTP server on a loopback port; answer(number, request) decides each reply (200 by default)."""

    def __init__(self, port: int = 0, answer: Callable[[int, Received], Reply] | None = None) -> None:
        self.answer = answer or (lambda _number, _request: Reply())
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Received(time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with receiver.lock:
                    receiver.received.append(request)
                    number = len(receiver.received)
                reply = receiver.answer(number, request)
                time.sleep(reply.delay)
                body = b"" if reply.status in (204, 304) else reply.body  # these have no body in HTTP
                head = f"HTTP/1.1 {reply.status} X\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items()) + "\r\n"
                try:
                    if reply.raw is not None:
                        self.wfile.write(reply.raw)
                        self.close_connection = True
                        return
                    if reply.trickle:
                        for byte in head.encode():
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(head.encode())
                    self.wfile.write(body)
                except OSError:
                    pass  # the sender gave up on us: as a real slow endpoint would see it

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict[str, Any]]:
        """The JSON bodies received, in arrival order."""
        with self.lock:
            return [json.loads(request.body) for request in self.received]
