"""POST /payments/pix/confirmation: the bank's signed, idempotent, atomic webhook."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from db_models import BankNotification, db
from payloads import payment_json
from repository.bank_notices import BankNotice, apply_notice, notices_needing_action
from repository.payments import get_payment_by_token
from tests.concurrency import run_together
from tests.conftest import CONFIRMATION_URL

OTHER_SECRET = "whsec_c29tZWJvZHktZWxzZXMtd2ViaG9vay1zZWNyZXQ="


def body_for(payment: dict[str, Any], value: Any = None) -> bytes:
    return json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": value or payment["value"]}).encode()


def paid_events(socket: SocketIOTestClient) -> list[dict[str, Any]]:
    events = [e["args"][0] for e in socket.get_received() if e["name"] == "payment_status"]
    return [e for e in events if e["status"] == "paid"]


def test_signed_confirmation_marks_the_payment_paid(make_payment: Callable, confirm: Callable, stored_payment) -> None:
    payment = make_payment(1500)
    response = confirm(payment)
    assert response.status_code == 200
    assert response.get_json()["message"] == "The payment has been confirmed"
    assert response.get_json()["payment"]["status"] == "paid"
    stored = stored_payment(payment)
    assert stored.paid
    assert stored.paid_at.tzinfo is not None


def test_value_may_be_sent_as_a_decimal_string(make_payment: Callable, confirm: Callable) -> None:
    payment = make_payment("15.50")
    assert confirm(payment, value="15.50").status_code == 200


def unsigned(raw: bytes, sign: Callable) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def wrong_secret(raw: bytes, sign: Callable) -> dict[str, str]:
    return sign(raw, secret=OTHER_SECRET)


def stale(raw: bytes, sign: Callable) -> dict[str, str]:
    return sign(raw, timestamp=datetime.now(UTC) - timedelta(minutes=10))


def from_the_future(raw: bytes, sign: Callable) -> dict[str, str]:
    return sign(raw, timestamp=datetime.now(UTC) + timedelta(minutes=10))


def garbled_signature(raw: bytes, sign: Callable) -> dict[str, str]:
    return sign(raw) | {"webhook-signature": "v1"}


def non_numeric_timestamp(raw: bytes, sign: Callable) -> dict[str, str]:
    return sign(raw) | {"webhook-timestamp": "yesterday"}


def other_message_id(raw: bytes, sign: Callable) -> dict[str, str]:
    return sign(raw) | {"webhook-id": "msg_replayed_under_another_id"}


@pytest.mark.parametrize(
    "make_headers",
    [unsigned, wrong_secret, stale, from_the_future, garbled_signature, non_numeric_timestamp, other_message_id],
)
def test_unverified_confirmation_gets_401_and_changes_nothing(
    client: FlaskClient, make_payment: Callable, signed_headers: Callable, stored_payment, make_headers: Callable
) -> None:
    payment = make_payment()
    raw = body_for(payment)
    response = client.post(CONFIRMATION_URL, data=raw, headers=make_headers(raw, signed_headers))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert not stored_payment(payment).paid


def test_tampered_body_gets_401(client: FlaskClient, make_payment: Callable, signed_headers, stored_payment) -> None:
    payment = make_payment(1500)
    headers = signed_headers(body_for(payment, 1))
    response = client.post(CONFIRMATION_URL, data=body_for(payment, 1500), headers=headers)
    assert response.status_code == 401
    assert not stored_payment(payment).paid


def test_signature_is_checked_before_the_body_is_read(client: FlaskClient) -> None:
    response = client.post(CONFIRMATION_URL, data=b"\xff not json", content_type="application/json")
    assert response.status_code == 401


def test_wrong_value_gets_400_and_changes_nothing(make_payment: Callable, confirm: Callable, stored_payment) -> None:
    payment = make_payment(1500)
    response = confirm(payment, value=1499.99)
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "status": 400,
        "code": "value_mismatch",
        "message": "value does not match the payment's value",
        "field": "value",
    }
    assert not stored_payment(payment).paid


def test_unknown_payment_gets_404(confirm: Callable) -> None:
    response = confirm(body={"bank_payment_id": "00000000-0000-4000-8000-000000000000", "value": 10})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "payment_not_found"


def test_expired_payment_gets_410_and_stays_unpaid(make_payment: Callable, confirm: Callable, expire, stored_payment):
    payment = make_payment()
    expire(payment)
    response = confirm(payment)
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "payment_expired"
    assert not stored_payment(payment).paid


@pytest.mark.parametrize(
    "body",
    [
        {"value": 10},
        {"bank_payment_id": None, "value": 10},
        {"bank_payment_id": 123, "value": 10},
        {"bank_payment_id": "x" * 65, "value": 10},
        {"bank_payment_id": "abc", "value": "ten"},
        {"bank_payment_id": "abc"},
        [1, 2],
        None,
    ],
)
def test_signed_but_malformed_body_gets_400(confirm: Callable, body: Any) -> None:
    raw = json.dumps(body).encode()
    response = confirm(body=raw)
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == 400


def test_second_confirmation_is_200_without_a_second_event(
    make_payment: Callable, confirm: Callable, socket_client: SocketIOTestClient, token_of: Callable
) -> None:
    payment = make_payment()
    socket_client.emit("subscribe", {"token": token_of(payment)})
    assert confirm(payment).status_code == 200
    again = confirm(payment)
    assert again.status_code == 200
    assert again.get_json()["message"] == "The payment was already confirmed"
    assert len(paid_events(socket_client)) == 1


def test_concurrent_confirmations_give_one_transition_and_one_event(
    app: Flask, make_payment: Callable, signed_headers: Callable, socket_client: SocketIOTestClient, token_of
) -> None:
    payment = make_payment()
    socket_client.emit("subscribe", {"token": token_of(payment)})
    raw = body_for(payment)

    def confirm_from_a_thread() -> tuple[int, str]:
        response = app.test_client().post(CONFIRMATION_URL, data=raw, headers=signed_headers(raw))
        return response.status_code, response.get_json()["message"]

    results = run_together(12, confirm_from_a_thread)
    assert [status for status, _ in results] == [200] * 12
    assert sum(message == "The payment has been confirmed" for _, message in results) == 1
    assert len(paid_events(socket_client)) == 1


def test_concurrent_retries_of_one_refused_message_are_kept_once(
    app: Flask, make_payment: Callable, signed_headers: Callable
) -> None:
    payment = make_payment(20)
    raw = body_for(payment, 19)
    headers = signed_headers(raw)
    statuses = run_together(16, lambda: app.test_client().post(CONFIRMATION_URL, data=raw, headers=headers).status_code)
    assert statuses == [400] * 16
    assert refused_rows(app) == [("value_mismatch", payment["bank_payment_id"], 1900)]


def refused_rows(app: Flask) -> list[tuple[str, str | None, int | None]]:
    with app.app_context():
        return [(n.outcome, n.payment_key, n.value_cents) for n in notices_needing_action()]


def test_refused_confirmations_are_kept_once_for_reconciliation(
    app: Flask, client: FlaskClient, make_payment: Callable, signed_headers: Callable, expire, stored_payment
) -> None:
    late, mispriced = make_payment(10), make_payment(20)
    expire(late)
    for payment, value in ((late, 10), (mispriced, 19)):
        raw = body_for(payment, value)
        headers = signed_headers(raw)
        first = client.post(CONFIRMATION_URL, data=raw, headers=headers)
        retry = client.post(CONFIRMATION_URL, data=raw, headers=headers)
        assert first.status_code == retry.status_code
        assert first.get_json() == retry.get_json()
    assert sorted(refused_rows(app)) == [
        ("payment_expired", late["bank_payment_id"], 1000),
        ("value_mismatch", mispriced["bank_payment_id"], 1900),
    ]
    assert not stored_payment(late).paid


def test_unsigned_confirmations_are_not_kept_and_applied_ones_need_no_action(
    app: Flask, make_payment: Callable, confirm, client
) -> None:
    payment = make_payment()
    client.post(CONFIRMATION_URL, data=body_for(payment), content_type="application/json")
    confirm(payment)
    with app.app_context():
        [notice] = db.session.execute(db.select(BankNotification)).scalars()
    assert (notice.outcome, notice.payment_id, notice.value_cents) == ("applied", payment["id"], 150000)
    assert refused_rows(app) == []


def test_a_second_transfer_for_a_paid_payment_is_kept_for_refund(
    app: Flask, make_payment: Callable, confirm: Callable, socket_client: SocketIOTestClient, token_of
) -> None:
    payment = make_payment(30)
    socket_client.emit("subscribe", {"token": token_of(payment)})
    assert confirm(payment).status_code == 200
    second = confirm(payment)  # a new webhook-id: the bank says money moved again
    assert second.status_code == 200
    assert second.get_json()["message"] == "The payment was already confirmed"
    assert refused_rows(app) == [("already_paid", payment["bank_payment_id"], 3000)]
    assert len(paid_events(socket_client)) == 1


def test_a_retried_message_is_answered_as_the_first_time_without_a_new_row(
    app: Flask, client: FlaskClient, make_payment: Callable, signed_headers: Callable
) -> None:
    payment = make_payment(30)
    raw = body_for(payment)
    headers = signed_headers(raw)
    first = client.post(CONFIRMATION_URL, data=raw, headers=headers)
    retry = client.post(CONFIRMATION_URL, data=raw, headers=headers)
    assert first.get_json()["message"] == "The payment has been confirmed"
    assert retry.status_code == 200
    assert retry.get_json()["message"] == "The payment was already confirmed"
    with app.app_context():
        assert db.session.execute(db.select(db.func.count(BankNotification.id))).scalar() == 1


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"bank_payment_id": "abc", "value": 100000.01}', "application/json"),
        (b'{"bank_payment_id": "abc", "value": 10.001}', "application/json"),
        (b'{"bank_payment_id": "' + b"x" * 65 + b'", "value": 10}', "application/json"),
        (b'{"bank_payment_id": "\\ud800abc", "value": 10}', "application/json"),
        (b'{"bank_payment_id": "\\u0000abc", "value": 10}', "application/json"),
        (b"[1, 2", "application/json"),
        (b'"just a string"', "application/json"),
        (b'{"bank_payment_id": "abc", "value": 10}', "text/plain"),
    ],
)
def test_verified_but_unreadable_confirmations_are_kept_once_with_their_bytes(
    app: Flask, client: FlaskClient, signed_headers: Callable, raw: bytes, content_type: str
) -> None:
    headers = signed_headers(raw) | {"Content-Type": content_type}
    answers = [client.post(CONFIRMATION_URL, data=raw, headers=headers) for _ in range(2)]
    assert {answer.status_code for answer in answers} <= {400, 415}
    with app.app_context():
        [notice] = notices_needing_action()
    assert (notice.outcome, notice.raw) == ("invalid", raw)
    assert notice.detail


def test_cli_lists_refused_confirmations(app: Flask, make_payment: Callable, confirm: Callable) -> None:
    payment = make_payment(20)
    confirm(payment, value=19)
    output = app.test_cli_runner().invoke(args=["pix", "refused"]).output
    header, row = output.splitlines()
    assert header.split() == [
        "RECEIVED",
        "(UTC)",
        "OUTCOME",
        "VALUE",
        "(R$)",
        "PAYMENT",
        "BANK",
        "PAYMENT",
        "ID",
        "/",
        "DETAIL",
    ]
    assert row.split()[2:] == ["value_mismatch", "19.00", str(payment["id"]), payment["bank_payment_id"]]


def test_cli_says_plainly_when_no_notice_needs_action(app: Flask, make_payment: Callable, confirm: Callable) -> None:
    confirm(make_payment())
    output = app.test_cli_runner().invoke(args=["pix", "refused"]).output
    assert output.strip() == "No bank notices need action: every verified confirmation was applied."


def test_the_payments_read_and_paid_without_the_orm_keep_every_field_the_shop_gave(
    app: Flask, client: FlaskClient, token_of: Callable
) -> None:
    # Page reads and confirmations build their Payment from a Core row: each column must reach its attribute
    # (the `metadata` column is `shop_metadata`, and Payment(metadata=...) would silently hide it).
    shop = {"order_id": "pedido-7", "description": "Camiseta", "metadata": {"cor": "azul"}}
    created = client.post("/payments/pix", json={"value": "19.90", **shop}).get_json()["payment"]
    with app.test_request_context():
        assert payment_json(get_payment_by_token(token_of(created))) == created
        notice = BankNotice("test", "msg-1", Decimal("19.90"), b"{}", bank_payment_id=created["bank_payment_id"])
        paid = payment_json(apply_notice(notice).payment)
    assert {key: paid[key] for key in shop} == shop
    assert paid["status"] == "paid" and paid["id"] == created["id"]
