"""Fixtures: a fresh app and database per test, HTTP and Socket.IO clients, payment factories."""

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import update

from app import create_app
from config import DEFAULTS
from db_models import Payment, db
from db_models.base import now_utc
from extensions import socketio
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook
from tests.fake_psp import FakePsp
from tests.live_server import LiveServer
from tests.services import fresh_postgres_database

CONFIRMATION_URL = "/payments/pix/confirmation"
# Hypothesis (and schemathesis through it) caches what it learns; never inside the repository tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "pix-checkout-hypothesis")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see the documented defaults, whatever the developer's shell exports."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def app_config(tmp_path: Any) -> dict[str, Any]:
    """Overrides for create_app: a database file in a temporary folder, threading mode."""
    return {
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'test.db'}",
        "SOCKETIO_ASYNC_MODE": "threading",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def postgres_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    """The app on a fresh PostgreSQL database of its own (skips, or fails under CI, without PostgreSQL)."""
    with fresh_postgres_database() as url:
        app = create_app(app_config | {"DATABASE_URL": url, "AUTO_MIGRATE": True})
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def socket_client(app: Flask, client: FlaskClient) -> Iterator[SocketIOTestClient]:
    socket = socketio.test_client(app, flask_test_client=client)
    yield socket
    if socket.is_connected():
        socket.disconnect()


@pytest.fixture
def make_payment(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Create a payment through the API and return its JSON."""

    def make(value: Any = 1500) -> dict[str, Any]:
        response = client.post("/payments/pix", json={"value": value})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["payment"]

    return make


@pytest.fixture
def token_of() -> Callable[[dict[str, Any]], str]:
    """The secret page token inside a payment's page_url."""
    return lambda payment: payment["page_url"].rsplit("/", 1)[1]


@pytest.fixture
def signed_headers() -> Callable[..., dict[str, str]]:
    """Standard Webhooks headers for a raw body, by default with the development secret."""

    def sign(body: bytes, secret: str = DEVELOPMENT_WEBHOOK_SECRET, timestamp: datetime | None = None) -> dict:
        return sign_webhook(secret, body, timestamp=timestamp) | {"Content-Type": "application/json"}

    return sign


@pytest.fixture
def confirm(client: FlaskClient, signed_headers: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """POST a correctly signed confirmation for a payment (or any body) and return the response."""

    def post(payment: dict[str, Any] | None = None, *, body: Any = None, value: Any = None) -> Any:
        if body is None:
            value = payment["value"] if value is None else value
            body = {"bank_payment_id": payment["bank_payment_id"], "value": value}
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post(CONFIRMATION_URL, data=raw, headers=signed_headers(raw))

    return post


@pytest.fixture
def stored_payment(app: Flask) -> Callable[[dict[str, Any]], Payment]:
    """The payment row as the database holds it now."""

    def load(payment: dict[str, Any]) -> Payment:
        with app.app_context():
            return db.session.get(Payment, payment["id"])

    return load


@pytest.fixture
def deadline_passed(app: Flask) -> Callable[[dict[str, Any], timedelta], None]:
    """Move a payment's deadline to this long ago, as time passing would."""

    def move(payment: dict[str, Any], ago: timedelta) -> None:
        with app.app_context():
            deadline = now_utc() - ago
            db.session.execute(update(Payment).where(Payment.id == payment["id"]).values(expiration_date=deadline))
            db.session.commit()

    return move


@pytest.fixture
def expire(deadline_passed: Callable) -> Callable[[dict[str, Any]], None]:
    """Move a payment's deadline an hour into the past, well beyond any clock tolerance."""
    return lambda payment: deadline_passed(payment, timedelta(hours=1))


@pytest.fixture
def psp(monkeypatch: pytest.MonkeyPatch) -> FakePsp:
    """A PSP in this process, answering at once (no pauses between retries)."""
    monkeypatch.setattr("pix.psp_client.RETRY_PAUSES", (0, 0))
    return FakePsp()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real eventlet server shared by the tests that only add payments to it."""
    server = LiveServer(tmp_path_factory.mktemp("live-server"))
    server.start()
    yield server
    server.stop()
