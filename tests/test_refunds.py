"""Refunds: money that arrived late, twice or wrong goes back through the PSP, once per refund id."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

import repository.refunds as refunds_repository
from app import create_app
from db_models import Payment, db
from tests.fake_psp import FakePsp, with_fake_psp
from tests.services import fresh_postgres_database
from tests.test_api_pix_provider import PSP
from tests.test_api_pix_webhook import TOKEN, WEBHOOK, end_to_end_id

SHOP_KEY = "shop-key-Jk8sQz2vLp4xWn7rTy1u"
SHOP = {"Authorization": f"Bearer {SHOP_KEY}"}


SETTINGS = PSP | {"SHOP_API_KEY": SHOP_KEY, "PIX_WEBHOOK_AUTH": "token", "PIX_WEBHOOK_TOKEN": TOKEN}


@contextmanager
def refunding_app(settings: dict[str, Any], psp: FakePsp) -> Iterator[Flask]:
    app = create_app(settings | SETTINGS)
    yield with_fake_psp(app, psp)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(app_config: dict[str, Any], psp: FakePsp) -> Iterator[Flask]:
    with refunding_app(app_config, psp) as app:
        yield app


@pytest.fixture(params=["sqlite", "postgresql"])
def app_on_each_database(request: pytest.FixtureRequest, app_config: dict[str, Any], psp: FakePsp) -> Iterator[Flask]:
    """The app on SQLite, then on a fresh PostgreSQL database (skips, or fails under CI, without PostgreSQL)."""
    if request.param == "sqlite":
        with refunding_app(app_config, psp) as app:
            yield app
        return
    with (
        fresh_postgres_database() as url,
        refunding_app(app_config | {"DATABASE_URL": url, "AUTO_MIGRATE": True}, psp) as app,
    ):
        yield app


def received(client: FlaskClient, txid: str, value: str) -> tuple[str, str]:
    """The PSP's webhook reports a Pix for txid paid now; its endToEndId and what became of it."""
    item = {"endToEndId": end_to_end_id(), "txid": txid, "valor": value, "horario": datetime.now(UTC).isoformat()}
    answer = client.post(WEBHOOK, query_string={"hmac": TOKEN}, json={"pix": [item]}).get_json()
    return item["endToEndId"], answer["results"][0]["outcome"]


def refund(client: FlaskClient, **body: Any) -> Any:
    return client.post("/payments/pix/refunds", json=body, headers=SHOP)


@pytest.fixture
def late_pix(app: Flask) -> str:
    """A Pix paid after its charge expired: money to send back."""
    return late_pix_of(app)


def late_pix_of(app: Flask) -> str:
    """The endToEndId of a Pix of 20.00 paid after its charge expired."""
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": "20.00"}, headers=SHOP).get_json()["payment"]
    with app.app_context():
        db.session.execute(db.update(Payment).values(expiration_date=datetime.now(UTC) - timedelta(hours=1)))
        db.session.commit()
    pix, outcome = received(client, payment["txid"], "20.00")
    assert outcome == "payment_expired"
    return pix


def test_a_late_payment_is_refunded_in_full_and_settles(app: Flask, client: FlaskClient, psp: FakePsp, late_pix):
    response = refund(client, end_to_end_id=late_pix, description="Pagamento após o prazo")
    assert response.status_code == 201
    answer = response.get_json()["refund"]
    assert (answer["value"], answer["status"]) == (20, "EM_PROCESSAMENTO")
    assert psp.refunds[answer["refund_id"]]["valor"] == "20.00"
    # The PSP settles it and sends the Pix again with its devolucoes, as the API Pix says.
    item = {"id": answer["refund_id"], "rtrId": "D" + "9" * 31, "valor": "20.00", "status": "DEVOLVIDO"}
    pix = {"endToEndId": late_pix, "valor": "20.00", "horario": datetime.now(UTC).isoformat(), "devolucoes": [item]}
    client.post(WEBHOOK, query_string={"hmac": TOKEN}, json={"pix": [pix]})
    status = client.get(f"/payments/pix/refunds/{answer['refund_id']}", headers=SHOP).get_json()["refund"]
    assert status["status"] == "DEVOLVIDO"


def test_a_devolucao_reported_under_another_pix_changes_nothing(app: Flask, client: FlaskClient, late_pix: str) -> None:
    assert refund(client, end_to_end_id=late_pix, refund_id="Mine1", value="5.00").status_code == 201
    other = late_pix_of(app)
    item = {"id": "Mine1", "rtrId": "D" + "9" * 31, "valor": "5.00", "status": "DEVOLVIDO"}
    pix = {"endToEndId": other, "valor": "20.00", "horario": datetime.now(UTC).isoformat(), "devolucoes": [item]}
    client.post(WEBHOOK, query_string={"hmac": TOKEN}, json={"pix": [pix]})
    status = client.get("/payments/pix/refunds/Mine1", headers=SHOP).get_json()["refund"]["status"]
    assert status == "EM_PROCESSAMENTO"  # before, settled by a report about another Pix


def test_the_same_refund_id_twice_is_one_refund(client: FlaskClient, psp: FakePsp, late_pix: str) -> None:
    first = refund(client, end_to_end_id=late_pix, refund_id="Shop0001", value="5.00")
    again = refund(client, end_to_end_id=late_pix, refund_id="Shop0001", value="5.00")
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json() == again.get_json()
    assert list(psp.refunds) == ["Shop0001"]
    conflict = refund(client, end_to_end_id=late_pix, refund_id="Shop0001", value="6.00")
    assert (conflict.status_code, conflict.get_json()["error"]["code"]) == (422, "refund_id_conflict")


def test_refunds_never_exceed_the_pix(client: FlaskClient, late_pix: str) -> None:
    assert refund(client, end_to_end_id=late_pix, value="15.00").status_code == 201
    too_much = refund(client, end_to_end_id=late_pix, value="5.01")
    assert (too_much.status_code, too_much.get_json()["error"]["code"]) == (422, "refund_too_large")
    assert "5.00" in too_much.get_json()["error"]["message"]
    assert refund(client, end_to_end_id=late_pix).get_json()["refund"]["value"] == 5  # what is left


def at_once(app: Flask, *bodies: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The answers to refund requests sent at the same time, one thread each."""
    answers: list[tuple[int, dict[str, Any]]] = []

    def send(body: dict[str, Any]) -> None:
        response = refund(app.test_client(), **body)
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def slowed(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make repository.refunds.name linger after it reads, so two requests at once both read before either writes."""
    original = getattr(refunds_repository, name)

    def lingering(*args: Any) -> Any:
        found = original(*args)
        time.sleep(0.3)
        return found

    monkeypatch.setattr(refunds_repository, name, lingering)


def test_two_refunds_of_one_pix_at_once_never_send_back_more_than_it(
    app_on_each_database: Flask, psp: FakePsp, monkeypatch: pytest.MonkeyPatch
) -> None:
    pix = late_pix_of(app_on_each_database)
    slowed(monkeypatch, "refunded_cents")
    answers = at_once(app_on_each_database, {"end_to_end_id": pix}, {"end_to_end_id": pix, "value": "20.00"})
    assert sorted(status for status, _ in answers) == [201, 422]
    assert [body["error"]["code"] for status, body in answers if status == 422] == ["refund_too_large"]
    assert [refund["valor"] for refund in psp.refunds.values()] == ["20.00"]


def test_the_same_refund_id_sent_twice_at_once_is_one_refund(
    app_on_each_database: Flask, psp: FakePsp, monkeypatch: pytest.MonkeyPatch
) -> None:
    pix = late_pix_of(app_on_each_database)
    slowed(monkeypatch, "refund_by_id")
    body = {"end_to_end_id": pix, "refund_id": "ShopRetry1", "value": "5.00"}
    (first_status, first), (again_status, again) = at_once(app_on_each_database, body, body)
    assert (first_status, again_status) == (201, 201)  # a shop retrying a call that timed out: never a 500
    assert first["refund"]["refund_id"] == again["refund"]["refund_id"] == "ShopRetry1"
    assert list(psp.refunds) == ["ShopRetry1"]


def test_an_unknown_pix_cannot_be_refunded(client: FlaskClient) -> None:
    response = refund(client, end_to_end_id="E" + "0" * 31)
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "pix_not_found")


@pytest.mark.parametrize(
    "body", [{}, {"end_to_end_id": "short"}, {"end_to_end_id": "E" + "0" * 31, "refund_id": "no-dashes-allowed"}]
)
def test_bad_refund_requests_get_400(client: FlaskClient, body: dict) -> None:
    assert refund(client, **body).status_code == 400


def test_only_the_shop_refunds(client: FlaskClient, late_pix: str) -> None:
    response = client.post("/payments/pix/refunds", json={"end_to_end_id": late_pix})
    assert response.status_code == 401


def test_a_psp_outage_keeps_the_refund_to_send_later(app: Flask, client: FlaskClient, psp: FakePsp, late_pix: str):
    psp.down = True
    response = refund(client, end_to_end_id=late_pix, refund_id="Later1")
    assert (response.status_code, response.get_json()["refund"]["status"]) == (202, "REQUESTED")
    psp.down = False
    output = app.test_cli_runner().invoke(args=["pix", "reconcile"]).output
    assert "1 refunds moved on" in output
    assert psp.refunds["Later1"]["status"] == "EM_PROCESSAMENTO"


def test_a_refund_the_psp_lost_holds_back_none_of_the_others(app: Flask, psp: FakePsp, late_pix: str) -> None:
    client = app.test_client()
    assert refund(client, end_to_end_id=late_pix, refund_id="Lost1", value="5.00").status_code == 201
    psp.down = True
    assert refund(client, end_to_end_id=late_pix, refund_id="Later1", value="5.00").status_code == 202
    psp.down = False
    del psp.refunds["Lost1"]  # the PSP no longer knows it: asking about it answers 404
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    assert psp.refunds["Later1"]["status"] == "EM_PROCESSAMENTO"  # before, the 404 ended the run before it


def test_a_refund_the_psp_refuses_is_marked_so(client: FlaskClient, psp: FakePsp, late_pix: str) -> None:
    original = psp.refund
    psp.refund = lambda request: httpx.Response(400, json={"detail": "saldo insuficiente"})  # type: ignore[method-assign]
    response = refund(client, end_to_end_id=late_pix)
    assert response.get_json()["refund"]["status"] == "RECUSADO"
    assert "saldo insuficiente" in response.get_json()["refund"]["detail"]
    psp.refund = original  # type: ignore[method-assign]
    assert refund(client, end_to_end_id=late_pix).status_code == 201  # a refused one takes nothing from the Pix


def test_the_cli_refunds_and_lists(app: Flask, late_pix: str) -> None:
    runner = app.test_cli_runner()
    output = runner.invoke(args=["pix", "refund", late_pix, "--value", "2.50"]).output
    assert output.endswith("2.50 EM_PROCESSAMENTO\n")
    header, row = runner.invoke(args=["pix", "refunds"]).output.splitlines()
    assert header.split()[:3] == ["CREATED", "(UTC)", "STATUS"]
    assert row.split()[2:4] == ["EM_PROCESSAMENTO", "2.50"]


def test_refunds_need_a_psp(app_config: dict) -> None:
    client = create_app(app_config).test_client()
    response = client.post("/payments/pix/refunds", json={"end_to_end_id": "E" + "0" * 31})
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "refunds_unavailable")
    assert json.loads(response.data)["error"]["status"] == 409


def test_the_expired_page_tells_the_late_payer_where_their_money_is(
    app: Flask, client: FlaskClient, late_pix: str
) -> None:
    with app.app_context():
        page_url = db.session.execute(db.select(Payment)).scalar_one().token
    page = f"/payments/pix/{page_url}"
    html = client.get(page).get_data(as_text=True)
    assert "Recebemos um Pix de <strong>R$\xa020,00</strong>" in html
    assert "A loja vai devolver o valor pelo seu banco." in html
    refund(client, end_to_end_id=late_pix)
    assert "Devolução em andamento: R$\xa020,00." in client.get(page).get_data(as_text=True)
