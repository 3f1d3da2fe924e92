"""Several real server processes sharing PostgreSQL and a Redis channel, and pages watching them."""

import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import socketio

from tests.live_server import REPO_ROOT, LiveServer
from tests.services import redis_url


def migrate(database_url: str) -> None:
    """Apply the migrations with the documented command, as an operator would before starting processes."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=REPO_ROOT,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        timeout=60,
    )


def start_processes(workdir: Path, count: int, **settings: str) -> list[LiveServer]:
    """count server processes sharing one Redis channel (and whatever settings says)."""
    shared = {"SOCKETIO_MESSAGE_QUEUE": redis_url(), "SOCKETIO_CHANNEL": f"pix-test-{uuid.uuid4().hex}"} | settings
    servers = []
    for number in range(count):
        folder = workdir / f"process-{number}"
        folder.mkdir()
        server = LiveServer(folder, **shared)
        server.start()
        servers.append(server)
    return servers


def watch(base_url: str, payment: dict, transport: str = "websocket") -> tuple[socketio.Client, list[str]]:
    """A page connected to base_url and subscribed to payment; returns the statuses it receives."""
    statuses: list[str] = []
    client = socketio.Client(reconnection=False)
    client.on("payment_status", lambda data: statuses.append(data["status"]))
    client.connect(base_url, transports=[transport], wait_timeout=10)
    ack = client.call("subscribe", {"token": payment["page_url"].rsplit("/", 1)[1]}, timeout=10)
    assert ack["ok"] is True
    return client, statuses


def watch_as_operator(base_url: str) -> tuple[socketio.Client, list[tuple[str, int]]]:
    """An operator's dashboard connected to base_url with the ticket its page hands out; the (event type,
    payment id) pairs it hears."""
    with urllib.request.urlopen(f"{base_url}/admin/") as page:
        ticket = re.search(r'data-ticket="([^"]+)"', page.read().decode()).group(1)  # type: ignore[union-attr]
    heard: list[tuple[str, int]] = []
    operator = socketio.Client(reconnection=False)
    operator.on(
        "operacao", lambda event: heard.append((event["type"], event["payment"]["id"])), namespace="/operadores"
    )
    operator.connect(base_url, namespaces=["/operadores"], auth={"ticket": ticket}, transports=["websocket"])
    return operator, heard


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Poll condition until it holds; AssertionError when timeout passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.02)
