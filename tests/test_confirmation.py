"""POST /payments/pix/confirmation: the bank's signed, idempotent, atomic webhook."""

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from repository.payments import refused_confirmations
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
    start = threading.Barrier(12)
    results: list[tuple[int, str]] = []

    def confirm_from_a_thread() -> None:
        client = app.test_client()
        start.wait()
        response = client.post(CONFIRMATION_URL, data=raw, headers=signed_headers(raw))
        results.append((response.status_code, response.get_json()["message"]))

    threads = [threading.Thread(target=confirm_from_a_thread) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in results] == [200] * 12
    assert sum(message == "The payment has been confirmed" for _, message in results) == 1
    assert len(paid_events(socket_client)) == 1


def refused_rows(app: Flask) -> list[tuple[str, str, int]]:
    with app.app_context():
        return [(r.reason, r.bank_payment_id, r.value_cents) for r in refused_confirmations()]


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
    assert sorted(refused_rows(app)) == [
        ("payment_expired", late["bank_payment_id"], 1000),
        ("value_mismatch", mispriced["bank_payment_id"], 1900),
    ]
    assert not stored_payment(late).paid


def test_unsigned_or_applied_confirmations_are_not_kept(app: Flask, make_payment: Callable, confirm, client) -> None:
    payment = make_payment()
    client.post(CONFIRMATION_URL, data=body_for(payment), content_type="application/json")
    confirm(payment)
    confirm(payment)
    assert refused_rows(app) == []


def test_cli_lists_refused_confirmations(app: Flask, make_payment: Callable, confirm: Callable) -> None:
    payment = make_payment(20)
    confirm(payment, value=19)
    output = app.test_cli_runner().invoke(args=["pix", "refused"]).output
    assert "value_mismatch" in output
    assert "19.00" in output
    assert payment["bank_payment_id"] in output
