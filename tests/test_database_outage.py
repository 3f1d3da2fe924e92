"""The database going away is a 503 the shop, the bank and the buyer's page can retry, never a 500, and the
checkout serves again by itself once it is back: PostgreSQL behind a relay the tests cut and restore."""

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from sqlalchemy import create_engine, make_url
from sqlalchemy import text as sa_text

from app import create_app
from db_models import db
from repository.transactions import transaction
from tests.cuttable_proxy import CuttableProxy, packets_dropped
from tests.services import POSTGRES_ADMIN_URL, fresh_postgres_database, postgres_behind_relay


@pytest.fixture
def database_relay() -> Iterator[tuple[str, CuttableProxy]]:
    with postgres_behind_relay() as relayed:
        yield relayed


@pytest.fixture
def app(app_config: dict[str, Any], database_relay: tuple[str, CuttableProxy]) -> Iterator[Flask]:
    app = create_app(app_config | {"DATABASE_URL": database_relay[0], "AUTO_MIGRATE": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def assert_retry_later(response: Any) -> None:
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
    # The outage's own 5 s, not the end of a rate limit's window (up to a minute): the limit was not reached.
    assert response.headers["Retry-After"] == "5"


def test_the_shop_and_the_bank_are_told_to_retry_while_the_database_is_down(
    client: FlaskClient, make_payment: Callable, confirm: Callable, database_relay: tuple[str, CuttableProxy]
) -> None:
    payment = make_payment(25)
    database_relay[1].cut()
    assert_retry_later(client.post("/payments/pix", json={"value": 10}, headers={"Idempotency-Key": "order-1"}))
    assert_retry_later(confirm(payment))
    assert_retry_later(client.get("/payments/pix?order_id=order-1"))
    database_relay[1].restore()


def test_the_buyer_is_asked_to_try_again_while_the_database_is_down(
    client: FlaskClient,
    make_payment: Callable,
    token_of: Callable,
    socket_client: SocketIOTestClient,
    database_relay: tuple[str, CuttableProxy],
) -> None:
    token = token_of(make_payment(25))
    database_relay[1].cut()
    page = client.get(f"/payments/pix/{token}", headers={"Accept": "text/html"})
    assert page.status_code == 503
    assert "Serviço indisponível no momento" in page.get_data(as_text=True)
    assert "Se você já pagou" in page.get_data(as_text=True)
    # An operator's page says the service is down, and promises nothing about a payment.
    admin = client.get("/admin/", headers={"Accept": "text/html"})
    assert admin.status_code == 503
    assert "Se você já pagou" not in admin.get_data(as_text=True)
    assert_retry_later(client.get(f"/payments/pix/{token}/status"))
    refused = socket_client.emit("subscribe", {"token": token}, callback=True)
    assert refused["error"]["code"] == "database_unavailable"
    database_relay[1].restore()


def test_the_checkout_serves_again_by_itself_once_the_database_is_back(
    client: FlaskClient, make_payment: Callable, confirm: Callable, database_relay: tuple[str, CuttableProxy]
) -> None:
    payment = make_payment(25)
    proxy = database_relay[1]
    proxy.cut()
    assert_retry_later(client.post("/payments/pix", json={"value": 10}))
    proxy.restore()
    # The pool's connections died with the outage: at most the first request finds out, then it reconnects.
    statuses = [client.post("/payments/pix", json={"value": 10}).status_code for _ in range(3)]
    assert statuses[1:] == [201, 201]
    assert confirm(payment).status_code == 200


NETWORK_TIMEOUT = 2


@pytest.fixture
def quick_to_give_up(app_config: dict[str, Any], database_relay: tuple[str, CuttableProxy]) -> Iterator[Flask]:
    """The app on the relayed database, dropping a connection whose host is silent for NETWORK_TIMEOUT seconds."""
    settings = {"DATABASE_URL": database_relay[0], "AUTO_MIGRATE": True, "DATABASE_NETWORK_TIMEOUT": NETWORK_TIMEOUT}
    app = create_app(app_config | settings)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_database_host_that_vanished_is_a_503_within_the_network_timeout_not_a_hang(
    quick_to_give_up: Flask, database_relay: tuple[str, CuttableProxy]
) -> None:
    client = quick_to_give_up.test_client()
    assert client.post("/payments/pix", json={"value": 10}).status_code == 201  # a pooled connection to that host
    # In a thread, so that without the timeout this test fails in 20 s instead of waiting out TCP's 15 minutes.
    with ThreadPoolExecutor(1) as background, packets_dropped(database_relay[1].port):
        started = time.monotonic()
        creating = background.submit(client.post, "/payments/pix", json={"value": 10})
        assert_retry_later(creating.result(timeout=20))
        assert time.monotonic() - started < NETWORK_TIMEOUT + 5
        # A new connection to a host that answers nothing gives up as soon.
        started = time.monotonic()
        assert_retry_later(background.submit(client.get, "/payments/pix?order_id=order-1").result(timeout=20))
        assert time.monotonic() - started < NETWORK_TIMEOUT + 5
    statuses = [client.post("/payments/pix", json={"value": 10}).status_code for _ in range(2)]
    assert statuses[-1] == 201


def test_a_statement_longer_than_the_network_timeout_runs_to_its_end_on_a_live_host(quick_to_give_up: Flask) -> None:
    with quick_to_give_up.app_context(), transaction():
        slept = db.session.execute(sa_text(f"SELECT pg_sleep({NETWORK_TIMEOUT * 2}), 1")).one()
    assert slept[1] == 1


def test_an_outage_logs_no_page_token(
    client: FlaskClient,
    make_payment: Callable,
    token_of: Callable,
    database_relay: tuple[str, CuttableProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = token_of(make_payment(25))
    database_relay[1].cut()
    with caplog.at_level("INFO"):
        assert_retry_later(client.get(f"/payments/pix/{token}/status"))
    database_relay[1].restore()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "database unavailable on GET /payments/pix/<page_token:token>/status" in logged
    assert token not in logged  # before, in the path and in the failed statement's parameters


def test_a_restart_that_drops_every_connection_logs_no_page_token(
    app_config: dict[str, Any], token_of: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    with fresh_postgres_database() as url:
        app = create_app(app_config | {"DATABASE_URL": url, "AUTO_MIGRATE": True})
        client = app.test_client()
        token = token_of(client.post("/payments/pix", json={"value": 10}).get_json()["payment"])
        assert client.get(f"/payments/pix/{token}/status").status_code == 200  # a pooled connection
        admin = create_engine(POSTGRES_ADMIN_URL.set(drivername="postgresql+pg8000"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:  # what a restart or a failover does to every connection
            connection.execute(
                sa_text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": make_url(url).database},
            )
        admin.dispose()
        with caplog.at_level("INFO"):
            assert_retry_later(client.get(f"/payments/pix/{token}/status"))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    logged = "\n".join(logging.Formatter().format(record) for record in caplog.records)  # tracebacks too
    assert "database unavailable" in logged
    assert token not in logged  # before, the socket error's message carried the statement's parameters
