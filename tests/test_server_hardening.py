"""The real server, on each green runtime, against clients that misbehave at the HTTP level: chunked, silent or slow."""

import json
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from green_servers import apply_mask
from log_setup import HTTP_METHODS
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook
from tests.live_server import GREEN_RUNTIMES, LiveServer, health_ms, server_log

IDLE_SECONDS = 1
HEADER_SECONDS = 1


@pytest.fixture(scope="module", params=GREEN_RUNTIMES)
def strict_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server on each runtime with one-second idle and header timeouts, so silence is punished quickly."""
    server = LiveServer(
        tmp_path_factory.mktemp("strict-server"),
        SOCKETIO_ASYNC_MODE=request.param,
        HTTP_IDLE_TIMEOUT=str(IDLE_SECONDS),
        HTTP_HEADER_TIMEOUT=str(HEADER_SECONDS),
        SOCKETIO_PING_INTERVAL="1",
        SOCKETIO_PING_TIMEOUT="2",
    )
    server.start()
    yield server
    server.stop()


def raw_request(server: LiveServer, head: bytes, chunks: list[bytes]) -> tuple[int, dict]:
    """Send head and a chunked body over a plain socket; the status and JSON body of the answer."""
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    return answer_to(server, head + body)


def answer_to(server: LiveServer, request: bytes) -> tuple[int, dict]:
    """Send request bytes as they are over a plain socket; the status and JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(request)
        return read_answer(connection)


def read_answer(connection: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the next whole answer on connection, however many reads it takes."""
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < content_length(answer):
        data = connection.recv(65536)
        if not data:
            break
        answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2] or b"null")


def content_length(answer: bytes) -> int:
    for line in answer.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def chunked_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Transfer-Encoding: chunked", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_chunked_signed_confirmation_is_read_and_applied(strict_server: LiveServer) -> None:
    payment = strict_server.create_payment(25)
    raw = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 25}).encode()
    headers = sign_webhook(DEVELOPMENT_WEBHOOK_SECRET, raw) | {"Content-Type": "application/json"}
    status, body = raw_request(strict_server, chunked_head("/payments/pix/confirmation", headers), [raw[:7], raw[7:]])
    assert (status, body["payment"]["status"]) == (200, "paid")


def test_a_chunked_body_over_the_limit_gets_413(strict_server: LiveServer) -> None:
    head = chunked_head("/payments/pix", {"Content-Type": "application/json"})
    status, body = raw_request(strict_server, head, [b" " * 40_000, b" " * 40_000, b'{"value": 1}'])
    assert (status, body["error"]["code"]) == (413, "request_entity_too_large")


def test_a_malformed_chunked_body_gets_400(strict_server: LiveServer) -> None:
    head = chunked_head("/payments/pix", {"Content-Type": "application/json"})
    status, body = answer_to(strict_server, head + b"zz\r\n{}\r\n0\r\n\r\n")
    assert (status, body["error"]["code"]) == (400, "invalid_body")


def closed_within(connection: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes connection (sending trickle byte by byte meanwhile), or None."""
    connection.settimeout(0.2)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if trickle:
            try:
                connection.send(trickle[:1])
            except OSError:
                return time.monotonic() - started
            trickle = trickle[1:]
        try:
            if connection.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


@pytest.mark.parametrize(
    ("version", "keep"), [("1.1", b""), ("1.0", b"Connection: keep-alive\r\n")], ids=["http-1.1", "http-1.0"]
)
def test_a_connection_is_kept_while_the_client_asks_and_closed_when_it_says_close(
    strict_server: LiveServer, version: str, keep: bytes
) -> None:
    get_health = f"GET /health HTTP/{version}\r\nHost: 127.0.0.1\r\n".encode()
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=10) as connection:
        for _ in range(2):
            connection.sendall(get_health + keep + b"\r\n")
            assert read_answer(connection)[0] == 200
        connection.sendall(get_health + b"Connection: close\r\n\r\n")
        assert read_answer(connection)[0] == 200
        assert closed_within(connection, IDLE_SECONDS / 2) is not None  # at once, not when idle


def test_a_silent_connection_is_closed(strict_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", strict_server.port)) as connection:
        assert closed_within(connection, IDLE_SECONDS + 3) is not None


def test_headers_that_trickle_in_are_cut_off(strict_server: LiveServer) -> None:
    endless = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 1000
    with socket.create_connection(("127.0.0.1", strict_server.port)) as connection:
        # One byte every 0.2 s never lets a read time out; the deadline for all headers still does.
        assert closed_within(connection, IDLE_SECONDS + HEADER_SECONDS + 3, trickle=endless) is not None


def test_a_waiting_page_outlives_the_idle_timeout(strict_server: LiveServer) -> None:
    payment = strict_server.create_payment(3)
    page = socketio.Client(reconnection=False)
    statuses: list[str] = []
    page.on("payment_status", lambda data: statuses.append(data["status"]))
    page.connect(strict_server.url, transports=["websocket"], wait_timeout=10)
    try:
        page.call("subscribe", {"token": payment["page_url"].rsplit("/", 1)[1]}, timeout=10)
        time.sleep(IDLE_SECONDS * 4)  # pings keep it talking
        assert page.connected
        assert strict_server.confirm(payment)[0] == 200
        deadline = time.monotonic() + 5
        while "paid" not in statuses and time.monotonic() < deadline:
            time.sleep(0.05)
        assert statuses == ["pending", "paid"]
    finally:
        page.disconnect()


@given(
    data=st.binary(max_size=2000),
    mask=st.binary(min_size=4, max_size=4),
    cut=st.integers(0, 2000),
    offset=st.integers(0, 9),
)
def test_websocket_masking_is_rfc_6455s_for_any_payload(data: bytes, mask: bytes, cut: int, offset: int) -> None:
    length = min(cut, len(data))  # eventlet masks the first length bytes of what it read, from the mask's offset
    expected = bytes(byte ^ mask[(offset + i) % 4] for i, byte in enumerate(data[:length]))  # RFC 6455, 5.3
    assert apply_mask(data, mask, length, offset) == expected
    assert apply_mask(data, mask) == bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


# The headers each server reads again once the request is parsed, among any others. Body framing (Content-Length,
# Transfer-Encoding, Expect) is left to the tests above: a body the server waits for would only time out.
header_names = st.sampled_from(["Connection", "X-Forwarded-For", "Upgrade", "Host", "Sec-WebSocket-Key"]) | st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&'*+^`|~", min_size=1, max_size=20
)
methods_of_a_clients_own = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=12)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "POST", "HEAD"])
    | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=12),
    version=st.sampled_from(["1.1", "1.0"]),
    headers=st.lists(st.tuples(header_names, header_values), max_size=8),
)
def test_any_request_headers_get_an_answer_under_500_and_leave_the_server_serving(
    strict_server: LiveServer, method: str, version: str, headers: list[tuple[str, str]]
) -> None:
    before = len(server_log(strict_server))
    lines = [f"{method} /health HTTP/{version}", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers)]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", strict_server.port), timeout=10) as connection:
        connection.sendall(request * 2)  # a second request behind the first, for a connection kept alive
        answer = connection.recv(65536)
    if answer:  # a request line or header the server cannot parse may be answered by closing
        assert int(answer.split(maxsplit=2)[1]) < 500, answer[:200]
    assert "Traceback" not in server_log(strict_server)[before:]
    assert health_ms(strict_server) < 1000
    if method not in HTTP_METHODS:  # a method of the client's own is no series of its own, kept for good
        with urllib.request.urlopen(f"{strict_server.url}/metrics", timeout=10) as scraped:
            assert f'method="{method}"' not in scraped.read().decode()
