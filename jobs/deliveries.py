"""The delivery worker: sends the outbox's events to the shop's endpoints, signed, retried, in order per payment.

It runs inside the server for the embedded default (PIX_WORKER_IN_SERVER) and as `flask pix worker` in a
process of its own; any number of them share the work through the database's leases.
"""

import base64
import dataclasses
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from email.utils import format_datetime

import httpx
from flask import Flask
from sqlalchemy.exc import OperationalError
from standardwebhooks.webhooks import Webhook

import metrics
from db_models import DeliveryStatus, db
from db_models.base import now_utc
from jobs import reconciliation, safe_http
from jobs.periodic import first_line
from jobs.safe_http import Policy
from live_status import publish_dead_delivery
from pix.providers import ApiPixProvider
from repository.deliveries import Job, Outcome, claim_jobs, record_outcomes
from repository.idempotency import forget_old_keys
from repository.outbox import payment_event
from repository.payments import announce_expired
from repository.webhook_endpoints import disable_for_gone, live_secrets

log = logging.getLogger(__name__)
JITTER = 0.2  # each wait is stretched or shrunk by up to a fifth, so failed deliveries do not come back in a herd
MIN_WAIT_AFTER_429 = 60.0
MAX_WAIT = 24 * 3600.0
USER_AGENT = "pix-checkout-webhooks/1"
MAX_FAILURE_PAUSE = 30.0
_threads = threading.local()
STOP_TRIES = 3  # to record the last attempts when stopping, before giving up on a database that is gone


def worker_name() -> str:
    """This host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def signed_headers(job: Job, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers: webhook-id is the event's id (the same on every retry), one v1 per secret."""
    secrets = live_secrets(job.secrets, now)
    signatures = [Webhook(secret["secret"]).sign(job.event_id, now, body.decode()) for secret in secrets]
    # identity: the answer's first bytes are kept as sent, and nothing is inflated here.
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    headers |= job.headers or {}
    headers |= {"webhook-id": job.event_id, "webhook-timestamp": str(int(now.timestamp()))}
    headers["webhook-signature"] = " ".join(signatures)
    auth = job.auth or {}
    if auth.get("type") == "bearer":
        headers["Authorization"] = f"Bearer {auth['token']}"
    elif auth.get("type") == "basic":
        pair = f"{auth['username']}:{auth['password']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return headers


def next_wait(attempts: int, schedule: list[int], answer_status: int | None, retry_after: float | None) -> float | None:
    """Seconds until the next try after the attempts-th failure, or None when the schedule is spent."""
    if attempts > len(schedule):
        return None
    wait = schedule[attempts - 1] * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (spreads retries)
    if answer_status == 429:
        wait = max(wait, MIN_WAIT_AFTER_429)  # the endpoint asked for room: give it plenty
    if retry_after is not None:
        wait = max(wait, retry_after)
    return min(wait, MAX_WAIT)


def storable(text: str | None) -> str | None:
    """text as every database keeps it: PostgreSQL refuses NUL, and no driver encodes a lone surrogate."""
    return None if text is None else text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode()


def attempt(client: httpx.Client, job: Job, guard: Policy) -> Outcome:
    """One attempt at one claimed delivery, and what became of it; nothing here touches the database."""
    if not job.enabled:
        return Outcome(job, DeliveryStatus.HELD)
    now = now_utc()
    body = json.dumps(job.payload, separators=(",", ":"), ensure_ascii=False).encode()
    started = time.monotonic()
    status_code, retry_after, excerpt, error = None, None, None, None
    try:
        answer = safe_http.post(client, job.url, body, signed_headers(job, body, now), guard)
        status_code, retry_after, excerpt = answer.status_code, answer.retry_after, answer.excerpt
    except Exception as failure:
        # Not only httpx's and the guard's: a header it cannot encode, a name IDNA refuses. Each is recorded and
        # retried on the schedule up to the dead letter, never lost in a lease that runs out again and again.
        error = f"{type(failure).__name__}: {failure}"[:300]
    tried = {
        "started_at": now,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "status_code": status_code,
        "error": storable(error),
        "response_excerpt": storable(excerpt),
    }
    if status_code is not None and 200 <= status_code < 300:
        return Outcome(job, DeliveryStatus.DELIVERED, tried)
    if status_code == 410:
        return Outcome(job, DeliveryStatus.HELD, tried, gone=True)
    wait = next_wait(job.attempts + 1, job.retry_schedule, status_code, retry_after)
    if wait is None:
        return Outcome(job, DeliveryStatus.DEAD, tried)
    return Outcome(job, DeliveryStatus.PENDING, tried, now + timedelta(seconds=wait))


def policy(app: Flask) -> Policy:
    """The SSRF guard and attempt deadline the settings ask for."""
    config = app.config
    return Policy(
        config["WEBHOOK_ALLOW_PRIVATE"], config["WEBHOOK_ALLOWED_NETWORKS"], config["WEBHOOK_TIMEOUT_SECONDS"]
    )


def thread_client() -> httpx.Client:
    """This thread's HTTP client: a pool per thread, so no thread waits on (or scans) the others' connections."""
    if not hasattr(_threads, "client"):
        _threads.client = safe_http.client()
    return _threads.client


def attempt_safely(job: Job, guard: Policy) -> Outcome | None:
    """attempt, for a worker thread: a bug is logged, its lease runs out and another attempt follows."""
    try:
        return attempt(thread_client(), job, guard)
    except Exception:
        log.exception("webhook delivery %s failed", job.delivery_id)
        return None


def exchange(app: Flask, worker: str, finished: list[Outcome], limit: int) -> list[Job]:
    """Record the finished attempts, disable the endpoints that answered 410 Gone and claim up to limit more,
    in one transaction (so a failure leaves the outcomes to record again); log and count each attempt."""
    with app.app_context():
        try:
            try:
                gone = _record(worker, finished)
            except Exception:
                db.session.rollback()
                if not finished:
                    raise
                # Each is committed on its own: the claims wait for the next round, so that a claim failing now
                # cannot send the caller back to record them twice.
                finished, gone = _record_one_by_one(worker, finished)
                jobs: list[Job] = []
            else:
                jobs = claim_jobs(worker, limit, app.config["WEBHOOK_LEASE"])  # commits all of it, or none
        finally:
            db.session.remove()
    for outcome in finished:
        _account(outcome)
    for endpoint_id in gone:
        log.warning("webhook endpoint %s answered 410 Gone: disabled, its events are kept", endpoint_id)
    return jobs


def _record(worker: str, finished: list[Outcome]) -> set[int]:
    gone = record_outcomes(worker, finished)
    for endpoint_id in gone:
        disable_for_gone(endpoint_id, f"answered 410 Gone on {format_datetime(now_utc())}")
    return gone


def _record_one_by_one(worker: str, finished: list[Outcome]) -> tuple[list[Outcome], set[int]]:
    """The batch failed: each outcome in a transaction of its own, so one that cannot be stored holds up no other.
    One that still fails is stored without what the endpoint answered (its schedule goes on to the dead letter),
    or else left out: its delivery, still leased, is tried again when the lease runs out, never lost. When none
    can be stored, the database is what failed: the batch's error stands, and every outcome is kept."""
    recorded, gone, error = [], set(), None
    for outcome in finished:
        try:
            stored, endpoints_gone = _record_alone(worker, outcome)
        except Exception as failure:
            error = failure
            log.error("webhook delivery %s: its attempt could not be recorded (%s)", outcome.job.delivery_id, error)
        else:
            recorded.append(stored)
            gone |= endpoints_gone
    if not recorded:
        raise error or RuntimeError("nothing to record")
    return recorded, gone


def _record_alone(worker: str, outcome: Outcome) -> tuple[Outcome, set[int]]:
    """Commit one outcome, or it without the endpoint's answer when that is what the database refused; what was
    stored and the endpoints gone."""
    try:
        return outcome, _commit(worker, outcome)
    except OperationalError:
        raise  # the database's own trouble (a lock, a lost connection), not the answer's: it is kept whole
    except Exception:
        stripped = _without_answer(outcome)
        if stripped is outcome:
            raise
        return stripped, _commit(worker, stripped)


def _commit(worker: str, outcome: Outcome) -> set[int]:
    try:
        gone = _record(worker, [outcome])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return gone


def _without_answer(outcome: Outcome) -> Outcome:
    if outcome.attempt is None:
        return outcome
    kept = {"error": "the endpoint's answer could not be stored", "response_excerpt": None}
    return dataclasses.replace(outcome, attempt=outcome.attempt | kept)


def _account(outcome: Outcome) -> None:
    """The one line and the metrics each attempt leaves (no URL: it may carry the shop's own secrets)."""
    job, tried = outcome.job, outcome.attempt
    metrics.DELIVERIES.labels(outcome.status.value if tried else "held_unsent").inc()
    fields = {"delivery_id": job.delivery_id, "event_id": job.event_id, "endpoint_id": job.endpoint_id}
    fields["payment_id"] = ((job.payload.get("data") or {}).get("payment") or {}).get("id")
    fields["outcome"] = outcome.status.value
    if tried is None:
        log.info("webhook delivery %s held: its endpoint was disabled", job.delivery_id, extra=fields)
        return
    metrics.DELIVERY_SECONDS.observe(tried["duration_ms"] / 1000)
    if outcome.status == DeliveryStatus.DEAD:
        publish_dead_delivery(job.delivery_id, fields["payment_id"])
    fields |= {"attempt": job.attempts + 1, "status_code": tried["status_code"], "duration_ms": tried["duration_ms"]}
    answer = tried["status_code"] or tried["error"]
    level = logging.WARNING if outcome.status == DeliveryStatus.DEAD else logging.INFO
    message = "webhook delivery %s of %s to endpoint %s, attempt %s: %s, %s"
    log.log(
        level,
        message,
        job.delivery_id,
        job.event_id,
        job.endpoint_id,
        job.attempts + 1,
        answer,
        outcome.status.value,
        extra=fields,
    )


def sweep(app: Flask) -> int:
    """Record payment.expired for the payments whose deadline passed (once each, a PSP's charge once the PSP
    said it is unpaid), and forget old idempotency keys."""
    with app.app_context():
        try:
            now, tolerance = now_utc(), app.config["PIX_CLOCK_TOLERANCE"]
            expired = announce_expired(
                now - tolerance,
                lambda payment: payment_event("payment.expired", payment),
                asked_of=ApiPixProvider.name,
                unasked_before=now - reconciliation.RECENTLY_EXPIRED,
            )
            metrics.PAYMENTS_EXPIRED.inc(expired)
            forget_old_keys(timedelta(hours=app.config["PIX_IDEMPOTENCY_HOURS"]))
            return expired
        finally:
            db.session.remove()


def run_worker(
    app: Flask,
    sleep: Callable[[float], None],
    concurrency: int = 32,
    poll: float = 0.2,
    sweep_every: float = 5,
    worker: str | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Deliver forever, concurrency at a time, and sweep expiries now and then.

    Threads only send; this loop records what their attempts came to and claims more, in one transaction per
    handful. At most one delivery per thread waits queued (so threads never idle while the loop talks to the
    database), and a queued one starts within one attempt's time, well inside its lease; a slow endpoint holds
    one thread, never a batch. When stopping() turns true, nothing new is claimed and the attempts under way
    are finished and recorded.
    """
    worker, last_sweep, last_exchange, failures = worker or worker_name(), 0.0, 0.0, 0
    guard = policy(app)
    running: set[Future] = set()
    finished: list[Outcome] = []
    handful = max(1, concurrency // 2)  # a transaction per handful of deliveries, not one each
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook") as pool:
        while True:
            try:
                if stopping() and not running and (not finished or failures >= STOP_TRIES):
                    if finished:  # the database is gone: another worker sends these again once the leases end
                        log.error("stopping with %d attempts not recorded", len(finished))
                    return
                if not stopping() and time.monotonic() - last_sweep > sweep_every:
                    sweep(app)
                    last_sweep = time.monotonic()
                free = 0 if stopping() else 2 * concurrency - len(running)  # a thread's worth queued
                jobs: list[Job] = []
                # Finished outcomes wait for a handful of free places, or a poll interval at most.
                if free >= handful or not running or (finished and time.monotonic() - last_exchange > poll):
                    jobs = exchange(app, worker, finished, free)
                    finished, last_exchange = [], time.monotonic()
                    running |= {pool.submit(attempt_safely, job, guard) for job in jobs}
                failures = 0
                if jobs and len(jobs) == free:
                    continue  # there may be more due: claim again as soon as threads are free
                if running:  # busy, or nothing more due: until an attempt ends, or the next poll
                    done, running = wait(running, timeout=poll, return_when=FIRST_COMPLETED)
                    finished += _outcomes(done)
                elif not stopping():
                    sleep(poll)
            except Exception as error:  # the worker must outlive any one bad round (the database down, say)
                if failures == 0:
                    log.exception("delivery round failed; retrying with growing pauses")
                else:
                    log.error("delivery round failed again (%d): %s", failures + 1, first_line(error))
                failures += 1
                sleep(min(MAX_FAILURE_PAUSE, poll * 2**failures))


def _outcomes(done: set[Future]) -> list[Outcome]:
    """What the ended attempts came to (a None is an attempt that failed by a bug and was logged)."""
    return [outcome for future in done if (outcome := future.result()) is not None]
