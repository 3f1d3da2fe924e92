"""The real server, started as `make run` starts it (`python app.py`, eventlet), on a free loopback port."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from config import DEFAULTS
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook

REPO_ROOT = Path(__file__).resolve().parents[1]
# The server's green runtimes: eventlet is the default, gevent the supported alternative (see runtime.py).
GREEN_RUNTIMES = ("eventlet", "gevent")


def python_in_repo(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    """What `python args...` run from the repository prints, once it has exited cleanly (within 60 s)."""
    answer = subprocess.run(
        [sys.executable, *args], input=stdin, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 0, answer.stderr
    return answer.stdout


def health_ms(server: "LiveServer") -> float:
    """How long server takes to answer /health with 200, in ms."""
    started = time.monotonic()
    with urllib.request.urlopen(f"{server.url}/health", timeout=10) as response:
        assert response.status == 200
    return (time.monotonic() - started) * 1000


def server_log(server: "LiveServer") -> str:
    """Everything server has logged so far."""
    return server.log_path.read_text(errors="replace")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate process, and kill it if it does not stop within 10 s."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class CheckoutClient:
    """The shop's and the bank's side of the API, over real HTTP, against any base URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple:
        """(status, parsed JSON body) of a request to the server."""
        request = urllib.request.Request(f"{self.url}{path}", body, headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def create_payment(self, value: Any = 1500) -> dict[str, Any]:
        """A new payment, created through the API."""
        body = json.dumps({"value": value}).encode()
        status, answer = self.request("POST", "/payments/pix", body, {"Content-Type": "application/json"})
        assert status == 201, answer
        return answer["payment"]

    def confirm(self, payment: dict[str, Any], secret: str = DEVELOPMENT_WEBHOOK_SECRET) -> tuple:
        """Send the bank's signed confirmation for payment."""
        body = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]}).encode()
        headers = sign_webhook(secret, body) | {"Content-Type": "application/json"}
        return self.request("POST", "/payments/pix/confirmation", body, headers)


class LiveServer(CheckoutClient):
    """One `python app.py` process with its own SQLite database, which can be stopped and started again."""

    def __init__(self, workdir: Path, port: int | None = None, **settings: str) -> None:
        self.port = port or free_port()
        super().__init__(f"http://127.0.0.1:{self.port}")
        self.database = workdir / "live.db"
        self.log_path = workdir / "server.log"
        self.env = {k: v for k, v in os.environ.items() if k not in DEFAULTS}
        self.env |= {"HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_URL": f"sqlite:///{self.database}"}
        # The suites send hundreds of requests from one address; rate limits have tests of their own.
        self.env |= {"RATELIMIT_ENABLED": "false"}
        # Generated endpoints (schemathesis) must not send the worker after random hosts; its tests start it.
        self.env |= {"PIX_WORKER_IN_SERVER": "false"}
        self.env |= settings
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> None:
        """Start the server and wait until /health answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "app.py"], cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop the server; its database stays."""
        stop_process(self.process)
