"""/admin: the operator's numbers, payments by reference and money to act on, behind ADMIN_TOKEN."""

import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from itsdangerous import TimestampSigner

from app import create_app
from db_models import DeliveryStatus, Payment, Refund, db
from db_models.base import now_utc
from extensions import socketio
from jobs.deliveries import sweep
from jobs.live_relay import publish_new_events
from live_status import OPERATORS_NAMESPACE, OPERATORS_ROOM
from routes.operator_access import operator_ticket
from tests.fake_psp import FakePsp, with_fake_psp
from tests.live_server import free_port
from tests.test_api_pix_provider import PSP
from tests.test_api_pix_webhook import TOKEN
from tests.test_config import PRODUCTION
from tests.test_refunds import received
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
    assert "value_mismatch" in page and "Devolver ou cobrar a diferença" in page

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


def test_guessing_the_operator_token_is_slowed_however_it_is_sent(app_config: dict[str, Any]) -> None:
    app = create_app(app_config | {"ADMIN_TOKEN": ADMIN_TOKEN, "PIX_AUTH_FAILURE_RATE_LIMIT": "3 per minute"})
    guesser = app.test_client()
    assert [guesser.post("/admin/entrar", data={"token": f"guess{n}"}).status_code for n in range(3)] == [401] * 3
    assert guesser.post("/admin/entrar", data={"token": ADMIN_TOKEN}).status_code == 429  # before, never refused
    guesser.set_cookie("pix_admin", "guess-by-cookie", path="/admin")
    assert guesser.get("/admin/").status_code == 429
    assert guesser.get("/admin/").headers["Retry-After"]


def test_opening_the_login_page_never_counts_as_a_guess(app_config: dict[str, Any]) -> None:
    app = create_app(app_config | {"ADMIN_TOKEN": ADMIN_TOKEN, "PIX_AUTH_FAILURE_RATE_LIMIT": "2 per minute"})
    operator = app.test_client()
    assert {operator.get("/admin/").status_code for _ in range(5)} == {401}  # the login form, no token offered
    assert operator.post("/admin/entrar", data={"token": ADMIN_TOKEN}).status_code == 302
    assert operator.get("/admin/").status_code == 200


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


def ticket_of(page: str) -> str:
    return re.search(r'data-ticket="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def operators_room(app: Flask, ticket: Any) -> SocketIOTestClient:
    return socketio.test_client(app, namespace=OPERATORS_NAMESPACE, auth={"ticket": ticket})


def heard(socket: SocketIOTestClient) -> list[dict[str, Any]]:
    return [message["args"][0] for message in socket.get_received(OPERATORS_NAMESPACE)]


def test_operators_hear_every_event_live_and_buyers_only_their_status(
    app: Flask, client: FlaskClient, make_payment: Callable, confirm: Callable, expire: Callable, token_of: Callable
) -> None:
    operator = operators_room(app, ticket_of(client.get("/admin/").get_data(as_text=True)))
    assert operator.is_connected(OPERATORS_NAMESPACE)
    created = client.post("/payments/pix", json={"value": "10.00", "order_id": "pedido-42"}).get_json()["payment"]
    buyer = socketio.test_client(app, flask_test_client=client)
    assert buyer.emit("subscribe", {"token": token_of(created)}, callback=True)["ok"]
    [event] = heard(operator)
    assert event["type"] == "payment.created"
    assert event["payment"] | {"expiration_date": None} == {
        "id": created["id"],
        "txid": created["txid"],
        "order_id": "pedido-42",
        "status": "pending",
        "paid": False,
        "value": 10,
        "expiration_date": None,
        "paid_at": None,
    }

    assert confirm(created).status_code == 200
    assert [(e["type"], e["payment"]["status"]) for e in heard(operator)] == [("payment.paid", "paid")]
    other = make_payment()
    heard(operator)
    assert confirm(other, value=1).status_code == 400  # money that could not be applied: the relay tells
    with app.app_context():
        assert publish_new_events() == 1
    assert [(e["type"], e["payment"]["id"]) for e in heard(operator)] == [("payment.refused", other["id"])]
    expire(other)
    assert sweep(app) == 1  # the worker records the expiry; the relay tells
    with app.app_context():
        assert publish_new_events() == 1
    assert [(e["type"], e["payment"]["status"]) for e in heard(operator)] == [("payment.expired", "expired")]

    # The buyer heard its own payment's status and nothing of the operators' feed.
    assert [m["name"] for m in buyer.get_received()] == ["payment_status", "payment_status"]
    assert token_of(created) not in str(heard(operator))
    # An operator's connection cannot listen in on a buyer's room either.
    refused = operator.emit("subscribe", {"token": token_of(other)}, callback=True, namespace=OPERATORS_NAMESPACE)
    assert refused["error"]["code"] == "unknown_event"


def test_only_a_ticket_from_the_operators_page_opens_the_room(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(app_config | {"ADMIN_TOKEN": ADMIN_TOKEN})
    client = app.test_client()
    page_token = client.post("/payments/pix", json={"value": 10}).get_json()["payment"]["page_url"].rsplit("/", 1)[1]
    client.post("/admin/entrar", data={"token": ADMIN_TOKEN})
    ticket = ticket_of(client.get("/admin/").get_data(as_text=True))
    with app.test_request_context():
        other_key = create_app(app_config | {"ADMIN_TOKEN": ADMIN_TOKEN + "x"})
        with other_key.test_request_context():
            forged = operator_ticket()
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _: int(time.time()) - 13 * 3600)
        expired = operator_ticket()
        monkeypatch.undo()
    for wrong in (None, "", page_token, ADMIN_TOKEN, forged, expired, ticket + "x"):
        assert not operators_room(app, wrong).is_connected(OPERATORS_NAMESPACE), wrong
    assert operators_room(app, ticket).is_connected(OPERATORS_NAMESPACE)

    production = create_app(app_config | PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet"})
    with production.test_request_context():
        assert not operators_room(production, operator_ticket()).is_connected(OPERATORS_NAMESPACE)


def test_the_room_closes_on_an_operator_when_their_ticket_expires(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    with app.test_request_context():
        monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _: int(time.time()) - 12 * 3600 + 1)
        nearly_expired = operator_ticket()
        monkeypatch.undo()
    operator = operators_room(app, nearly_expired)
    assert operator.is_connected(OPERATORS_NAMESPACE)
    deadline = time.monotonic() + 5
    while operator.is_connected(OPERATORS_NAMESPACE) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not operator.is_connected(OPERATORS_NAMESPACE)
    assert list(socketio.server.manager.get_participants(OPERATORS_NAMESPACE, OPERATORS_ROOM)) == []


def test_a_payment_page_tells_its_whole_story(
    app: Flask, client: FlaskClient, make_payment: Callable, confirm: Callable
) -> None:
    client.post("/webhooks/endpoints", json={"url": f"http://127.0.0.1:{free_port()}/gone", "retry_schedule": []})
    payment = make_payment()
    assert confirm(payment, value=1).status_code == 400  # a wrong amount first, then the right one
    assert confirm(payment).status_code == 200
    deliver_due(app)
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/pagamentos/{payment["id"]}"' in dashboard

    page = client.get(f"/admin/pagamentos/{payment['id']}").get_data(as_text=True)
    assert f"Pagamento nº {payment['id']}" in page and payment["txid"] in page and "pago" in page
    outcomes = re.findall(r'<td class="mono">(\w+) · <a', page)
    assert outcomes == ["value_mismatch", "applied"]
    events = re.findall(r'<td class="mono">(payment\.\w+)</td>', page)
    assert events == ["payment.created", "payment.refused", "payment.paid"]
    assert page.count('data-delivery-status="dead"') == 3 and "1 tentativa" in page
    assert client.get("/admin/pagamentos/999999").status_code == 404


def test_an_operator_refunds_late_money_from_the_page(app_config: dict[str, Any], psp: FakePsp) -> None:
    app = with_fake_psp(create_app(app_config | PSP | {"PIX_WEBHOOK_AUTH": "token", "PIX_WEBHOOK_TOKEN": TOKEN}), psp)
    client = app.test_client()
    on_time = client.post("/payments/pix", json={"value": "20.00"}).get_json()["payment"]
    late = client.post("/payments/pix", json={"value": "20.00"}).get_json()["payment"]
    received(client, on_time["txid"], "20.00")
    with app.app_context():
        db.session.execute(
            db.update(Payment).where(Payment.id == late["id"]).values(expiration_date=now_utc() - timedelta(hours=1))
        )
        db.session.commit()
    end_to_end, outcome = received(client, late["txid"], "20.00")
    assert outcome == "payment_expired"

    page = client.get("/admin/").get_data(as_text=True)
    assert page.count(">Devolver</button>") == 1  # the late one; the applied one paid its payment
    action = re.search(r'action="(/admin/avisos/\d+/devolver)"', page).group(1)  # type: ignore[union-attr]
    form_token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert client.post(action, data={"form_token": "forged"}).status_code == 403
    assert psp.refunds == {}

    sent = client.post(action, data={"form_token": form_token})
    assert sent.status_code == 302 and "devolucao=" in sent.headers["Location"]
    [refund] = psp.refunds.values()
    assert refund["valor"] == "20.00"
    with app.app_context():
        assert [r.end_to_end_id for r in db.session.execute(db.select(Refund)).scalars()] == [end_to_end]
    after = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "em processamento no PSP" in after and ">Devolver</button>" not in after
    again = client.post(action, data={"form_token": form_token})
    assert "devolucao_recusada=cannot_refund" in again.headers["Location"]
    assert "não tem dinheiro a devolver" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert len(psp.refunds) == 1


def test_a_dead_letter_is_told_to_the_operators(app: Flask, client: FlaskClient, make_payment: Callable) -> None:
    operator = operators_room(app, ticket_of(client.get("/admin/").get_data(as_text=True)))
    client.post("/webhooks/endpoints", json={"url": f"http://127.0.0.1:{free_port()}/gone", "retry_schedule": []})
    payment = make_payment()
    heard(operator)
    deliver_due(app)
    [dead] = heard(operator)
    assert dead["type"] == "delivery.dead" and dead["payment"] == {"id": payment["id"]}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_median_time_to_pay_is_the_same_on_both_databases(request: pytest.FixtureRequest, database: str) -> None:
    app = request.getfixturevalue("app" if database == "sqlite" else "postgres_app")
    client = app.test_client()
    payments = [client.post("/payments/pix", json={"value": 10}).get_json()["payment"] for _ in range(4)]
    now = now_utc()
    with app.app_context():
        for payment, waited in zip(payments, (10, 20, 50), strict=False):  # the fourth is never paid
            paid_at = now - timedelta(seconds=60 - waited)
            db.session.execute(
                db.update(Payment)
                .where(Payment.id == payment["id"])
                .values(status="paid", created_at=now - timedelta(seconds=60), paid_at=paid_at)
            )
        db.session.commit()
    page = client.get("/admin/").get_data(as_text=True)
    assert (number(page, "created"), number(page, "paid"), number(page, "median")) == ("4", "3", "20 s")
    assert number(page, "conversion") == "75%"
