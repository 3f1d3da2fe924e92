"""The shop's side over HTTP: payment creation throughput, a pool of payments for the pages, /health probes."""

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp

CREATE_BODY = json.dumps({"value": 10}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass(frozen=True)
class PagePayment:
    """What a waiting page and the bank need of one payment."""

    token: str
    bank_payment_id: str
    value: int | float


@dataclass
class CreationRun:
    """Outcome of the creation phase: timed latencies, errors and every payment created (warm-up included)."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    measured_seconds: float = 0.0
    payments: list[PagePayment] = field(default_factory=list)


def page_payment(answer: dict) -> PagePayment:
    """The page token (last segment of page_url) and the bank's identifiers of a created payment."""
    payment = answer["payment"]
    return PagePayment(payment["page_url"].rstrip("/").rsplit("/", 1)[1], payment["bank_payment_id"], payment["value"])


def http_session(concurrency: int) -> aiohttp.ClientSession:
    """A keep-alive session with at most concurrency connections."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=REQUEST_TIMEOUT, cookie_jar=aiohttp.DummyCookieJar()
    )


async def create_one(session: aiohttp.ClientSession, url: str) -> PagePayment | None:
    """POST /payments/pix {"value": 10}; the payment, or None unless the answer is 201."""
    async with session.post(f"{url}/payments/pix", data=CREATE_BODY, headers=JSON_HEADERS) as response:
        body = await response.read()
        return page_payment(json.loads(body)) if response.status == 201 else None


async def creation_worker(
    session: aiohttp.ClientSession, url: str, window: tuple[float, float], run: CreationRun
) -> None:
    """Create payments back to back until the window ends; time those that finish inside it."""
    measure_from, until = window
    while time.perf_counter() < until:
        started = time.perf_counter()
        try:
            payment = await create_one(session, url)
        except (aiohttp.ClientError, TimeoutError):
            payment = None
        finished = time.perf_counter()
        if payment is not None:
            run.payments.append(payment)
        if measure_from <= finished < until:
            if payment is None:
                run.errors += 1
            else:
                run.latencies_ms.append((finished - started) * 1000)


async def measure_creations(url: str, concurrency: int, warmup: float, duration: float) -> CreationRun:
    """Create payments with concurrency workers for warmup + duration seconds, timing the last duration seconds."""
    run = CreationRun(measured_seconds=duration)
    async with http_session(concurrency) as session:
        start = time.perf_counter()
        window = (start + warmup, start + warmup + duration)
        await asyncio.gather(*(creation_worker(session, url, window, run) for _ in range(concurrency)))
    return run


async def create_payments(url: str, count: int, concurrency: int) -> list[PagePayment]:
    """Exactly count new payments, created concurrency at a time (not timed); raises after too many errors."""
    created: list[PagePayment] = []
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while len(created) < count and failures < max(10, count // 100):
            try:
                payment = await create_one(session, url)
            except (aiohttp.ClientError, TimeoutError):
                payment = None
            if payment is None:
                failures += 1
            else:
                created.append(payment)

    async with http_session(concurrency) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    if len(created) < count:
        raise RuntimeError(f"could create only {len(created)} of {count} payments ({failures} failures)")
    return created[:count]


async def probe_health(url: str, probes: int) -> list[float]:
    """Latencies in ms of probes sequential GET /health requests (failed or non-200 probes are left out)."""
    latencies: list[float] = []
    async with http_session(1) as session:
        for _ in range(probes):
            started = time.perf_counter()
            try:
                async with session.get(f"{url}/health") as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return latencies
