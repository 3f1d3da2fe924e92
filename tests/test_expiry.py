"""Expiry is enforced by the clock: an unpaid payment past its deadline is expired everywhere."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"PIX_EXPIRATION_MINUTES": "0.005"}  # 300 ms


def test_payment_expires_on_its_own(app: Flask, client: FlaskClient, make_payment: Callable, confirm, token_of):
    payment = make_payment()
    status_url = f"/payments/pix/{token_of(payment)}/status"
    assert client.get(status_url).get_json()["payment"]["status"] == "pending"
    time.sleep(0.4)
    assert client.get(status_url).get_json()["payment"]["status"] == "expired"
    assert "Pagamento expirado" in client.get(payment["page_url"]).get_data(as_text=True)
    assert confirm(payment).status_code == 410
