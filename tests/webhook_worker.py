"""Driving the delivery worker from a test: deliver what is due, and move retries to now instead of waiting."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import update

from config import DEFAULTS
from db_models import DeliveryStatus, WebhookDelivery, db
from db_models.base import now_utc
from jobs.deliveries import attempt_safely, exchange, policy
from tests.live_server import REPO_ROOT

WORKER = "test-worker"


def deliver_due(app: Flask, rounds: int = 50) -> int:
    """Deliver everything due now, one attempt each, as a worker would; how many attempts."""
    attempts, outcomes = 0, []
    for _ in range(rounds):
        jobs = exchange(app, WORKER, outcomes, 100)
        outcomes = [outcome for job in jobs if (outcome := attempt_safely(job, policy(app)))]
        attempts += len(jobs)
        if not jobs:
            break
    exchange(app, WORKER, outcomes, 0)
    return attempts


def retries_due_now(app: Flask) -> None:
    """Every pending delivery's next attempt is now: the retry schedule, without the wait."""
    with app.app_context():
        db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING)
            .values(next_attempt_at=now_utc() - timedelta(seconds=1))
        )
        db.session.commit()


def deliveries(app: Flask) -> list[WebhookDelivery]:
    """Every delivery, oldest first, detached from the session."""
    with app.app_context():
        rows = list(db.session.execute(db.select(WebhookDelivery).order_by(WebhookDelivery.id)).scalars())
        db.session.expunge_all()
        return rows


def start_worker(database_url: str, log_path: Path, concurrency: int = 8, **settings: str) -> subprocess.Popen[bytes]:
    """`flask --app app pix worker` in a process of its own, as production runs it."""
    env = {name: value for name, value in os.environ.items() if name not in DEFAULTS}
    env |= {"DATABASE_URL": database_url, "WEBHOOK_TIMEOUT_SECONDS": "2"} | settings
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "pix", "worker", "--concurrency", str(concurrency)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
