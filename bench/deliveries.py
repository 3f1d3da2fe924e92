"""Webhook delivery benchmark: `flask pix worker` processes (one by default) against a fast local receiver.

Throughput: events are recorded first, then the workers deliver them all; deliveries per second. Delay: with
the workers idle and waiting, payments are created at a steady rate; the time from each creation's commit to
the first attempt's arrival at the receiver. Targets: 500 deliveries/s per worker, p99 delay under 1 s.
PostgreSQL (127.0.0.1:5432) when it runs, else SQLite. Run `.venv/bin/python bench/deliveries.py --help`.
"""

import argparse
import json
import multiprocessing
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from app import create_app  # noqa: E402
from bench.load import percentile  # noqa: E402
from db_models import db  # noqa: E402
from tests.live_server import free_port, stop_process  # noqa: E402
from tests.services import fresh_postgres_database  # noqa: E402
from tests.webhook_worker import start_worker  # noqa: E402

TARGET_PER_SECOND = 500
TARGET_P99_DELAY_S = 1.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--events", type=int, default=5000, help="events delivered in the throughput phase (default 5000)")
    add("--rate", type=float, default=50, help="creations per second in the delay phase (default 50)")
    add("--seconds", type=float, default=20, help="length of the delay phase (default 20)")
    add("--concurrency", type=int, default=32, help="each worker's deliveries at once (default 32)")
    add("--workers", type=int, default=1, help="worker processes sharing the work (default 1)")
    add("--sqlite", action="store_true", help="use SQLite even when PostgreSQL runs")
    add("--quick", action="store_true", help="1000 events and a 5 s delay phase")
    add("--json", type=Path, metavar="OUT", help="also write the results as JSON to OUT")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.seconds = 1000, 5
    return args


def receive(port: int, log_path: str, ready: Any) -> None:
    """An aiohttp receiver answering 204 at once; one line per request: arrival time, webhook-id, payment id."""
    from aiohttp import web

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 (open for the process's life)

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        payment = json.loads(body)["data"]["payment"]["id"]
        log.write(f"{time.time():.6f} {request.headers['webhook-id']} {payment}\n")
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def arrivals(log_path: Path) -> list[tuple[float, str, int]]:
    """(arrival time, webhook-id, payment id) of every request received so far."""
    if not log_path.exists():
        return []
    rows = [line.split() for line in log_path.read_text().splitlines() if line.count(" ") == 2]
    return [(float(at), webhook_id, int(payment)) for at, webhook_id, payment in rows]


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run(args: argparse.Namespace, workdir: Path, database_url: str) -> dict[str, Any]:
    """Both phases against database_url; the measurements."""
    app = create_app({"DATABASE_URL": database_url, "AUTO_MIGRATE": True, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    port, log_path = free_port(), workdir / "received.log"
    ready = multiprocessing.Event()
    receiver = multiprocessing.Process(target=receive, args=(port, str(log_path), ready), daemon=True)
    receiver.start()
    ready.wait(10)
    time.sleep(0.5)
    client.post("/webhooks/endpoints", json={"url": f"http://127.0.0.1:{port}/hook", "event_types": ["*"]})
    results: dict[str, Any] = {"database": app.config["DATABASE_URL"].split(":")[0]}
    try:
        with ThreadPoolExecutor(8) as pool:  # recorded before any worker runs: a backlog
            list(pool.map(lambda _: client.post("/payments/pix", json={"value": 10}), range(args.events)))
        workers = [
            start_worker(database_url, workdir / f"worker-{n}.log", args.concurrency, WEBHOOK_TIMEOUT_SECONDS="10")
            for n in range(args.workers)
        ]
        try:
            wait_until(lambda: len(arrivals(log_path)) >= args.events, timeout=600)
            received = arrivals(log_path)
            # From the first arrival: the worker process's start-up is not delivery time.
            times = [at for at, _, _ in received]
            results["throughput_per_s"] = (len(received) - 1) / (max(times) - min(times)) if len(times) > 1 else 0.0
            results["duplicates"] = len(received) - len({webhook_id for _, webhook_id, _ in received})

            committed: dict[int, float] = {}
            interval, until = 1 / args.rate, time.monotonic() + args.seconds
            while time.monotonic() < until:
                tick = time.monotonic()
                payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
                committed[payment["id"]] = time.time()  # the 201 comes after the commit
                time.sleep(max(0.0, interval - (time.monotonic() - tick)))
            wait_until(lambda: len(arrivals(log_path)) >= args.events + len(committed), timeout=60)
            first = {}
            for at, _, payment_id in arrivals(log_path):
                if payment_id in committed:
                    first.setdefault(payment_id, at)
            delays = [first[pid] - committed[pid] for pid in committed if pid in first]
            results |= {
                "delay_p50_s": percentile(delays, 50),
                "delay_p99_s": percentile(delays, 99),
                "delay_max_s": max(delays, default=float("nan")),
                "delayed_events": len(delays),
                "missing": len(committed) - len(delays),
            }
        finally:
            for worker in workers:
                stop_process(worker)
    finally:
        receiver.terminate()
        with app.app_context():
            db.engine.dispose()
    return results


def postgres_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
        return True
    except OSError:
        return False


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table; exit 1 when a target is missed."""
    args = parse_args(argv)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-deliveries-")))
        url = f"sqlite:///{workdir / 'bench.db'}"
        if not args.sqlite and postgres_is_up():
            url = stack.enter_context(fresh_postgres_database())
        results = run(args, workdir, url)
    rows = [
        (
            f"deliveries per second, {args.workers} worker{'s' if args.workers > 1 else ''}",
            f"{results['throughput_per_s']:.0f}",
            f">= {TARGET_PER_SECOND * args.workers}",
            verdict(results["throughput_per_s"] >= TARGET_PER_SECOND * args.workers),
        ),
        ("commit -> first attempt p50", f"{results['delay_p50_s'] * 1000:.0f} ms", "", ""),
        (
            "commit -> first attempt p99",
            f"{results['delay_p99_s'] * 1000:.0f} ms",
            f"< {TARGET_P99_DELAY_S * 1000:.0f} ms",
            verdict(results["delay_p99_s"] < TARGET_P99_DELAY_S),
        ),
        (
            "sent twice / never sent",
            f"{results['duplicates']} / {results['missing']}",
            "0 / 0",
            verdict(results["duplicates"] == 0 and results["missing"] == 0),
        ),
    ]
    setup = f"{args.workers} x concurrency {args.concurrency}"
    print(f"webhook deliveries on {results['database']}, workers {setup}, {args.events} events")
    for name, value, target, outcome in rows:
        print(f"  {name:<36} {value:>12}  {target:<10} {outcome}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if any(row[3] == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
