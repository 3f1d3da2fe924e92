"""The shop's side of a payment: its order reference, description, metadata, idempotent creation and the return."""

import hashlib
import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from db_models import IdempotencyKey, Payment, db
from pix.return_link import verify_return
from pix.signatures import webhook_key
from tests.concurrency import run_together
from tests.test_config import PRODUCTION

ORDER = {"value": "59.90", "order_id": "PED-2026-0042", "description": "2 camisetas, tamanho M"}
ORDER |= {
    "metadata": {"customer": "c-981", "channel": "instagram"},
    "return_url": "https://loja.example.com/obrigado?x=1",
}


def count_payments(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(db.select(db.func.count(Payment.id))).scalar_one()


def test_the_shops_fields_are_kept_and_echoed(client: FlaskClient) -> None:
    payment = client.post("/payments/pix", json=ORDER).get_json()["payment"]
    assert {key: payment[key] for key in ("order_id", "description", "metadata", "return_url")} == {
        key: ORDER[key] for key in ("order_id", "description", "metadata", "return_url")
    }
    found = client.get("/payments/pix", query_string={"order_id": "PED-2026-0042"}).get_json()["payments"]
    assert [p["id"] for p in found] == [payment["id"]]
    assert client.get("/payments/pix", query_string={"order_id": "other"}).get_json()["payments"] == []
    page = client.get(payment["page_url"]).get_data(as_text=True)
    assert "2 camisetas, tamanho M" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_id", "x" * 65),
        ("order_id", 42),
        ("description", "d" * 141),
        ("description", "linha\nquebrada"),
        ("metadata", {"nested": {"a": "b"}}),
        ("metadata", {"n": 1}),
        ("metadata", {f"k{i}": "v" for i in range(21)}),
        ("metadata", {"k": "v" * 501}),
        ("metadata", {"bad key": "v"}),
        ("metadata", ["a"]),
        ("return_url", "javascript:alert(1)"),
        ("return_url", "/relative"),
        ("return_url", "https://user:pass@loja.example.com/"),
    ],
)
def test_bad_shop_fields_get_a_400_naming_the_field(client: FlaskClient, field: str, value: Any) -> None:
    response = client.post("/payments/pix", json={"value": 10, field: value})
    assert (response.status_code, response.get_json()["error"]["field"]) == (400, field)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://loja.example.com/ok", 201),
        ("https://www.loja.example.com/ok", 400),
        ("https://checkout.loja.example.com:8443/ok", 201),
        ("https://checkout.loja.example.com/ok", 400),
        ("https://evil.example/ok", 400),
    ],
)
def test_return_urls_are_limited_to_the_allowed_hosts(app_config: dict, url: str, status: int) -> None:
    settings = {"RETURN_URL_HOSTS": "loja.example.com, checkout.loja.example.com:8443"}
    client = create_app(app_config | settings).test_client()
    assert client.post("/payments/pix", json={"value": 10, "return_url": url}).status_code == status


def test_production_returns_buyers_only_over_https_to_allowed_hosts(app_config: dict) -> None:
    settings = PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet", "RETURN_URL_HOSTS": "loja.example.com"}
    settings |= {"RETURN_URL_SECRET": "whsec_" + "dGhlLXNob3BzLW93bi1yZXR1cm4tc2VjcmV0LXg5cTI="}
    client = create_app(app_config | settings).test_client()
    shop = {"Authorization": f"Bearer {PRODUCTION['SHOP_API_KEY']}", "Host": "localhost"}
    plain = client.post("/payments/pix", json={"value": 10, "return_url": "http://loja.example.com/"}, headers=shop)
    assert plain.status_code == 400
    secure = client.post("/payments/pix", json={"value": 10, "return_url": "https://loja.example.com/"}, headers=shop)
    assert secure.status_code == 201


def test_the_same_key_and_body_get_the_same_answer_and_one_payment(app: Flask, client: FlaskClient) -> None:
    first = client.post("/payments/pix", json=ORDER, headers={"Idempotency-Key": "order-42-try"})
    again = client.post("/payments/pix", json=ORDER, headers={"Idempotency-Key": "order-42-try"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_data() == again.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_payments(app) == 1


def test_the_same_key_with_another_body_is_a_422(app: Flask, client: FlaskClient) -> None:
    client.post("/payments/pix", json=ORDER, headers={"Idempotency-Key": "k-1"})
    other = client.post("/payments/pix", json=ORDER | {"value": "60.00"}, headers={"Idempotency-Key": "k-1"})
    assert (other.status_code, other.get_json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert count_payments(app) == 1


def test_a_request_that_failed_leaves_its_key_free_for_the_corrected_retry(app: Flask, client: FlaskClient) -> None:
    bad = client.post("/payments/pix", json={"value": "-1"}, headers={"Idempotency-Key": "k-2"})
    assert bad.status_code == 400
    good = client.post("/payments/pix", json={"value": "1"}, headers={"Idempotency-Key": "k-2"})
    assert good.status_code == 201


def test_concurrent_retries_with_one_key_create_one_payment(app: Flask) -> None:
    def post() -> int:
        return app.test_client().post("/payments/pix", json=ORDER, headers={"Idempotency-Key": "race"}).status_code

    statuses = run_together(8, post)
    assert count_payments(app) == 1
    assert set(statuses) <= {201, 409} and 201 in statuses


def test_keys_are_forgotten_after_their_time(app: Flask, client: FlaskClient) -> None:
    client.post("/payments/pix", json=ORDER, headers={"Idempotency-Key": "old"})
    with app.app_context():
        db.session.execute(db.update(IdempotencyKey).values(created_at=datetime.now(UTC) - timedelta(hours=25)))
        db.session.commit()
    assert client.post("/payments/pix", json=ORDER, headers={"Idempotency-Key": "old"}).status_code == 201
    assert count_payments(app) == 2


def test_a_key_whose_request_died_is_free_again_once_none_could_still_run(app: Flask, client: FlaskClient) -> None:
    body = json.dumps(ORDER).encode()

    def died(minutes_ago: int) -> None:  # as a process killed mid-creation leaves its key: claimed, never answered
        started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        with app.app_context():
            db.session.execute(db.delete(IdempotencyKey))
            db.session.add(
                IdempotencyKey(key="crash", fingerprint=hashlib.sha256(body).hexdigest(), created_at=started)
            )
            db.session.commit()

    def retry() -> Any:
        return client.post(
            "/payments/pix", data=body, content_type="application/json", headers={"Idempotency-Key": "crash"}
        )

    died(minutes_ago=1)
    assert (retry().status_code, retry().get_json()["error"]["code"]) == (409, "idempotency_key_in_use")  # may run
    died(minutes_ago=20)
    assert retry().status_code == 201  # before, 409 for the key's whole 24 hours
    assert count_payments(app) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "chave-não-ascii"])
def test_a_malformed_idempotency_key_is_a_400(client: FlaskClient, key: str) -> None:
    response = client.post("/payments/pix", json=ORDER, headers={"Idempotency-Key": key})
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_idempotency_key")


def return_link(page_html: str) -> str:
    [link] = re.findall(r'<a class="button" href="([^"]+)"[^>]*>Voltar à loja</a>', page_html)
    return html.unescape(link)


def test_the_paid_page_takes_the_buyer_back_with_a_signed_link(
    app: Flask, client: FlaskClient, confirm: Callable
) -> None:
    payment = client.post("/payments/pix", json=ORDER).get_json()["payment"]
    confirm(payment)
    page = client.get(payment["page_url"]).get_data(as_text=True)
    link = return_link(page)
    assert 'data-return-after="5"' in page and "js/return.js" in page  # and by itself, after five seconds
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "loja.example.com", "/obrigado")
    query = dict(parse_qsl(parts.query))
    assert (query["x"], query["payment_id"], query["order_id"], query["status"]) == (
        "1",
        str(payment["id"]),
        "PED-2026-0042",
        "paid",
    )
    key = webhook_key(app.config["RETURN_URL_SECRET"])
    assert verify_return(query, key, datetime.now(UTC))
    assert not verify_return(query | {"status": "expired"}, key, datetime.now(UTC))  # tampered
    assert not verify_return(query, key, datetime.now(UTC) + timedelta(hours=1))  # stale


def test_the_expired_page_offers_the_way_back(client: FlaskClient, expire: Callable) -> None:
    payment = client.post("/payments/pix", json=ORDER).get_json()["payment"]
    expire(payment)
    page = client.get(payment["page_url"]).get_data(as_text=True)
    assert dict(parse_qsl(urlsplit(return_link(page)).query))["status"] == "expired"
    assert "http-equiv" not in page  # no automatic redirect: the buyer may want to read the page


def test_links_are_built_on_the_public_base_url(app_config: dict) -> None:
    client = create_app(app_config | {"PUBLIC_BASE_URL": "https://pagamentos.example.com/"}).test_client()
    payment = client.post("/payments/pix", json={"value": 1}).get_json()["payment"]
    assert payment["page_url"].startswith("https://pagamentos.example.com/payments/pix/")
    assert payment["status_url"].startswith("https://pagamentos.example.com/payments/pix/")
