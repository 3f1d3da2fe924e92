"""A soak: pages come and go at --churn per second beside --hold waiting pages, while the bank confirms at
--confirm per second, for --duration seconds. It reports the server's stalls seen from outside (a /health pinger)
and from inside (pix_event_loop_lag_seconds), its longest garbage collection, and whether its memory stays flat
after the warm-up.

    .venv/bin/python bench/soak.py                  # 5 minutes (the issue's soak)
    .venv/bin/python bench/soak.py --quick          # 1 minute

Targets: no stall over 100 ms while the load runs, and memory growth after the warm-up under 5 % (about noise).
The held pages wait in a client process of their own. The churned pages and the bank run in --client-procs
others (one by default), each with its share of every rate, and the pinger in this one. A process that pauses
for a collection sends what it owes at once when it wakes: with the held pages in it, its full collections took
0.1 to 0.4 s and the server's stalls followed them. Two load processes take CPU from the server on a 2-core
machine. (bench/load.py checks the events.)
"""

import argparse
import asyncio
import gc
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
from prometheus_client.parser import text_string_to_metric_families

from bench.pages import JSON_HEADERS, GcWatch, raise_file_limit
from bench.server import RUNTIMES, BenchServer
from bench.shop import PagePayment, create_payments
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook

STALL_MS = 100.0
PING_EVERY = 0.01
WARMUP_SHARE = 0.2
MAX_GROWTH = 0.05
CLIENT_GC_KEEP_MS = 20.0


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


def http_session() -> aiohttp.ClientSession:
    """A client session without a connection limit or cookies, as many browsers would be."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar())


async def open_page(session: aiohttp.ClientSession, url: str, payment: PagePayment) -> socketio.AsyncClient | None:
    """A page subscribed to payment's status, or None if it could not connect or subscribe."""
    client = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=session)
    try:
        await client.connect(url, transports=["websocket"], wait_timeout=10)
        ack = await client.call("subscribe", {"token": payment.token}, timeout=10)
        if not ack.get("ok"):
            raise ValueError(ack)
    except Exception:
        await client.disconnect()
        return None
    return client


async def hold_pages(conn: Any, url: str, held: list[PagePayment]) -> None:
    """Open a page for each held payment and say how many opened; close them all when told to leave."""
    raise_file_limit()
    session = http_session()
    holders = []
    for first in range(0, len(held), 200):
        holders += await asyncio.gather(*(open_page(session, url, p) for p in held[first : first + 200]))
    gc.freeze()  # they live the whole run: this process's collections need not scan them again
    conn.send(sum(1 for client in holders if client))
    while not conn.poll():
        await asyncio.sleep(0.1)
    await asyncio.gather(*(client.disconnect() for client in holders if client), return_exceptions=True)
    await session.close()
    conn.send("left")


async def churn_and_confirm(url: str, held: list[PagePayment], to_confirm: list[PagePayment], args: Any) -> dict:
    """Open and close this process's share of --churn pages a second (on the held payments) and confirm its
    share of --confirm other payments a second; the tally says when the load ended, and this process's long
    collections (each one delays what it sends, which then goes at once)."""
    churn, confirm_rate = args.churn / args.client_procs, args.confirm / args.client_procs
    raise_file_limit()
    collections = GcWatch(keep_over_ms=CLIENT_GC_KEEP_MS)
    session = http_session()
    tally = {"churned": 0, "churn_failures": 0, "confirmed": 0, "refused": 0}

    async def confirm(payment: PagePayment) -> None:
        body = json.dumps({"bank_payment_id": payment.bank_payment_id, "value": payment.value}).encode()
        headers = sign_webhook(DEVELOPMENT_WEBHOOK_SECRET, body) | JSON_HEADERS
        async with session.post(f"{url}/payments/pix/confirmation", data=body, headers=headers) as answer:
            await answer.read()
            tally["confirmed" if answer.status == 200 else "refused"] += 1

    async def churned(payment: PagePayment) -> None:
        client = await open_page(session, url, payment)
        if client is not None:
            await asyncio.sleep(random.uniform(0.2, 1.0))  # noqa: S311 - a page's stay, not a secret
            await client.disconnect()
        tally["churned" if client else "churn_failures"] += 1

    gc.freeze()  # what is loaded by now (modules, the payments) lives the whole run: collections skip it
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
    await session.close()
    return tally | {"gc_pauses": collections.pauses}


def run_holder(conn: Any, url: str, held: list) -> None:
    asyncio.run(hold_pages(conn, url, held))


def run_clients(conn: Any, url: str, held: list, to_confirm: list, args: Any) -> None:
    conn.send(asyncio.run(churn_and_confirm(url, held, to_confirm, args)))


def keep_alive(url: str) -> http.client.HTTPConnection:
    """One HTTP connection to the server at url (http://host:port)."""
    host, port = url.removeprefix("http://").split(":")
    return http.client.HTTPConnection(host, int(port), timeout=10)


def ping(url: str, done: threading.Event, latencies: list[tuple[float, float]]) -> None:
    """GET /health every PING_EVERY seconds on one kept-alive connection: (when, ms) of each answer."""
    connection = keep_alive(url)
    while not done.is_set():
        sent = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        latencies.append((time.time(), (time.perf_counter() - sent) * 1000))
        time.sleep(PING_EVERY)
    connection.close()


def lag_probes(url: str) -> tuple[float, float]:
    """The server's own loop-lag probes so far (pix_event_loop_lag_seconds): how many, and how many over STALL_MS."""
    connection = keep_alive(url)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    samples = {
        (sample.name, sample.labels.get("le")): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "pix_event_loop_lag_seconds"
        for sample in family.samples
    }
    count = samples[("pix_event_loop_lag_seconds_count", None)]
    return count, count - samples[("pix_event_loop_lag_seconds_bucket", str(STALL_MS / 1000))]


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
        # The held pages wait in a process of their own: the long collections of its big heap delay no load.
        holding, holder_end = spawn.Pipe()
        holder = spawn.Process(target=run_holder, args=(holder_end, server.url, held))
        holder.start()
        holder_end.close()  # so a holder that dies is an EOFError here, not a wait for ever
        opened = holding.recv()
        pipes = [spawn.Pipe() for _ in range(procs)]
        clients = [
            spawn.Process(target=run_clients, args=(child, server.url, held[n::procs], to_confirm[n::procs], args))
            for n, (_parent, child) in enumerate(pipes)
        ]
        began, done, cpu_before = time.time(), threading.Event(), server.cpu_seconds()
        lag_before = lag_probes(server.url)
        for process in clients:
            process.start()
        pinger = threading.Thread(target=ping, args=(server.url, done, latencies), daemon=True)
        pinger.start()
        while not all(parent.poll(0) for parent, _child in pipes):
            time.sleep(5)
            rss.append((time.time() - began, server.rss_mib()))
        tallies = [parent.recv() for parent, _child in pipes]
        ended, cpu_used = time.time(), server.cpu_seconds() - cpu_before
        lag_after = lag_probes(server.url)
        holding.send("leave")
        holding.recv()
        done.set()
        pinger.join()
        for process in [*clients, holder]:
            process.join()
        pauses = [pause for pause in server.gc_pauses() if began <= pause.ended <= ended]
    finally:
        server.stop()
    steady = [mib for at, mib in rss if at >= WARMUP_SHARE * args.duration]
    counted = [key for key in tallies[0] if key not in ("load_started", "load_ended", "gc_pauses")]
    tally = {"opened": opened, "open_failures": args.hold - opened}
    tally |= {key: sum(one[key] for one in tallies) for key in counted}
    client_pauses = sorted(pause for one in tallies for pause in one["gc_pauses"])
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
        "server_lag_probes": lag_after[0] - lag_before[0],
        "server_lag_probes_over_100ms": lag_after[1] - lag_before[1],
        "longest_gc_ms": max((pause.ms for pause in pauses), default=0.0),
        "full_collections": sum(1 for pause in pauses if pause.generation == 2),
        "client_longest_gc_ms": max((ms for _at, ms in client_pauses), default=0.0),
        "client_collections_over_20ms": len(client_pauses),
        "rss_after_warmup_mib": steady[0] if steady else None,
        "rss_end_mib": steady[-1] if steady else None,
        "rss_max_mib": max(steady, default=None),
    }
    growth = (results["rss_end_mib"] - results["rss_after_warmup_mib"]) / results["rss_after_warmup_mib"]
    checks = {
        f"no stall over {STALL_MS:.0f} ms": results["longest_stall_ms"] <= STALL_MS,
        f"no wake-up of the server's own lag probe over {STALL_MS:.0f} ms late": not results[
            "server_lag_probes_over_100ms"
        ],
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
        client_gc = [(round(at - load_started, 2), round(ms)) for at, ms in client_pauses]
        extra = {"checks": checks, "stalls_s_ms": stalls, "client_gc_s_ms": client_gc}
        args.json.write_text(json.dumps(results | extra, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
