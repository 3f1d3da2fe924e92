"""A client process holding waiting pages (Socket.IO AsyncClients), which also sends the bank's confirmations.

The coordinator drives it over a multiprocessing pipe with (command, argument) tuples:
("open", [PagePayment, ...]), ("confirm", count), ("counts", None) and ("stop", None). Confirmation latency is
measured inside this process with time.perf_counter: the send time is taken right before the POST and the
receive time inside the `payment_status` handler, so no clock is compared across processes.
"""

import asyncio
import gc
import json
import os
import random
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp
import socketio

from bench.server import process_rss_mib
from bench.shop import JSON_HEADERS, PagePayment
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook

CONNECT_TIMEOUT = 30.0
SOCKETIO_TIMEOUT = 10.0
STATUS_EVENT = "payment_status"


class GcWatch:
    """Times this process's own garbage collections, so client pauses can be told apart from server latency."""

    def __init__(self, keep_over_ms: float | None = None) -> None:
        self.started = 0.0
        self.longest_ms = 0.0
        self.keep_over_ms = keep_over_ms
        self.pauses: list[tuple[float, float]] = []  # (Unix time it ended, ms) of those over keep_over_ms
        gc.callbacks.append(self.on_gc)

    def on_gc(self, phase: str, _info: dict[str, int]) -> None:
        """gc callback: remember the longest collection since the last take(), and keep the long ones."""
        if phase == "start":
            self.started = time.perf_counter()
            return
        took = (time.perf_counter() - self.started) * 1000
        self.longest_ms = max(self.longest_ms, took)
        if self.keep_over_ms is not None and took > self.keep_over_ms:
            self.pauses.append((time.time(), took))

    def take(self) -> float:
        """The longest collection since the last call, in ms; starts a new interval."""
        longest, self.longest_ms = self.longest_ms, 0.0
        return longest


@dataclass
class Page:
    """One waiting page: its payment, its client and the `payment_status` events it saw."""

    payment: PagePayment
    client: socketio.AsyncClient | None = None
    pending_events: int = 0
    paid_events: int = 0
    paid_at: float | None = None
    confirmed: bool = False
    disconnected: bool = False
    waiter: asyncio.Future[None] | None = None

    def on_status(self, status: Any) -> None:
        """Count a `payment_status` event; the first "paid" one stamps the receive time."""
        state = status.get("status") if isinstance(status, dict) else None
        if state == "pending":
            self.pending_events += 1
        elif state == "paid":
            self.paid_events += 1
            if self.paid_at is None:
                self.paid_at = time.perf_counter()
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def on_disconnect(self, *_reason: Any) -> None:
        """Note that the page's websocket went away."""
        self.disconnected = True


@dataclass
class PageHolder:
    """The pages of this process and the shared HTTP session their websockets and confirmations use."""

    url: str
    seed: int
    pages: list[Page] = field(default_factory=list)
    open_failures: int = 0
    session: aiohttp.ClientSession | None = None
    gc_watch: GcWatch = field(default_factory=GcWatch)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        """Seed the choice of pages to confirm, so runs pick alike."""
        self.rng = random.Random(self.seed)  # noqa: S311 - picks which page to confirm, not a secret

    async def start(self) -> None:
        """Create the shared session: no connection limit, since every websocket holds one."""
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar()
        )

    async def open_page(self, page: Page) -> bool:
        """Connect one page over websocket and subscribe it to its own payment's room."""
        client = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=self.session)
        client.on(STATUS_EVENT, page.on_status)
        client.on("disconnect", page.on_disconnect)
        try:
            await client.connect(self.url, transports=["websocket"], wait_timeout=SOCKETIO_TIMEOUT)
            ack = await client.call("subscribe", {"token": page.payment.token}, timeout=SOCKETIO_TIMEOUT)
        except (socketio.exceptions.SocketIOError, OSError, TimeoutError):
            ack = None
        if not (isinstance(ack, dict) and ack.get("ok")):
            await client.disconnect()
            return False
        page.client = client
        return True

    async def open_pages(self, payments: list[PagePayment], batch: int) -> dict[str, Any]:
        """Open one page per payment, batch at a time; then freeze the heap so the GC leaves the pages alone."""
        started = time.perf_counter()
        opened = 0
        for first in range(0, len(payments), batch):
            pages = [Page(payment) for payment in payments[first : first + batch]]
            results = await asyncio.gather(
                *(asyncio.wait_for(self.open_page(page), CONNECT_TIMEOUT) for page in pages), return_exceptions=True
            )
            for page, result in zip(pages, results, strict=True):
                if result is True:
                    self.pages.append(page)
                    opened += 1
                else:
                    self.open_failures += 1
        gc.collect()
        gc.freeze()
        return {"opened": opened, "failed": len(payments) - opened, "seconds": time.perf_counter() - started}

    async def confirm(self, count: int, timeout: float) -> dict[str, Any]:
        """Confirm count of this process's pending pages one at a time; time each POST -> "paid" event."""
        latencies: list[float] = []
        http_ms: list[float] = []
        timeouts = errors = 0
        candidates = [page for page in self.pages if not page.confirmed]
        self.gc_watch.take()
        for page in self.rng.sample(candidates, min(count, len(candidates))):
            outcome = await self.confirm_page(page, timeout)
            if outcome is None:
                errors += 1
                continue
            http_ms.append(outcome[1])
            if outcome[0] is None:
                timeouts += 1
            else:
                latencies.append(outcome[0])
        return {
            "latencies_ms": latencies,
            "http_ms": http_ms,
            "timeouts": timeouts,
            "errors": errors,
            "client_gc_max_ms": self.gc_watch.take(),
        }

    async def confirm_page(self, page: Page, timeout: float) -> tuple[float | None, float] | None:
        """Send page's signed confirmation; (event latency ms or None on timeout, HTTP ms), or None if refused."""
        assert self.session is not None  # noqa: S101 - set by start()
        body = json.dumps({"bank_payment_id": page.payment.bank_payment_id, "value": page.payment.value}).encode()
        headers = sign_webhook(DEVELOPMENT_WEBHOOK_SECRET, body) | JSON_HEADERS
        page.confirmed = True
        page.waiter = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        try:
            async with self.session.post(f"{self.url}/payments/pix/confirmation", data=body, headers=headers) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            return None
        answered = time.perf_counter()
        if status != 200:
            return None
        try:
            await asyncio.wait_for(asyncio.shield(page.waiter), max(0.0, timeout - (answered - sent)))
        except TimeoutError:
            return None, (answered - sent) * 1000
        assert page.paid_at is not None  # noqa: S101 - set together with the waiter's result
        return (page.paid_at - sent) * 1000, (answered - sent) * 1000

    def counts(self) -> dict[str, Any]:
        """Per-process tallies of `payment_status` events, for the exactly-one-event check."""
        confirmed = [page for page in self.pages if page.confirmed]
        return {
            "pages": len(self.pages),
            "connected": sum(1 for page in self.pages if page.client is not None and page.client.connected),
            "confirmed": len(confirmed),
            "paid_events": sum(page.paid_events for page in self.pages),
            "confirmed_without_one_event": sum(1 for page in confirmed if page.paid_events != 1),
            "unconfirmed_with_paid_event": sum(1 for page in self.pages if not page.confirmed and page.paid_events),
            "pages_without_initial_status": sum(1 for page in self.pages if page.pending_events < 1),
            "disconnects": sum(1 for page in self.pages if page.disconnected),
            "open_failures": self.open_failures,
            "rss_mib": process_rss_mib(os.getpid()),
        }

    async def close(self) -> None:
        """Disconnect every page and close the session."""
        await asyncio.gather(
            *(page.client.disconnect() for page in self.pages if page.client is not None), return_exceptions=True
        )
        if self.session is not None:
            await self.session.close()


def raise_file_limit() -> None:
    """Lift the soft limit on open files to the hard limit: every page holds a socket."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(conn: Connection, url: str, seed: int, batch: int, confirm_timeout: float) -> None:
    """Answer the coordinator's commands until it says stop."""
    holder = PageHolder(url, seed)
    await holder.start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "open":
                conn.send(await holder.open_pages(argument, batch))
            elif command == "confirm":
                conn.send(await holder.confirm(argument, confirm_timeout))
            elif command == "counts":
                conn.send(holder.counts())
            else:
                break
    finally:
        await asyncio.wait_for(holder.close(), 60)


def run_page_process(conn: Connection, url: str, seed: int, batch: int, confirm_timeout: float) -> None:
    """Entry point of a client process."""
    raise_file_limit()
    try:
        asyncio.run(serve(conn, url, seed, batch, confirm_timeout))
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        conn.close()
