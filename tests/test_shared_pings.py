"""The server's one ping loop, on the real server and each runtime: every page is pinged on time, the silent dropped."""

import json
import selectors
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import websocket

from tests.cluster import wait_for
from tests.live_server import GREEN_RUNTIMES, LiveServer

INTERVAL = 1
TIMEOUT = 2
PAGES = 40


@pytest.fixture(scope="module", params=GREEN_RUNTIMES)
def pinging_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(
        tmp_path_factory.mktemp("pings"),
        SOCKETIO_ASYNC_MODE=request.param,
        SOCKETIO_PING_INTERVAL=str(INTERVAL),
        SOCKETIO_PING_TIMEOUT=str(TIMEOUT),
    )
    server.start()
    yield server
    server.stop()


def engineio_socket(server: LiveServer) -> websocket.WebSocket:
    connection = websocket.create_connection(
        f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=10
    )
    assert connection.recv().startswith("0{")  # the Engine.IO handshake
    return connection


class Watched:
    """What one raw Engine.IO connection saw: when it was pinged, and when the server closed it."""

    def __init__(self, connection: websocket.WebSocket, answers: bool = True) -> None:
        self.connection, self.answers = connection, answers
        self.pinged: list[float] = []
        self.closed_at: float | None = None


def watch(watched: list[Watched], seconds: float) -> None:
    """Read every connection for seconds, answering pings as a page does where it answers.

    One selector waits on all of them, so each ping is timed when it arrives, not when a pass reaches it.
    """
    started = time.monotonic()
    with selectors.DefaultSelector() as selector:
        for page in watched:
            selector.register(page.connection.sock, selectors.EVENT_READ, page)
        while selector.get_map() and (left := seconds - (time.monotonic() - started)) > 0:
            for key, _ in selector.select(timeout=left):
                page = key.data
                try:
                    frame = page.connection.recv()
                except websocket.WebSocketConnectionClosedException:
                    frame = ""
                if not frame:  # a close frame, or the connection ended
                    page.closed_at = time.monotonic() - started
                    selector.unregister(key.fileobj)
                elif frame == "2":
                    page.pinged.append(time.monotonic() - started)
                    if page.answers:
                        page.connection.send("3")


def test_every_page_is_pinged_each_interval_and_stays_connected(pinging_server: LiveServer) -> None:
    pages = [Watched(engineio_socket(pinging_server)) for _ in range(PAGES)]
    try:
        watch(pages, 5.5)
        for page in pages:
            assert 4 <= len(page.pinged) <= 6, page.pinged
            gaps = [later - earlier for earlier, later in zip(page.pinged, page.pinged[1:], strict=False)]
            assert all(0.7 * INTERVAL < gap < 1.6 * INTERVAL for gap in gaps), gaps
            assert page.closed_at is None
    finally:
        for page in pages:
            page.connection.close()


def test_a_page_that_stops_answering_pings_is_dropped_and_the_others_stay(pinging_server: LiveServer) -> None:
    silent = Watched(engineio_socket(pinging_server), answers=False)
    answering = Watched(engineio_socket(pinging_server))
    try:
        watch([silent, answering], INTERVAL + TIMEOUT + 3)
        assert silent.pinged and silent.closed_at is not None
        assert silent.closed_at < INTERVAL + TIMEOUT + 2
        assert answering.closed_at is None and len(answering.pinged) >= 4
    finally:
        silent.connection.close()
        answering.connection.close()


def test_a_polling_page_that_stops_polling_is_dropped_and_forgotten(pinging_server: LiveServer) -> None:
    before = connections_open(pinging_server)
    with urllib.request.urlopen(f"{pinging_server.url}/socket.io/?EIO=4&transport=polling", timeout=10) as answer:
        sid = json.loads(answer.read().decode()[1:])["sid"]
    assert connections_open(pinging_server) == before + 1
    wait_for(lambda: connections_open(pinging_server) == before, timeout=INTERVAL + TIMEOUT + 5)
    with pytest.raises(urllib.error.HTTPError) as gone:  # Engine.IO no longer knows the session
        urllib.request.urlopen(f"{pinging_server.url}/socket.io/?EIO=4&transport=polling&sid={sid}", timeout=10)
    assert gone.value.code == 400


def connections_open(server: LiveServer) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as answer:
        lines = answer.read().decode().splitlines()
    return next(float(line.split()[1]) for line in lines if line.startswith("pix_socketio_connections "))
