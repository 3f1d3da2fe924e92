"""The real server under load: `python app.py` on a free loopback port with a fresh SQLite database."""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tests.live_server import LiveServer

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GC_LOG_MIN_MS = 5.0
RUNTIMES = ("eventlet", "gevent", "threading")
# Written to a temporary directory and put on the server's PYTHONPATH only with --trace-gc: it times the server's
# garbage collections (which stop every green thread) without touching the app's code.
GC_TRACER = f"""
import gc, os, time
_log = open(os.environ["BENCH_GC_LOG"], "a", buffering=1)
_started = [0.0]
def _trace(phase, info):
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    took = (time.perf_counter() - _started[0]) * 1000
    if info["generation"] == 2 or took >= {GC_LOG_MIN_MS}:
        _log.write(f"{{time.time():.4f}} {{info['generation']}} {{took:.2f}}\\n")
gc.callbacks.append(_trace)
"""


@dataclass(frozen=True)
class GcPause:
    """One garbage collection in the server: when it ended (Unix time), its generation and its length."""

    ended: float
    generation: int
    ms: float


# The limits stay on, so each request pays for its check, with budgets no benchmark's one address reaches
# (every page of a benchmark comes from 127.0.0.1).
RATE_LIMITS_NEVER_REACHED = {
    "RATELIMIT_ENABLED": "true",
    "PIX_CREATE_RATE_LIMIT": "10000000 per minute",
    "PIX_CONFIRM_RATE_LIMIT": "10000000 per minute",
    "SOCKETIO_SESSIONS_PER_ADDRESS": "1000000",
}


# A shop listens for every event, so each creation and confirmation also queues a delivery. Production runs the
# workers as processes of their own and none runs here: the deliveries stay queued (bench/deliveries.py sends them).
SHOP_ENDPOINT = {"url": "http://127.0.0.1:9/shop/webhooks", "event_types": ["*"]}


class BenchServer(LiveServer):
    """The tests' live server (`python app.py` as `make run` starts it), rate limits checked but never reached,
    a shop's webhook endpoint registered, plus load measurements."""

    def __init__(self, workdir: Path, trace_gc: bool = False, **settings: str) -> None:
        settings = RATE_LIMITS_NEVER_REACHED | settings
        self.gc_log_path = workdir / "gc.log" if trace_gc else None
        if self.gc_log_path is not None:
            tracer = workdir / "gctrace"
            tracer.mkdir()
            (tracer / "sitecustomize.py").write_text(GC_TRACER)
            settings["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tracer), os.environ.get("PYTHONPATH")]))
            settings["BENCH_GC_LOG"] = str(self.gc_log_path)
        super().__init__(workdir, **settings)
        self.ready_at = 0.0

    def start(self, timeout: float = 20) -> None:
        """Start the server and register the shop's webhook endpoint."""
        super().start(timeout)
        self.ready_at = time.time()
        body = json.dumps(SHOP_ENDPOINT).encode()
        status, answer = self.request("POST", "/webhooks/endpoints", body, {"Content-Type": "application/json"})
        if status != 201:
            raise RuntimeError(f"the shop's webhook endpoint was refused: {status} {answer}")

    def alive(self) -> bool:
        """Whether the server process still runs."""
        return self.process is not None and self.process.poll() is None

    def rss_mib(self) -> float:
        """Resident memory of the server process in MiB."""
        return process_rss_mib(self.process.pid) if self.process else 0.0

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        return process_cpu_seconds(self.process.pid) if self.process else 0.0

    def gc_pauses(self) -> list[GcPause]:
        """The server's traced collections since it first answered (empty without --trace-gc). Those of its
        startup (imports, migrations, the collection before the first freeze) stopped no client: none was in."""
        if self.gc_log_path is None or not self.gc_log_path.exists():
            return []
        pauses = []
        for line in self.gc_log_path.read_text().splitlines():
            ended, generation, ms = line.split()
            if float(ended) >= self.ready_at:
                pauses.append(GcPause(float(ended), int(generation), float(ms)))
        return pauses

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def process_rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: field 14 (utime) and 15 (stime) of proc(5) are at offsets 11 and 12.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
