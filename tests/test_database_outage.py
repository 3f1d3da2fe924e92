"""The database going away is a 503 the shop, the bank and the buyer's page can retry, never a 500, and the
checkout serves again by itself once it is back: PostgreSQL behind a relay the tests cut and restore."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from app import create_app
from db_models import db
from tests.cuttable_proxy import CuttableProxy
from tests.services import postgres_behind_relay


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
