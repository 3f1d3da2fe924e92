"""/admin: the operator's numbers, payments by reference and money to act on, behind ADMIN_TOKEN."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from db_models import DeliveryStatus
from tests.live_server import free_port
from tests.test_config import PRODUCTION
from tests.webhook_worker import deliver_due, deliveries

ADMIN_TOKEN = "b3BlcmF0b3ItdG9rZW4tZm9yLXRlc3Rz-7Qw2"


def number(page: str, name: str) -> str:
    return re.search(rf'data-number="{name}">([^<]*)<', page).group(1)  # type: ignore[union-attr]


def test_the_last_hour_in_numbers_and_payments_by_reference(
    client: FlaskClient, make_payment: Callable, confirm: Callable
) -> None:
    paid = client.post("/payments/pix", json={"value": 10, "order_id": "pedido-9"}).get_json()["payment"]
    late = make_payment()
    assert confirm(paid).status_code == 200
    assert confirm(late, value=1).status_code == 400  # money that could not be applied
    page = client.get("/admin/").get_data(as_text=True)
    assert (number(page, "created"), number(page, "paid"), number(page, "conversion")) == ("2", "1", "50%")
    assert number(page, "median").endswith(" s")
    assert "value_mismatch" in page and "Estornar ou cobrar a diferença" in page

    for reference in ("pedido-9", paid["txid"]):
        found = client.get("/admin/", query_string={"q": reference}).get_data(as_text=True)
        assert paid["txid"] in found and late["txid"] not in found
    for odd in ("\x00", "a" * 65, "nenhum"):
        answer = client.get("/admin/", query_string={"q": odd})
        assert answer.status_code == 200 and paid["txid"] not in answer.get_data(as_text=True)


def test_with_a_token_only_an_operator_who_logged_in_gets_in(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"ADMIN_TOKEN": ADMIN_TOKEN}).test_client()
    page = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]["page_url"]
    refused = client.get("/admin/")
    assert refused.status_code == 401 and "Token de operador" in refused.get_data(as_text=True)
    # A buyer's page token is no key to the operator's view.
    client.set_cookie("pix_admin", page.rsplit("/", 1)[1], path="/admin")
    assert client.get("/admin/").status_code == 401
    wrong = client.post("/admin/entrar", data={"token": "guess"})
    assert wrong.status_code == 401 and "Token incorreto" in wrong.get_data(as_text=True)

    entered = client.post("/admin/entrar", data={"token": ADMIN_TOKEN})
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/admin/")
    cookie = entered.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert client.get("/admin/").status_code == 200


def test_production_serves_admin_only_behind_a_random_token(app_config: dict[str, Any]) -> None:
    production = app_config | PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet"}
    assert create_app(production).test_client().get("/admin/").status_code == 404
    assert create_app(production | {"ADMIN_TOKEN": ADMIN_TOKEN}).test_client().get("/admin/").status_code == 401
    with pytest.raises(Exception, match="ADMIN_TOKEN"):
        create_app(production | {"ADMIN_TOKEN": "admin"})


def test_an_operator_sends_a_dead_letter_again_from_the_page(
    app: Flask, client: FlaskClient, make_payment: Callable
) -> None:
    client.post("/webhooks/endpoints", json={"url": f"http://127.0.0.1:{free_port()}/gone", "retry_schedule": []})
    make_payment()
    assert deliver_due(app) == 1  # nobody listens and no retry is left: a dead letter
    page = client.get("/admin/")
    [delivery] = [d for d in deliveries(app) if d.status == DeliveryStatus.DEAD]
    assert f"nº {delivery.id}" in page.get_data(as_text=True)
    form_token = re.search(r'name="form_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]

    action = f"/admin/entregas/{delivery.id}/reenviar"
    assert client.post(action, data={"form_token": "forged"}).status_code == 403
    assert [d.status for d in deliveries(app)] == [DeliveryStatus.DEAD]
    sent = client.post(action, data={"form_token": form_token})
    assert sent.status_code == 302 and f"reenviado={delivery.id}" in sent.headers["Location"]
    assert [d.status for d in deliveries(app)] == [DeliveryStatus.PENDING]
    assert "será enviada de novo" in client.get(sent.headers["Location"]).get_data(as_text=True)
