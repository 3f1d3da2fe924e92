"""A soak: pages come and go at --churn per second beside --hold waiting pages, while the bank confirms at
--confirm per second, for --duration seconds. It reports the server's longest stall seen from outside (a /health
pinger), its longest garbage collection, and whether its memory stays flat after the warm-up.

    .venv/bin/python bench/soak.py                  # 5 minutes (the issue's soak)
    .venv/bin/python bench/soak.py --quick          # 1 minute

Targets: no stall over 100 ms while the load runs, and memory growth after the warm-up under 5 % (about noise).
The pages and the bank run in --client-procs client processes (one by default), each with its share of every
rate, and the pinger in this one. One client process pauses for its own collections (0.1 to 0.4 s seen) and then sends
what it owes at once; two take CPU from the server on a 2-core machine. (bench/load.py checks the events.)
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import socketio

from bench.pages import JSON_HEADERS, raise_file_limit
from bench.server import RUNTIMES, BenchServer
from bench.shop import PagePayment, create_payments
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook

STALL_MS = 100.0
PING_EVERY = 0.01
WARMUP_SHARE = 0.2
MAX_GROWTH = 0.05


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of soak (default 300)")
    parser.add_argument("--hold", type=int, default=2000, help="pages waiting the whole time (default 2000)")
    parser.add_argument("--churn", type=float, default=200.0, help="pages that come and go per second (200)")
    parser.add_argument("--confirm", type=float, default=50.0, help="confirmations per second (50)")
    parser.add_argument("--client-procs", type=int, default=1, help="client processes sharing the load (default 1)")
    parser.add_argument("--quick", action="store_true", help="one minute")
    parser.add_argument("--runtime", choices=RUNTIMES, default="eventlet", help="the server's SOCKETIO_ASYNC_MODE")
    parser.add_argument("--json", type=Path, help="also write the results here, with each stall's time and length")
    args = parser.parse_args(argv)
    if args.client_procs < 1:
        parser.error("--client-procs must be at least 1")
    if args.quick:
        args.duration = 60.0
    return args


async def churn_and_confirm(url: str, held: list[PagePayment], to_confirm: list[PagePayment], args: Any) -> dict:
    """Hold the held pages, open and close this process's share of --churn pages a second (on the held
    payments), confirm its share of --confirm other payments a second; the tally says when the load ended."""
    churn, confirm_rate = args.churn / args.client_procs, args.confirm / args.client_procs
    raise_file_limit()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar())
    tally = {"opened": 0, "open_failures": 0, "churned": 0, "churn_failures": 0, "confirmed": 0, "refused": 0}

    async def page(payment: PagePayment, stay: float | None) -> socketio.AsyncClient | None:
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=session)
        try:
            await client.connect(url, transports=["websocket"], wait_timeout=10)
            ack = await client.call("subscribe", {"token": payment.token}, timeout=10)
            if not ack.get("ok"):
                raise ValueError(ack)
        except Exception:
            await client.disconnect()
            return None
        if stay is None:
            return client
        await asyncio.sleep(stay)
        await client.disconnect()
        return client

    holders = []
    for first in range(0, len(held), 200):
        holders += await asyncio.gather(*(page(p, None) for p in held[first : first + 200]))
    tally["opened"] = sum(1 for client in holders if client)
    tally["open_failures"] = len(held) - tally["opened"]

    async def confirm(payment: PagePayment) -> None:
        body = json.dumps({"bank_payment_id": payment.bank_payment_id, "value": payment.value}).encode()
        headers = sign_webhook(DEVELOPMENT_WEBHOOK_SECRET, body) | JSON_HEADERS
        async with session.post(f"{url}/payments/pix/confirmation", data=body, headers=headers) as answer:
            await answer.read()
            tally["confirmed" if answer.status == 200 else "refused"] += 1

    async def churned(payment: PagePayment) -> None:
        client = await page(payment, random.uniform(0.2, 1.0))  # noqa: S311 - a page's stay, not a secret
        tally["churned" if client else "churn_failures"] += 1

    tasks: set[asyncio.Task] = set()
    started, tally["load_started"] = time.perf_counter(), time.time()
    pages = confirmations = 0
    while (elapsed := time.perf_counter() - started) < args.duration:
        while pages < elapsed * churn:
            tasks.add(asyncio.create_task(churned(held[pages % len(held)])))
            pages += 1
        while confirmations < min(elapsed * confirm_rate, len(to_confirm)):
            tasks.add(asyncio.create_task(confirm(to_confirm[confirmations])))
            confirmations += 1
        tasks = {task for task in tasks if not task.done()}
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks, return_exceptions=True)
    tally["load_ended"] = time.time()
    await asyncio.gather(*(client.disconnect() for client in holders if client), return_exceptions=True)
    await session.close()
    return tally


def run_clients(conn: Any, url: str, held: list, to_confirm: list, args: Any) -> None:
    conn.send(asyncio.run(churn_and_confirm(url, held, to_confirm, args)))


def ping(url: str, done: threading.Event, latencies: list[tuple[float, float]]) -> None:
    """GET /health every PING_EVERY seconds on one kept-alive connection: (when, ms) of each answer."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    while not done.is_set():
        sent = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        latencies.append((time.time(), (time.perf_counter() - sent) * 1000))
        time.sleep(PING_EVERY)
    connection.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pix-soak-"))
    server = BenchServer(work, trace_gc=True, SOCKETIO_ASYNC_MODE=args.runtime)
    server.start()
    try:
        held = asyncio.run(create_payments(server.url, args.hold, 8))
        to_confirm = asyncio.run(create_payments(server.url, int(args.confirm * args.duration) + 10, 8))
        rss: list[tuple[float, float]] = []
        latencies: list[tuple[float, float]] = []
        spawn, procs = multiprocessing.get_context("spawn"), args.client_procs
        pipes = [spawn.Pipe() for _ in range(procs)]
        clients = [
            spawn.Process(target=run_clients, args=(child, server.url, held[n::procs], to_confirm[n::procs], args))
            for n, (_parent, child) in enumerate(pipes)
        ]
        for process in clients:
            process.start()
        began, done, cpu_before = time.time(), threading.Event(), server.cpu_seconds()
        pinger = threading.Thread(target=ping, args=(server.url, done, latencies), daemon=True)
        pinger.start()
        while not all(parent.poll(0) for parent, _child in pipes):
            time.sleep(5)
            rss.append((time.time() - began, server.rss_mib()))
        tallies = [parent.recv() for parent, _child in pipes]
        ended, cpu_used = time.time(), server.cpu_seconds() - cpu_before
        done.set()
        pinger.join()
        for process in clients:
            process.join()
        pauses = [pause for pause in server.gc_pauses() if began <= pause.ended <= ended]
    finally:
        server.stop()
    steady = [mib for at, mib in rss if at >= WARMUP_SHARE * args.duration]
    tally = {key: sum(one[key] for one in tallies) for key in tallies[0] if not key.startswith("load_")}
    # The stalls under the soak's load: from when every held page is open until the last confirmation. Then the
    # held pages all leave at once, which is reported but is not that load.
    load_started, load_ended = max(one["load_started"] for one in tallies), min(one["load_ended"] for one in tallies)
    window = [ms for at, ms in latencies if load_started <= at <= load_ended]
    leaving = [ms for at, ms in latencies if at > load_ended]
    results = {
        "duration_s": args.duration,
        "hold": args.hold,
        "churn_per_s": args.churn,
        "confirm_per_s": args.confirm,
        "clients": tally,
        "server_cpu_share": cpu_used / (ended - began),
        "pings": len(window),
        "longest_stall_ms": max(window, default=0.0),
        "stalls_over_100ms": sum(1 for ms in window if ms > STALL_MS),
        "longest_stall_as_held_pages_leave_ms": max(leaving, default=0.0),
        "longest_gc_ms": max((pause.ms for pause in pauses), default=0.0),
        "full_collections": sum(1 for pause in pauses if pause.generation == 2),
        "rss_after_warmup_mib": steady[0] if steady else None,
        "rss_end_mib": steady[-1] if steady else None,
        "rss_max_mib": max(steady, default=None),
    }
    growth = (results["rss_end_mib"] - results["rss_after_warmup_mib"]) / results["rss_after_warmup_mib"]
    checks = {
        f"no stall over {STALL_MS:.0f} ms": results["longest_stall_ms"] <= STALL_MS,
        f"memory flat after warm-up (growth {growth:+.1%}, limit {MAX_GROWTH:.0%})": growth <= MAX_GROWTH,
        "every page opened and every confirmation answered 200": not (
            tally["open_failures"] or tally["churn_failures"] or tally["refused"]
        ),
    }
    print(json.dumps(results, indent=2))
    for check, passed in checks.items():
        print(f"{'PASS' if passed else 'FAIL'}  {check}")
    if args.json:
        stalls = [(round(at - load_started, 2), round(ms)) for at, ms in latencies if ms > STALL_MS]
        args.json.write_text(json.dumps(results | {"checks": checks, "stalls_s_ms": stalls}, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
