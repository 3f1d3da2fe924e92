"""Several real server processes sharing PostgreSQL and a Redis channel, and pages watching them."""

import subprocess
import sys
import time
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


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> None:
    """Poll condition until it holds; AssertionError when timeout passes first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.02)
