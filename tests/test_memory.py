"""What a page or a request leaves behind in the real server: nothing, once it is gone.

The server freezes what survives a young collection every second, so full collections stay short; that is only
safe if nothing dies in a reference cycle (it would never be freed). Here a server with its freezer running
takes pages that come and go and requests of every kind, and then is asked how much of what it had frozen was
cyclic garbage.
"""

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from tests.cluster import wait_for
from tests.live_server import GREEN_RUNTIMES, LiveServer

PAGES = 150
# Answers SIGUSR1 with how many formerly frozen objects were garbage: collected first, the young do not count.
PROBE = """
import gc, json, os, signal
def _leaked(*_):
    gc.collect()
    gc.unfreeze()
    with open(os.environ["LEAK_REPORT"], "w") as report:
        json.dump({"leaked": gc.collect()}, report)
signal.signal(signal.SIGUSR1, _leaked)
"""


@pytest.fixture(params=GREEN_RUNTIMES)
def probed_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "sitecustomize.py").write_text(PROBE)
    server = LiveServer(
        tmp_path,
        SOCKETIO_ASYNC_MODE=request.param,
        PYTHONPATH=str(tmp_path / "probe"),
        LEAK_REPORT=str(tmp_path / "leaks.json"),
    )
    server.start()
    yield server
    server.stop()


def page_comes_and_goes(server: LiveServer, payment: dict, statuses: list[str]) -> None:
    page = socketio.Client(reconnection=False)
    page.on("payment_status", lambda status: statuses.append(status["status"]))
    page.connect(server.url, transports=["websocket"], wait_timeout=10)
    assert page.call("subscribe", {"token": payment["page_url"].rsplit("/", 1)[1]}, timeout=10)["ok"]
    page.disconnect()


def gauges(server: LiveServer) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.url}/metrics") as answer:
        lines = answer.read().decode().splitlines()
    wanted = ("pix_socketio_connections ", "pix_pages_subscribed ", "pix_gc_frozen_objects ")
    return {line.split()[0]: float(line.split()[1]) for line in lines if line.startswith(wanted)}


def test_pages_and_requests_that_are_gone_leave_nothing_behind(probed_server: LiveServer) -> None:
    server = probed_server
    payments = [server.create_payment(10) for _ in range(PAGES)]
    statuses: list[str] = []
    started = time.monotonic()
    for number, payment in enumerate(payments):
        if number % 3 == 0:
            assert server.confirm(payment)[0] == 200
        page_comes_and_goes(server, payment, statuses)
        for path, method in (("/no-such-page", "GET"), ("/payments/pix", "PUT"), ("/payments/pix/x/status", "GET")):
            assert server.request(method, path)[0] in (404, 405)
    assert statuses.count("paid") == PAGES // 3 and len(statuses) == PAGES
    time.sleep(max(0.0, 3 - (time.monotonic() - started)))  # the freezer ran while pages were open and after
    wait_for(lambda: gauges(server)["pix_socketio_connections"] == gauges(server)["pix_pages_subscribed"] == 0)
    assert gauges(server)["pix_gc_frozen_objects"] > 10_000  # the freezer ran: the app's own objects, at least

    report = Path(server.env["LEAK_REPORT"])
    os.kill(server.process.pid, signal.SIGUSR1)  # type: ignore[union-attr]
    wait_for(report.exists)
    wait_for(lambda: report.read_text() != "")
    leaked = json.loads(report.read_text())["leaked"]
    # Before the cycle breakers, each page alone left about 165 objects in cycles.
    assert leaked < PAGES, f"{leaked} objects died in reference cycles after being frozen"
