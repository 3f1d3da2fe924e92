"""Flask-Limiter on payment creation and confirmation: 429 with Retry-After, limits from config."""

import json
import time
from typing import Any

from app import create_app


def test_creation_over_the_limit_gets_429_with_retry_after(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"PIX_CREATE_RATE_LIMIT": "2 per minute"}).test_client()
    statuses = [client.post("/payments/pix", json={"value": 10}).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    refused = client.post("/payments/pix", json={"value": 10})
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_an_answer_within_the_budget_says_what_is_left_and_never_to_retry(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"PIX_CREATE_RATE_LIMIT": "5 per minute"}).test_client()
    created = [client.post("/payments/pix", json={"value": 10}) for _ in range(2)]
    assert [response.status_code for response in created] == [201, 201]
    assert [response.headers["X-RateLimit-Remaining"] for response in created] == ["4", "3"]
    assert created[0].headers["X-RateLimit-Limit"] == "5"
    assert time.time() < int(created[0].headers["X-RateLimit-Reset"]) <= time.time() + 61
    # Retry-After on a success would tell a shop's client to wait before its next creation.
    assert "Retry-After" not in created[0].headers
    assert "Retry-After" not in client.post("/payments/pix", json={"value": "junk"}).headers


def test_unsigned_junk_never_throttles_the_banks_signed_confirmations(
    app_config: dict[str, Any], signed_headers: Any
) -> None:
    client = create_app(app_config | {"PIX_CONFIRM_RATE_LIMIT": "2 per minute"}).test_client()
    raw = b'{"bank_payment_id": "unknown", "value": 1}'
    junk = [client.post("/payments/pix/confirmation", data=raw, content_type="application/json") for _ in range(4)]
    assert [response.status_code for response in junk] == [401, 401, 429, 429]
    assert junk[-1].get_json()["error"]["code"] == "too_many_requests"
    signed = [client.post("/payments/pix/confirmation", data=raw, headers=signed_headers(raw)) for _ in range(3)]
    assert [response.status_code for response in signed] == [404, 404, 404]
    assert client.post("/payments/pix", json={"value": 10}).status_code == 201


def test_wrong_shop_keys_never_lock_the_shop_out(app_config: dict[str, Any]) -> None:
    key = "shop-key-" + "x" * 24
    settings = {
        "SHOP_API_KEY": key,
        "PIX_AUTH_FAILURE_RATE_LIMIT": "2 per minute",
        "PIX_CREATE_RATE_LIMIT": "3 per minute",
    }
    client = create_app(app_config | settings).test_client()
    shop = {"Authorization": f"Bearer {key}"}
    junk = [client.post("/payments/pix", json={"value": 10}).status_code for _ in range(4)]
    assert junk == [401, 401, 429, 429]
    assert [client.post("/payments/pix", json={"value": 10}, headers=shop).status_code for _ in range(4)] == [
        201,
        201,
        201,
        429,
    ]


def test_limits_can_be_switched_off(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"PIX_CREATE_RATE_LIMIT": "1 per minute", "RATELIMIT_ENABLED": "false"})
    statuses = {client.test_client().post("/payments/pix", json={"value": 10}).status_code for _ in range(3)}
    assert statuses == {201}


def test_applied_confirmations_do_not_count_against_the_limit(app_config: dict[str, Any], signed_headers: Any) -> None:
    client = create_app(app_config | {"PIX_CONFIRM_RATE_LIMIT": "2 per minute"}).test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    raw = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 10}).encode()
    statuses = [
        client.post("/payments/pix/confirmation", data=raw, headers=signed_headers(raw)).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 200]
