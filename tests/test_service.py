"""Health, the one JSON error shape of the API, and HTML error pages with real status codes."""

import sqlite3

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from db_models import db


def test_health_reports_the_database(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_says_when_the_database_does_not_answer(app: Flask, client: FlaskClient) -> None:
    def refuse(*_args: object) -> None:
        raise sqlite3.OperationalError("unable to open database file")

    with app.app_context():
        db.engine.dispose()
        event.listen(db.engine, "do_connect", refuse)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "database": "unavailable"}


def test_wrong_method_gets_json_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/payments/pix")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unknown_api_path_gets_json_404(client: FlaskClient) -> None:
    response = client.get("/payments/unknown", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert set(response.get_json()["error"]) == {"status", "code", "message"}


def test_unexpected_failure_is_a_json_500_without_internals(
    monkeypatch: pytest.MonkeyPatch, client: FlaskClient
) -> None:
    def explode(*_args: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("routes.api.add_payment", explode)
    response = client.post("/payments/pix", json={"value": 10})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_server_error"
    assert b"secret internal detail" not in response.data


def test_get_on_the_webhook_is_405_not_a_page(client: FlaskClient) -> None:
    response = client.get("/payments/pix/confirmation")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"
