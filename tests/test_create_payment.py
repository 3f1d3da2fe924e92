"""POST /payments/pix and repository.create_payment."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from db_models import Payment, PaymentStatus, db
from pix.providers import StaticProvider
from repository.payments import create_payment


def test_create_payment_stores_a_pending_payment_with_exact_value(app: Flask) -> None:
    with app.app_context():
        charge = StaticProvider(app.config["PIX_MERCHANT"]).issue(Decimal("19.99"), timedelta(minutes=30), None)
        payment = create_payment(Decimal("19.99"), charge, "static", timedelta(minutes=30))
        stored = db.session.get(Payment, payment.id)
        assert stored.value == Decimal("19.99")
        assert stored.value_cents == 1999
        assert stored.current_status() is PaymentStatus.PENDING
        assert stored.expiration_date.tzinfo is not None
        remaining = stored.expiration_date - datetime.now(UTC)
        assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)
        assert "540519.99" in stored.pix_copy_paste
        assert f"0525{stored.txid}" in stored.pix_copy_paste


def test_create_payment_gives_each_payment_its_own_identifiers(app: Flask) -> None:
    with app.app_context():
        provider = StaticProvider(app.config["PIX_MERCHANT"])
        payments = [
            create_payment(
                Decimal("10.00"),
                provider.issue(Decimal("10.00"), timedelta(minutes=5), None),
                "static",
                timedelta(minutes=5),
            )
            for _ in range(20)
        ]
        for field in ("txid", "token", "bank_payment_id", "pix_copy_paste"):
            assert len({getattr(p, field) for p in payments}) == 20
        assert all(re.fullmatch(r"[A-Za-z0-9]{25}", p.txid) for p in payments)
        assert all(len(p.token) >= 32 for p in payments)


def test_create_returns_201_with_the_course_contract(client: FlaskClient) -> None:
    response = client.post("/payments/pix", json={"value": 1500})
    assert response.status_code == 201
    body = response.get_json()
    assert body["message"] == "The payment has been created"
    payment = body["payment"]
    assert payment["value"] == 1500
    assert payment["paid"] is False
    assert payment["status"] == "pending"
    assert isinstance(payment["id"], int)
    assert re.fullmatch(r"[0-9a-f-]{36}", payment["bank_payment_id"])
    assert payment["qr_code"].startswith("qr_code_payment_")
    assert datetime.fromisoformat(payment["expiration_date"]).utcoffset() == timedelta(0)
    assert payment["pix_copy_paste"].startswith("000201")
    assert payment["qr_code_url"].endswith(f"/payments/pix/qr_code/{payment['qr_code']}")
    token = payment["page_url"].rsplit("/", 1)[1]
    assert len(token) >= 32
    assert token != str(payment["id"])


@pytest.mark.parametrize(("sent", "returned"), [("15.50", 15.5), (0.1, 0.1), ("1500.00", 1500), (99.99, 99.99)])
def test_decimal_values_come_back_exactly(client: FlaskClient, sent: Any, returned: Any) -> None:
    response = client.post("/payments/pix", json={"value": sent})
    assert response.status_code == 201
    assert response.get_json()["payment"]["value"] == returned


BAD_VALUES = [
    ("null value", b'{"value": null}', "missing_field"),
    ("missing value", b"{}", "missing_field"),
    ("zero", b'{"value": 0}', "invalid_field"),
    ("negative", b'{"value": -10}', "invalid_field"),
    ("three decimals", b'{"value": 10.001}', "invalid_field"),
    ("text", b'{"value": "abc"}', "invalid_field"),
    ("comma decimal", b'{"value": "10,50"}', "invalid_field"),
    ("boolean", b'{"value": true}', "invalid_field"),
    ("NaN", b'{"value": NaN}', "invalid_json"),
    ("Infinity", b'{"value": Infinity}', "invalid_json"),
    ("huge exponent", b'{"value": 1e400}', "invalid_field"),
    ("over the maximum", b'{"value": 100000.01}', "invalid_field"),
    ("nested object", b'{"value": {"amount": 10}}', "invalid_field"),
    ("list", b'{"value": [10]}', "invalid_field"),
    ("very long string", b'{"value": "' + b"9" * 5000 + b'"}', "invalid_field"),
    ("very long number", b'{"value": ' + b"9" * 5000 + b"}", "invalid_field"),
]


@pytest.mark.parametrize(("label", "raw", "code"), BAD_VALUES, ids=[case[0] for case in BAD_VALUES])
def test_bad_values_get_400_naming_the_field(client: FlaskClient, label: str, raw: bytes, code: str) -> None:
    response = client.post("/payments/pix", data=raw, content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["status"] == 400
    assert error["code"] == code
    if code != "invalid_json":
        assert error["field"] == "value"
        assert "value" in error["message"]


@pytest.mark.parametrize(
    ("raw", "content_type", "status"),
    [
        (b"null", "application/json", 400),
        (b"", "application/json", 400),
        (b"[1500]", "application/json", 400),
        (b'"1500"', "application/json", 400),
        (b"{not json", "application/json", 400),
        (b'{"value": 1500', "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"[" * 100_00 + b"]" * 100_00, "application/json", 400),
        (b"value=1500", "application/x-www-form-urlencoded", 415),
        (b'{"value": 1500}', "text/plain", 415),
        (b'{"value": 1500}', None, 415),
    ],
)
def test_malformed_bodies_get_a_json_4xx(client: FlaskClient, raw: bytes, content_type: str, status: int) -> None:
    response = client.post("/payments/pix", data=raw, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == status


def test_oversized_body_gets_413(client: FlaskClient) -> None:
    response = client.post("/payments/pix", data=b" " * (65 * 1024) + b"{}", content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_refused_input_writes_nothing(app: Flask, client: FlaskClient) -> None:
    client.post("/payments/pix", json={"value": -1})
    client.post("/payments/pix", data=b"null", content_type="application/json")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Payment)) == 0


def test_duplicate_keys_are_refused(client: FlaskClient) -> None:
    response = client.post("/payments/pix", data=b'{"value": 1500, "value": 2}', content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_trusted_hosts_keep_forged_hosts_out_of_payment_links(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"TRUSTED_HOSTS": "loja.example.com"}).test_client()
    forged = client.post("/payments/pix", json={"value": 10}, headers={"Host": "evil.example"})
    assert forged.status_code == 400
    good = client.post("/payments/pix", json={"value": 10}, headers={"Host": "loja.example.com"})
    assert good.get_json()["payment"]["page_url"].startswith("http://loja.example.com/")


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_refused_host_gets_a_4xx_never_a_500(app_config: dict[str, Any], accept: str) -> None:
    client = create_app(app_config | {"TRUSTED_HOSTS": "loja.example.com"}).test_client()
    response = client.get("/health", headers={"Host": "evil.example", "Accept": accept})
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == 400


def test_non_ascii_digits_are_not_money(client: FlaskClient) -> None:
    response = client.post("/payments/pix", json={"value": "١٥"})
    assert response.status_code == 400


def test_with_a_shop_key_only_the_shop_creates_payments(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"SHOP_API_KEY": "s3cret-shop-key-0123456789"}).test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-shop-key-0123456789x"}):
        refused = client.post("/payments/pix", json={"value": 10}, headers=headers)
        assert refused.status_code == 401
        assert refused.get_json()["error"]["code"] == "invalid_api_key"
    allowed = client.post(
        "/payments/pix", json={"value": 10}, headers={"Authorization": "Bearer s3cret-shop-key-0123456789"}
    )
    assert allowed.status_code == 201
