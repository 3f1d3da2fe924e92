"""Socket.IO: one room per payment, joined with the page token, status sent on subscribe."""

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient

from app import create_app
from extensions import socketio
from routes.throttled_log import ThrottledLog


def statuses(socket: SocketIOTestClient) -> list[dict[str, Any]]:
    return [event["args"][0] for event in socket.get_received() if event["name"] == "payment_status"]


def test_subscribing_sends_the_current_status_at_once(socket_client, make_payment: Callable, token_of) -> None:
    payment = make_payment(1500)
    ack = socket_client.emit("subscribe", {"token": token_of(payment)}, callback=True)
    assert ack["ok"] is True
    [status] = statuses(socket_client)
    assert status["id"] == payment["id"]
    assert status["status"] == "pending"
    assert status["value"] == 1500


def test_confirmation_reaches_the_subscribed_page(socket_client, make_payment, confirm, token_of) -> None:
    payment = make_payment()
    socket_client.emit("subscribe", {"token": token_of(payment)})
    socket_client.get_received()
    confirm(payment)
    [status] = statuses(socket_client)
    assert (status["id"], status["status"], status["paid"]) == (payment["id"], "paid", True)
    assert status["paid_at"] is not None


def test_confirmation_before_subscribing_is_not_lost(socket_client, make_payment, confirm, token_of) -> None:
    payment = make_payment()
    confirm(payment)
    socket_client.emit("subscribe", {"token": token_of(payment)})
    assert [s["status"] for s in statuses(socket_client)] == ["paid"]


def test_expired_payment_is_reported_on_subscribe(socket_client, make_payment, expire, token_of) -> None:
    payment = make_payment()
    expire(payment)
    socket_client.emit("subscribe", {"token": token_of(payment)})
    assert [s["status"] for s in statuses(socket_client)] == ["expired"]


def test_event_for_one_payment_never_reaches_another_page(
    app: Flask, client: FlaskClient, make_payment: Callable, confirm: Callable, token_of: Callable
) -> None:
    watched, other = make_payment(), make_payment()
    page_a = socketio.test_client(app, flask_test_client=client)
    page_b = socketio.test_client(app, flask_test_client=client)
    bystander = socketio.test_client(app, flask_test_client=client)
    page_a.emit("subscribe", {"token": token_of(watched)})
    page_b.emit("subscribe", {"token": token_of(other)})
    for page in (page_a, page_b, bystander):
        page.get_received()

    confirm(watched)

    assert [s["id"] for s in statuses(page_a)] == [watched["id"]]
    assert statuses(page_b) == []
    assert statuses(bystander) == []


def test_unknown_or_malformed_tokens_join_nothing(socket_client, make_payment, confirm) -> None:
    payment = make_payment()
    for data in ({"token": "guess"}, {"token": str(payment["id"])}, {"token": 1}, "token", None, {}):
        ack = socket_client.emit("subscribe", data, callback=True)
        assert ack["ok"] is False
    confirm(payment)
    assert statuses(socket_client) == []


def test_status_of_an_unknown_token_is_404(client: FlaskClient) -> None:
    response = client.get(f"/payments/pix/{'a' * 32}/status")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "payment_not_found"


def test_status_endpoint_serves_polling_pages(client: FlaskClient, make_payment, confirm, token_of) -> None:
    payment = make_payment()
    url = f"/payments/pix/{token_of(payment)}/status"
    assert client.get(url).get_json()["payment"]["status"] == "pending"
    confirm(payment)
    response = client.get(url)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json()["payment"]["status"] == "paid"
    assert "bank_payment_id" not in response.get_json()["payment"]


@pytest.mark.parametrize(
    "args",
    [
        (),
        ({"token": "a" * 32}, "a second argument"),
        ({"token": "\ud800" + "a" * 31},),
        ({"token": "\x00" * 32},),
        ({"token": ["a" * 32]},),
        ({"token": {"token": "a" * 32}},),
        ("a" * 32,),
    ],
)
def test_malformed_subscriptions_get_an_error_ack_and_no_traceback(
    socket_client: SocketIOTestClient, caplog: pytest.LogCaptureFixture, args: tuple
) -> None:
    ack = socket_client.emit("subscribe", *args, callback=True)
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_token"
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]


def test_subscribes_that_failed_to_read_take_none_of_the_connections_places(
    monkeypatch: pytest.MonkeyPatch, socket_client: SocketIOTestClient, make_payment: Callable, token_of: Callable
) -> None:
    token = token_of(make_payment())

    def database_down(_token: str) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr("routes.realtime.get_payment_by_token", database_down)
        for number in range(10):  # SOCKETIO_MAX_SUBSCRIPTIONS of them, each for another payment
            socket_client.emit("subscribe", {"token": f"{number:032d}"}, callback=True)
    assert socket_client.emit("subscribe", {"token": token}, callback=True)["ok"]


def test_unknown_events_get_an_error_ack(socket_client: SocketIOTestClient) -> None:
    ack = socket_client.emit("unsubscribe_everyone", {"token": "x"}, callback=True)
    assert ack == {"ok": False, "error": {"code": "unknown_event", "message": "this server only understands subscribe"}}


def test_a_failing_handler_acks_an_error_and_logs_few_short_lines(
    monkeypatch: pytest.MonkeyPatch, socket_client: SocketIOTestClient, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(_token: str) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("routes.realtime.get_payment_by_token", explode)
    monkeypatch.setattr("routes.realtime.failures", ThrottledLog(logging.getLogger("routes.realtime"), lines=3))
    acks = [socket_client.emit("subscribe", {"token": "a" * 32}, callback=True) for _ in range(20)]
    assert {ack["error"]["code"] for ack in acks} == {"internal_error"}
    lines = [record for record in caplog.records if record.name == "routes.realtime"]
    assert len(lines) == 3
    assert all(record.exc_info is None and "\n" not in record.getMessage() for record in lines)
    assert "secret internal detail" not in caplog.text


def test_a_connection_follows_at_most_the_configured_number_of_payments(
    app_config: dict[str, Any], token_of: Callable
) -> None:
    app = create_app(app_config | {"SOCKETIO_MAX_SUBSCRIPTIONS": "2"})
    client = app.test_client()
    tokens = [token_of(client.post("/payments/pix", json={"value": 1}).get_json()["payment"]) for _ in range(3)]
    page = socketio.test_client(app, flask_test_client=client)
    acks = [page.emit("subscribe", {"token": token}, callback=True) for token in tokens]
    assert [ack["ok"] for ack in acks] == [True, True, False]
    assert acks[2]["error"]["code"] == "too_many_subscriptions"
    assert page.emit("subscribe", {"token": tokens[0]}, callback=True)["ok"] is True  # a re-subscribe is free
