"""Refunds: money that arrived late, twice or wrong goes back through the PSP, once per refund id."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import repository.refunds as refunds_repository
from app import create_app
from db_models import OutboxEvent, Payment, Refund, db
from tests.fake_psp import FakePsp, with_fake_psp
from tests.services import fresh_postgres_database
from tests.test_api_pix_provider import PSP
from tests.test_api_pix_webhook import TOKEN, WEBHOOK, end_to_end_id
from tests.test_psp_client import json_answers

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


def psp_reports(app: Flask, pix: str, refund_id: str, value: str, status: str = "DEVOLVIDO") -> None:
    """The PSP's webhook: the Pix again, with the devolução in the given state."""
    item = {"id": refund_id, "rtrId": "D" + "9" * 31, "valor": value, "status": status}
    body = {
        "pix": [{"endToEndId": pix, "valor": "20.00", "horario": datetime.now(UTC).isoformat(), "devolucoes": [item]}]
    }
    assert app.test_client().post(WEBHOOK, query_string={"hmac": TOKEN}, json=body).status_code == 200


def kept(app: Flask, refund_id: str) -> tuple[str, int]:
    """The refund's state as kept, and how many payment.refunded events the shop is sent of it."""
    with app.app_context():
        status = db.session.execute(db.select(Refund.status).filter_by(refund_id=refund_id)).scalar_one()
        told = db.session.execute(db.select(OutboxEvent.payload).filter_by(type="payment.refunded")).scalars()
    return status, sum(payload["data"]["refund"]["refund_id"] == refund_id for payload in told)


def answering(psp: FakePsp, change: Any) -> None:
    """The PSP's refund answers go through change(request, answer) -> answer first."""
    original = psp.refund
    psp.refund = lambda request: change(request, original(request))  # type: ignore[method-assign]


def test_a_settlement_reported_while_the_put_is_answered_is_neither_undone_nor_told_twice(
    app: Flask, psp: FakePsp, late_pix: str
) -> None:
    def settled_before_its_answer_arrives(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        refund_id = request.url.path.rsplit("/", 1)[1]
        if request.method == "PUT":  # the PSP answers in progress, then settles and reports it before we read that
            thread = threading.Thread(target=psp_reports, args=(app, late_pix, refund_id, "20.00"))
            thread.start()
            thread.join()
            psp.refunds[refund_id]["status"] = "DEVOLVIDO"
        return answer

    answering(psp, settled_before_its_answer_arrives)
    assert refund(app.test_client(), end_to_end_id=late_pix, refund_id="Fast1").status_code == 201
    assert kept(app, "Fast1") == ("DEVOLVIDO", 1)  # before, EM_PROCESSAMENTO overwrote it
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    assert kept(app, "Fast1") == ("DEVOLVIDO", 1)  # before, reconciliation settled it again and told the shop twice


def test_a_refund_settled_while_reconciliation_runs_is_told_once(app_on_each_database: Flask, psp: FakePsp) -> None:
    app = app_on_each_database
    pix = late_pix_of(app)
    for refund_id in ("RecA", "RecB"):
        assert refund(app.test_client(), end_to_end_id=pix, refund_id=refund_id, value="5.00").status_code == 201

    def b_settles_while_a_is_asked_about(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/RecA"):
            psp.refunds["RecB"]["status"] = "DEVOLVIDO"
            thread = threading.Thread(target=psp_reports, args=(app, pix, "RecB", "5.00"))
            thread.start()
            thread.join()
        return answer

    answering(psp, b_settles_while_a_is_asked_about)
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    assert kept(app, "RecB") == ("DEVOLVIDO", 1)


def test_an_answer_the_checkout_cannot_read_is_no_refusal_and_frees_no_money(
    app: Flask, psp: FakePsp, late_pix: str
) -> None:
    def unknown_state(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        return httpx.Response(201, json=json.loads(answer.content) | {"status": "EM_PROCESSAMENTO_LIQUIDACAO"})

    answering(psp, unknown_state)
    first = refund(app.test_client(), end_to_end_id=late_pix, refund_id="Odd1")
    assert (first.status_code, first.get_json()["refund"]["status"]) == (202, "REQUESTED")  # before, RECUSADO
    again = refund(app.test_client(), end_to_end_id=late_pix, refund_id="Again1")
    assert (again.status_code, again.get_json()["error"]["code"]) == (422, "refund_too_large")  # before, 20.00 more
    psp_reports(app, late_pix, "Odd1", "20.00")
    assert kept(app, "Odd1") == ("DEVOLVIDO", 1)


def test_our_credentials_refused_are_no_refusal_of_the_refund(app: Flask, psp: FakePsp, late_pix: str) -> None:
    psp.credentials_refused = True
    response = refund(app.test_client(), end_to_end_id=late_pix, refund_id="Tok1")
    assert (response.status_code, response.get_json()["refund"]["status"]) == (202, "REQUESTED")
    psp.credentials_refused = False
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    assert psp.refunds["Tok1"]["status"] == "EM_PROCESSAMENTO"


def test_a_refund_id_the_psp_already_took_is_looked_up_not_marked_refused(
    app: Flask, psp: FakePsp, late_pix: str
) -> None:
    put_before: set[str] = set()

    def taken_ids_refused(request: httpx.Request, answer: httpx.Response) -> httpx.Response:
        refund_id = request.url.path.rsplit("/", 1)[1]
        if request.method != "PUT":
            return answer
        if refund_id in put_before:  # as some PSPs answer an id they already hold
            return httpx.Response(409, json={"title": "Devolução já existe"})
        put_before.add(refund_id)
        return httpx.Response(502)  # taken, and the answer lost on its way back: the client tries again

    answering(psp, taken_ids_refused)
    response = refund(app.test_client(), end_to_end_id=late_pix, refund_id="Lost1")
    # Before, RECUSADO: the 20.00 the PSP is sending back could be refunded a second time.
    assert (response.status_code, response.get_json()["refund"]["status"]) == (201, "EM_PROCESSAMENTO")


def test_a_devolucao_reported_with_another_value_does_not_settle_ours(app: Flask, late_pix: str) -> None:
    assert refund(app.test_client(), end_to_end_id=late_pix, refund_id="Val1").status_code == 201  # all 20.00
    psp_reports(app, late_pix, "Val1", "0.01")
    assert kept(app, "Val1") == ("EM_PROCESSAMENTO", 0)
    psp_reports(app, late_pix, "Val1", "20.00")
    assert kept(app, "Val1") == ("DEVOLVIDO", 1)


def test_refunds_the_psp_never_settles_hold_back_no_newer_one(app: Flask, psp: FakePsp, late_pix: str) -> None:
    client = app.test_client()
    for n in range(100):  # as many as a reconciliation run asks about
        assert refund(client, end_to_end_id=late_pix, refund_id=f"Lost{n}", value="0.01").status_code == 201
        del psp.refunds[f"Lost{n}"]  # the PSP no longer knows it: asking about it answers 404
    psp.down = True
    assert refund(client, end_to_end_id=late_pix, refund_id="Later1", value="1.00").status_code == 202
    psp.down = False
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    assert psp.refunds["Later1"]["status"] == "EM_PROCESSAMENTO"  # before, never sent


# Whatever a PSP (or something pretending to be one) answers about a devolução: "ID" stands for the refund's own id.
refund_answers = json_answers | st.fixed_dictionaries(
    {},
    optional={
        "id": st.just("ID") | json_answers,
        "valor": st.sampled_from(["20.00", "0.01", "20.0"]) | json_answers,
        "status": st.sampled_from(["EM_PROCESSAMENTO", "DEVOLVIDO", "NAO_REALIZADO"]) | json_answers,
    },
)
answer_statuses = st.sampled_from([200, 201, 400, 401, 404, 409, 429, 500])
VERDICTS = {400, 404, 409}  # the 4xx that are the PSP's word on the call itself


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(put=st.tuples(answer_statuses, refund_answers), get=st.tuples(answer_statuses, refund_answers))
def test_whatever_the_psp_answers_a_refund_no_money_is_freed_or_told_without_its_word(
    app: Flask, psp: FakePsp, put: tuple[int, object], get: tuple[int, object]
) -> None:
    pix, refund_id = late_pix_of(app), f"Any{uuid.uuid4().hex[:20]}"

    def scripted(request: httpx.Request) -> httpx.Response:
        status, body = put if request.method == "PUT" else get
        body = body | {"id": refund_id} if isinstance(body, dict) and body.get("id") == "ID" else body
        return httpx.Response(status, json=body)

    psp.refund = scripted  # type: ignore[method-assign]
    response = refund(app.test_client(), end_to_end_id=pix, refund_id=refund_id)
    assert response.status_code in (201, 202), response.get_json()  # never a 500, whatever came back
    status, told = kept(app, refund_id)
    if status == "RECUSADO":  # the money is free to refund again: only on the PSP's refusal, confirmed
        assert put[0] in VERDICTS and get[0] in VERDICTS
    if told:  # the shop hears the money went back only from a readable report of exactly our 20.00
        answer = put if put[0] < 300 else get
        assert (status, told, answer[1]["valor"], answer[1]["status"]) == ("DEVOLVIDO", 1, "20.00", "DEVOLVIDO")
    app.test_cli_runner().invoke(args=["pix", "reconcile"])
    assert kept(app, refund_id)[1] <= 1
    assert app.test_client().get("/health").status_code == 200
