"""The API Pix webhook: {"pix": [...]} batches from the receiving PSP, matched by txid, each kept once."""

import json
import secrets
import string
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from app import create_app
from config import ConfigError
from config.api_pix import DEVELOPMENT_PSP_TOKEN
from db_models import BankNotification, Payment, db
from tests.concurrency import run_together
from tests.test_config import PRODUCTION

TOKEN = "psp-token-Qm9vZ2llLVdvb2dpZS1CdWdsZQ"
WEBHOOK = "/webhooks/api-pix/pix"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config | {"PIX_WEBHOOK_AUTH": "token", "PIX_WEBHOOK_TOKEN": TOKEN}


def end_to_end_id() -> str:
    """A new endToEndId, new in every hypothesis example too (which replays random's sequence)."""
    return "E12345678" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(23))


def pix(payment: dict[str, Any], value: str | None = None, at: datetime | None = None, **fields: Any) -> dict:
    """A received Pix as the PSP describes it, for payment's txid."""
    moment = (at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item = {"endToEndId": end_to_end_id(), "txid": payment["txid"], "valor": value or f"{payment['value']:.2f}"}
    return item | {"horario": moment} | fields


@pytest.fixture
def send(client: FlaskClient) -> Callable[..., Any]:
    """POST a batch to the webhook the way the PSP calls it: <registered URL>/pix with the URL's token."""

    def post(*items: dict, token: str = TOKEN, path: str = WEBHOOK, **extra: Any) -> Any:
        return client.post(path, query_string={"hmac": token}, json={"pix": list(items)}, **extra)

    return post


def stored(app: Flask, payment: dict[str, Any]) -> Payment:
    with app.app_context():
        return db.session.get(Payment, payment["id"])


def notices(app: Flask) -> list[tuple[str, str | None, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(BankNotification).order_by(BankNotification.id)).scalars()
        return [(row.source, row.payment_key, row.outcome) for row in rows]


def test_a_paid_charge_is_applied_and_reaches_its_page(
    app: Flask, send: Callable, make_payment: Callable, socket_client: SocketIOTestClient, token_of: Callable
) -> None:
    payment = make_payment("25.90")
    socket_client.emit("subscribe", {"token": token_of(payment)})
    paid_at = datetime.now(UTC) - timedelta(seconds=3)
    response = send(pix(payment, at=paid_at))
    assert response.status_code == 200
    assert [result["outcome"] for result in response.get_json()["results"]] == ["applied"]
    row = stored(app, payment)
    assert row.paid
    assert abs(row.paid_at - paid_at) < timedelta(milliseconds=1)  # paid when the money moved
    statuses = [e["args"][0]["status"] for e in socket_client.get_received() if e["name"] == "payment_status"]
    assert statuses == ["pending", "paid"]


def test_one_batch_keeps_every_item_and_a_bad_one_blocks_nothing(
    app: Flask, send: Callable, make_payment: Callable
) -> None:
    good, mispriced, other = make_payment(10), make_payment(20), make_payment(30)
    unknown = {"txid": "N0SuchChargeAtAll0000000000"}
    items = [
        pix(good),
        {"endToEndId": end_to_end_id(), "valor": "10.00"},  # no horario: unreadable
        pix(mispriced, value="19.99"),
        pix(unknown, value="5.00"),
        pix(other),
    ]
    response = send(*items)
    assert response.status_code == 200
    outcomes = [result["outcome"] for result in response.get_json()["results"]]
    assert outcomes == ["applied", "invalid", "value_mismatch", "payment_not_found", "applied"]
    assert (stored(app, good).paid, stored(app, mispriced).paid, stored(app, other).paid) == (True, False, True)
    assert len(notices(app)) == 5


@pytest.mark.parametrize("horario", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-03:00", "1999-12-31T23:59:59Z"])
def test_a_pix_dated_outside_this_century_is_kept_unread_and_blocks_nothing(
    app: Flask, send: Callable, make_payment: Callable, horario: str
) -> None:
    odd, good = make_payment(10), make_payment(11)
    batch = [pix(odd, horario=horario), pix(good)]
    first, retried = send(*batch), send(*batch)  # before, both failed with a 500, and the PSP would retry for ever
    assert (first.status_code, retried.status_code) == (200, 200)
    assert [result["outcome"] for result in first.get_json()["results"]] == ["invalid", "applied"]
    assert (stored(app, odd).paid, stored(app, good).paid) == (False, True)


def test_an_amount_in_other_digits_than_ascii_is_unread(app: Flask, send: Callable, make_payment: Callable) -> None:
    payment = make_payment(10)
    response = send(pix(payment, value="\u0661\u0660.\u0660\u0660"))  # 10.00 in Arabic-Indic digits
    assert [result["outcome"] for result in response.get_json()["results"]] == ["invalid"]
    assert not stored(app, payment).paid


def test_a_retried_batch_changes_nothing_and_sends_no_second_event(
    app: Flask, send: Callable, make_payment: Callable, socket_client: SocketIOTestClient, token_of: Callable
) -> None:
    payment = make_payment()
    socket_client.emit("subscribe", {"token": token_of(payment)})
    item = pix(payment)
    assert send(item).get_json()["results"][0]["outcome"] == "applied"
    assert send(item).get_json()["results"][0]["outcome"] == "applied"  # answered as the first time
    events = [e["args"][0]["status"] for e in socket_client.get_received() if e["name"] == "payment_status"]
    assert events == ["pending", "paid"]
    assert len(notices(app)) == 1


def test_a_second_pix_for_a_paid_charge_is_kept_for_refund(app: Flask, send: Callable, make_payment: Callable):
    payment = make_payment()
    send(pix(payment))
    assert send(pix(payment)).get_json()["results"][0]["outcome"] == "already_paid"


def test_paid_before_the_deadline_is_paid_however_late_the_notice(
    app: Flask, send: Callable, make_payment: Callable
) -> None:
    on_time, late = make_payment(10), make_payment(20)
    deadline = datetime.now(UTC)
    with app.app_context():
        db.session.execute(db.update(Payment).values(expiration_date=deadline - timedelta(hours=1)))
        db.session.commit()
    # The buyers paid at 29:59 and 30:01 of their half hour; both notices arrive an hour later.
    results = send(
        pix(on_time, at=deadline - timedelta(hours=1, seconds=1)),
        pix(late, at=deadline - timedelta(minutes=59)),
    ).get_json()["results"]
    assert [result["outcome"] for result in results] == ["applied", "payment_expired"]
    assert stored(app, on_time).paid and not stored(app, late).paid


def test_a_psp_clock_ahead_of_ours_is_not_believed(app: Flask, send: Callable, make_payment: Callable) -> None:
    payment = make_payment()
    send(pix(payment, at=datetime.now(UTC) + timedelta(days=1)))
    assert stored(app, payment).paid_at < datetime.now(UTC) + timedelta(seconds=5)


def test_a_pix_without_txid_is_kept_as_unmatched_money(app: Flask, send: Callable) -> None:
    item = {"endToEndId": end_to_end_id(), "valor": "42.00", "horario": "2026-12-01T10:00:00Z"}
    assert send(item).get_json()["results"][0]["outcome"] == "payment_not_found"
    assert notices(app) == [("api_pix", None, "payment_not_found")]


@pytest.mark.parametrize("token", ["", "wrong", TOKEN + "x", TOKEN.upper()])
def test_without_the_token_nothing_changes(app: Flask, send: Callable, make_payment: Callable, token: str) -> None:
    payment = make_payment()
    response = send(pix(payment), token=token)
    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "psp_not_authenticated")
    assert not stored(app, payment).paid
    assert notices(app) == []


def test_the_registered_url_may_end_in_ignorar(app: Flask, client: FlaskClient, make_payment: Callable) -> None:
    payment = make_payment()
    # Registered as .../api-pix?hmac=<token>&ignorar= : the PSP's "/pix" lands in the ignored parameter.
    response = client.post(f"/webhooks/api-pix?hmac={TOKEN}&ignorar=/pix", json={"pix": [pix(payment)]})
    assert response.status_code == 200
    assert stored(app, payment).paid


@pytest.mark.parametrize("body", [{"pix": "nope"}, {"pagamentos": []}, [1, 2]])
def test_a_body_that_is_no_pix_list_gets_400_and_is_kept(app: Flask, client: FlaskClient, body: Any) -> None:
    response = client.post(WEBHOOK, query_string={"hmac": TOKEN}, json=body)
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_notice")
    assert [outcome for _, _, outcome in notices(app)] == ["invalid"]


def test_concurrent_deliveries_of_one_pix_apply_it_once(app: Flask, make_payment: Callable) -> None:
    payment = make_payment()
    body = json.dumps({"pix": [pix(payment)]})

    def deliver() -> str:
        response = app.test_client().post(
            WEBHOOK, query_string={"hmac": TOKEN}, data=body, content_type="application/json"
        )
        return response.get_json()["results"][0]["outcome"]

    assert run_together(12, deliver) == ["applied"] * 12
    assert len(notices(app)) == 1


def test_the_source_allowlist_refuses_other_addresses(app_config: dict, make_payment: Callable) -> None:
    app = create_app(app_config | {"PIX_WEBHOOK_ALLOWED_IPS": "34.193.116.226/32"})
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 1}).get_json()["payment"]
    assert client.post(WEBHOOK, query_string={"hmac": TOKEN}, json={"pix": [pix(payment)]}).status_code == 401
    allowed = {"REMOTE_ADDR": "34.193.116.226"}
    response = client.post(WEBHOOK, query_string={"hmac": TOKEN}, json={"pix": [pix(payment)]}, environ_base=allowed)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("peer", "verified", "status"),
    [
        ("127.0.0.1", "SUCCESS", 200),
        ("127.0.0.1", "FAILED:unable to verify", 401),
        ("127.0.0.1", None, 401),
        ("10.1.2.3", "SUCCESS", 401),
    ],
)
def test_mtls_is_believed_only_from_the_proxy(app_config: dict, peer: str, verified: str | None, status: int) -> None:
    app = create_app(app_config | {"PIX_WEBHOOK_AUTH": "mtls"})
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 1}).get_json()["payment"]
    headers = {"X-SSL-Client-Verify": verified} if verified else {}
    response = client.post(WEBHOOK, json={"pix": [pix(payment)]}, headers=headers, environ_base={"REMOTE_ADDR": peer})
    assert response.status_code == status


def test_the_webhook_is_off_unless_configured(app_config: dict) -> None:
    client = create_app(app_config | {"PIX_WEBHOOK_AUTH": "off"}).test_client()
    assert client.post(WEBHOOK, json={"pix": []}).status_code == 404


def test_unauthenticated_junk_never_throttles_the_psp(app_config: dict, make_payment: Callable) -> None:
    app = create_app(app_config | {"PIX_CONFIRM_RATE_LIMIT": "2 per minute"})
    client = app.test_client()
    payment = client.post("/payments/pix", json={"value": 1}).get_json()["payment"]
    junk = [client.post(WEBHOOK, json={"pix": []}).status_code for _ in range(3)]
    assert junk == [401, 401, 429]
    assert client.post(WEBHOOK, query_string={"hmac": TOKEN}, json={"pix": [pix(payment)]}).status_code == 200


def test_development_takes_the_documented_token_and_production_mounts_nothing(app_config: dict) -> None:
    development = create_app({key: value for key, value in app_config.items() if not key.startswith("PIX_WEBHOOK")})
    assert (development.config["PIX_WEBHOOK_AUTH"], development.config["PIX_WEBHOOK_TOKEN"]) == (
        "token",
        DEVELOPMENT_PSP_TOKEN,
    )
    production = create_app(
        PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet", "DATABASE_URL": app_config["DATABASE_URL"]}
    )
    assert production.config["PIX_WEBHOOK_AUTH"] == "off"
    assert production.test_client().post(WEBHOOK, json={"pix": []}).status_code == 404


def test_production_refuses_the_development_token(app_config: dict) -> None:
    settings = PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet", "PIX_WEBHOOK_AUTH": "token"}
    with pytest.raises(ConfigError, match="PIX_WEBHOOK_TOKEN"):
        create_app(app_config | settings | {"PIX_WEBHOOK_TOKEN": DEVELOPMENT_PSP_TOKEN})
