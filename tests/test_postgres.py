"""The checkout on PostgreSQL: migrations, exact money and one transition under 50 concurrent confirmations."""

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from app import create_app
from db_models import Payment, db
from extensions import socketio
from tests.conftest import CONFIRMATION_URL
from tests.services import fresh_postgres_database

CONCURRENT_CONFIRMATIONS = 50


@pytest.fixture
def postgres_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    with fresh_postgres_database() as url:
        app = create_app(app_config | {"DATABASE_URL": url, "AUTO_MIGRATE": True})
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_postgres_urls_use_the_green_pg8000_driver(postgres_app: Flask) -> None:
    with postgres_app.app_context():
        assert db.engine.dialect.driver == "pg8000"


def test_migrations_match_the_models(postgres_app: Flask) -> None:
    with postgres_app.app_context(), db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []


def test_money_round_trips_exactly(postgres_app: Flask) -> None:
    client = postgres_app.test_client()
    payment = client.post("/payments/pix", json={"value": "12345.67"}).get_json()["payment"]
    assert payment["value"] == 12345.67
    with postgres_app.app_context():
        assert db.session.get(Payment, payment["id"]).value == Decimal("12345.67")


def test_fifty_concurrent_confirmations_give_one_transition_and_one_event(
    postgres_app: Flask, signed_headers: Any
) -> None:
    client = postgres_app.test_client()
    payment = client.post("/payments/pix", json={"value": 99}).get_json()["payment"]
    page = socketio.test_client(postgres_app, flask_test_client=client)
    page.emit("subscribe", {"token": payment["page_url"].rsplit("/", 1)[1]})
    page.get_received()
    raw = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 99}).encode()
    start = threading.Barrier(CONCURRENT_CONFIRMATIONS)
    messages: list[str] = []

    def confirm() -> None:
        thread_client = postgres_app.test_client()
        start.wait()
        response = thread_client.post(CONFIRMATION_URL, data=raw, headers=signed_headers(raw))
        assert response.status_code == 200
        messages.append(response.get_json()["message"])

    threads = [threading.Thread(target=confirm) for _ in range(CONCURRENT_CONFIRMATIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(messages) == CONCURRENT_CONFIRMATIONS
    assert messages.count("The payment has been confirmed") == 1
    events = [e["args"][0]["status"] for e in page.get_received() if e["name"] == "payment_status"]
    assert events == ["paid"]
