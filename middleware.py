"""WSGI layers in front of everything, Socket.IO included: trusted hosts with their ports, whole bodies, and the
security headers on what Engine.IO answers itself."""

import io
import json
import re
import types
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from werkzeug.sansio.utils import host_is_trusted

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DEFAULT_PORTS = {"http": 80, "https": 443}
# A name or a bracketed IPv6 literal, then an optional port.
HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[^:\[\]/@\s]+)(?::(?P<port>[0-9]{1,5}))?")


def flat_call(app: WSGIApp) -> WSGIApp:
    """app, in a form whose call nests no C frame on CPython 3.11: an object's bound __call__ runs in its caller's
    C frame, where calling the object itself nests one. Each nested frame stays in the saved stack of every
    waiting page's green thread: about 0.7 KiB a page each (measured at 10,000 pages)."""
    return app if isinstance(app, types.FunctionType | types.MethodType) else app.__call__


# What every answer Flask does not make carries (routes/security_headers.py sets Flask's): JSON or Engine.IO
# packets, never a page.
BARE_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
]


def json_error(start_response: Callable[..., Any], status: int, code: str, message: str) -> list[bytes]:
    """Answer with the API's one error shape, before any Flask code runs."""
    body = json.dumps({"error": {"status": status, "code": code, "message": message}}).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *BARE_HEADERS,
        ],
    )
    return [body]


def socketio_headers(app: WSGIApp, prefix: str = "/socket.io/") -> WSGIApp:
    """app, with BARE_HEADERS added to the answers Engine.IO writes itself (polling packets carry what clients
    sent, and must never be sniffed as a page)."""

    def call(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("PATH_INFO", "").startswith(prefix):
            return app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers += [(name, value) for name, value in BARE_HEADERS if name.lower() not in present]
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return call


def split_host(host: str) -> tuple[str, int | None]:
    """(name, port or None) of a Host header; an empty name when it is malformed."""
    match = HOST.fullmatch(host)
    if match is None:
        return "", None
    return match["name"], int(match["port"]) if match["port"] else None


def host_is_listed(host: str, scheme: str, rules: list[tuple[str, int | None]]) -> bool:
    """Whether host names a trusted name on its listed port (or, when none is listed, the scheme's default)."""
    name, port = split_host(host)
    default = DEFAULT_PORTS.get(scheme)
    return any(
        host_is_trusted(name, [allowed]) and (port or default) == (allowed_port or default)
        for allowed, allowed_port in rules
    )


def origin_checker(rules: list[tuple[str, int | None]]) -> Callable[[str, dict[str, Any]], bool]:
    """For Socket.IO's handshake: a browser's Origin must be one of the trusted hosts too."""

    def allowed(origin: str | None, _environ: dict[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser: the Host check above is what applies
        parts = urlsplit(origin)
        return host_is_listed(parts.netloc, parts.scheme, rules)

    return allowed


class TrustedHosts:
    """Refuse any Host not in TRUSTED_HOSTS, port included: links and the Socket.IO handshake use it."""

    def __init__(self, app: WSGIApp, rules: list[tuple[str, int | None]]) -> None:
        self.app = app
        self.rules = rules

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "")
        if not host_is_listed(host, environ.get("wsgi.url_scheme", "http"), self.rules):
            return json_error(start_response, 400, "invalid_host", "this server does not answer to that host")
        return self.app(environ, start_response)


class WholeBody:
    """Read a chunked request body whole, within the size limit, so the app sees the bytes the client sent.

    Without a Content-Length, Werkzeug reads an empty body: a signed confirmation sent chunked would be
    verified against nothing. Here it is read once, bounded, and handed on with its length.
    """

    def __init__(self, app: WSGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
            return self.app(environ, start_response)
        try:
            body = self._read(environ["wsgi.input"])
        except (OSError, ValueError):
            return json_error(start_response, 400, "invalid_body", "the chunked body is malformed")
        if len(body) > self.max_bytes:
            return json_error(
                start_response,
                413,
                "request_entity_too_large",
                f"the body is larger than {self.max_bytes} bytes",
            )
        del environ["HTTP_TRANSFER_ENCODING"]
        environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)

    def _read(self, stream: Any) -> bytes:
        # read(n) may stop at a chunk's end: keep reading until the end, or one byte past the limit.
        chunks, size = [], 0
        while size <= self.max_bytes and (chunk := stream.read(self.max_bytes + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
