"""Which runtime each process runs on: the server on its green runtime, every other process on real threads."""

import os
from pathlib import Path

import pytest
import socketio

from tests.cluster import wait_for
from tests.live_server import GREEN_RUNTIMES, LiveServer, python_in_repo

# What the app a flask command loaded runs on: Socket.IO's mode, and whose socket and lock the standard library has.
REPORT = """
import json, socket, threading
from extensions import socketio
print(json.dumps([socketio.async_mode, socket.socket.__module__, type(threading.Lock()).__module__]))
"""


@pytest.mark.parametrize("runtime", GREEN_RUNTIMES)
@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_the_server_runs_on_its_runtime_and_a_page_hears_it_paid(tmp_path: Path, runtime: str, transport: str) -> None:
    server = LiveServer(tmp_path, SOCKETIO_ASYNC_MODE=runtime)
    server.start()
    page = socketio.Client(reconnection=False)
    try:
        assert f"with {runtime}" in server.log_path.read_text()
        payment = server.create_payment(1990)
        statuses: list[str] = []
        page.on("payment_status", lambda status: statuses.append(status["status"]))
        page.connect(server.url, transports=[transport], wait_timeout=10)
        assert page.call("subscribe", {"token": payment["page_url"].rsplit("/", 1)[1]}, timeout=10)["ok"]
        assert server.confirm(payment)[0] == 200
        wait_for(lambda: "paid" in statuses)
        assert statuses == ["pending", "paid"]
    finally:
        page.disconnect()
        server.stop()


@pytest.mark.parametrize("runtime", [*GREEN_RUNTIMES, "threading"])
def test_every_flask_command_keeps_real_threads(tmp_path: Path, runtime: str) -> None:
    # `flask --app app pix worker` and the CLI import app.py late, not as __main__: whatever the setting says.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOCKETIO_", "DATABASE_"))}
    env |= {"SOCKETIO_ASYNC_MODE": runtime, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    printed = python_in_repo("-m", "flask", "--app", "app", "shell", env=env, stdin=REPORT)
    assert '["threading", "socket", "_thread"]' in printed
