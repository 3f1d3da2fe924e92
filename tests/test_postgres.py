"""The checkout on PostgreSQL: migrations, exact money, races, and connections that bad input cannot poison."""

import json
from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import text

from app import MIGRATIONS, create_app
from db_models import BankNotification, Payment, db
from extensions import socketio
from tests.concurrency import run_together
from tests.conftest import CONFIRMATION_URL
from tests.services import fresh_postgres_database

CONCURRENT_CONFIRMATIONS = 50


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

    def confirm() -> tuple[int, str]:
        response = postgres_app.test_client().post(CONFIRMATION_URL, data=raw, headers=signed_headers(raw))
        return response.status_code, response.get_json()["message"]

    results = run_together(CONCURRENT_CONFIRMATIONS, confirm)
    assert {status for status, _ in results} == {200}
    assert [message for _, message in results].count("The payment has been confirmed") == 1
    events = [e["args"][0]["status"] for e in page.get_received() if e["name"] == "payment_status"]
    assert events == ["paid"]


def test_concurrent_retries_of_one_refused_message_are_kept_once(postgres_app: Flask, signed_headers: Any) -> None:
    raw = b'{"bank_payment_id": "no-such-payment", "value": 12.5}'
    headers = signed_headers(raw)
    post = postgres_app.test_client().post
    statuses = run_together(16, lambda: post(CONFIRMATION_URL, data=raw, headers=headers).status_code)
    assert statuses == [404] * 16
    with postgres_app.app_context():
        rows = db.session.execute(db.select(BankNotification.outcome, BankNotification.value_cents)).all()
    assert rows == [("payment_not_found", 1250)]


def test_a_lone_surrogate_in_a_subscription_leaves_the_database_usable(
    postgres_app: Flask, signed_headers: Any
) -> None:
    client = postgres_app.test_client()
    page = socketio.test_client(postgres_app, flask_test_client=client)
    ack = page.emit("subscribe", {"token": "\ud800" + "a" * 31}, callback=True)
    assert ack["error"]["code"] == "invalid_token"
    for _ in range(3):  # more requests than the pool has broken connections to hand out
        payment = client.post("/payments/pix", json={"value": 5}).get_json()["payment"]
        raw = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 5}).encode()
        assert client.post(CONFIRMATION_URL, data=raw, headers=signed_headers(raw)).status_code == 200
        status = client.get(payment["status_url"]).get_json()["payment"]
        assert (status["id"], status["status"]) == (payment["id"], "paid")


def test_a_driver_failure_mid_query_does_not_poison_the_pool(postgres_app: Flask) -> None:
    client = postgres_app.test_client()
    with postgres_app.app_context():
        # Past every boundary check: pg8000 fails while writing the message, outside its own error classes.
        with pytest.raises(UnicodeEncodeError):
            db.session.execute(db.select(Payment).filter_by(bank_payment_id="\ud800")).all()
        db.session.rollback()
    for value in (1, 2, 3):
        assert client.post("/payments/pix", json={"value": value}).status_code == 201
    assert client.get("/health").status_code == 200


def test_refused_confirmations_migrate_into_bank_notifications(app_config: dict[str, Any]) -> None:
    with fresh_postgres_database() as url:
        app = create_app(app_config | {"DATABASE_URL": url})
        with app.app_context():
            upgrade(directory=MIGRATIONS, revision="0002")
            db.session.execute(
                text(
                    "INSERT INTO refused_confirmations (webhook_id, bank_payment_id, value_cents, reason, received_at)"
                    " VALUES ('msg_1', 'gone', 990, 'payment_not_found', now())"
                )
            )
            db.session.commit()
            upgrade(directory=MIGRATIONS)
            [notice] = db.session.execute(db.select(BankNotification)).scalars()
            assert (notice.idempotency_key, notice.payment_key, notice.value_cents, notice.outcome) == (
                "msg_1",
                "gone",
                990,
                "payment_not_found",
            )
            db.session.remove()
            db.engine.dispose()
