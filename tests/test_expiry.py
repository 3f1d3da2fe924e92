"""Expiry is enforced by the clock: an unpaid payment past its deadline is expired everywhere."""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"PIX_EXPIRATION_MINUTES": "0.005", "PIX_CLOCK_TOLERANCE_SECONDS": 0}  # 300 ms


def test_payment_expires_on_its_own(app: Flask, client: FlaskClient, make_payment: Callable, confirm, token_of):
    payment = make_payment()
    status_url = f"/payments/pix/{token_of(payment)}/status"
    assert client.get(status_url).get_json()["payment"]["status"] == "pending"
    time.sleep(0.4)
    assert client.get(status_url).get_json()["payment"]["status"] == "expired"
    assert "Pagamento expirado" in client.get(payment["page_url"]).get_data(as_text=True)
    assert confirm(payment).status_code == 410


def test_a_confirmation_within_the_clock_tolerance_still_pays(app_config: dict[str, Any], signed_headers) -> None:
    client = create_app(app_config | {"PIX_CLOCK_TOLERANCE_SECONDS": 5}).test_client()
    payment = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]
    time.sleep(0.4)  # the deadline passed while the bank's message was on its way
    raw = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 10}).encode()
    response = client.post("/payments/pix/confirmation", data=raw, headers=signed_headers(raw))
    assert (response.status_code, response.get_json()["payment"]["status"]) == (200, "paid")
