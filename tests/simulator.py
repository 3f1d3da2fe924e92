"""The PSP simulator as a real process, for the tests that need a PSP on the other end of the wire."""

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.live_server import REPO_ROOT, free_port, stop_process

# The simulator's development OAuth2 client, which the checkout uses against it.
CLIENT_ID, CLIENT_SECRET = "checkout-dev", "checkout-dev-secret"


class SimulatorProcess:
    """One `python -m psp_simulator` on a free port, configured with SIM_* variables."""

    def __init__(self, workdir: Path, client: Callable[[], httpx.Client] | None = None, **settings: str) -> None:
        self.port = free_port()
        https = "SIM_TLS_CERT" in settings
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        self.log_path = workdir / f"simulator-{self.port}.log"
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("SIM_")}
        self.env |= {"SIM_PORT": str(self.port)} | settings
        self.client = client or (lambda: httpx.Client(base_url=self.url, timeout=10, trust_env=False))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> None:
        """Start the simulator and wait until it answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "psp_simulator"], cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        with self.client() as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the simulator exited early:\n{self.log_path.read_text()}")
                try:
                    probe.get("/sim/jwks").raise_for_status()
                    return
                except httpx.TransportError:
                    time.sleep(0.05)
        raise RuntimeError(f"the simulator did not answer within {timeout} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop the simulator."""
        stop_process(self.process)
