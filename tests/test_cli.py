"""`flask --app app pix confirm` sent over real HTTP to a running server, and the lists that say what they hold."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from tests.live_server import free_port


@contextmanager
def serving(app: Flask, port: int = 0) -> Iterator[str]:
    """app served over HTTP on 127.0.0.1:port (any free port by default), at the URL yielded."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    with serving(app) as url:
        yield url


def test_confirm_command_pays_the_payment(app: Flask, live_url: str, make_payment: Callable, stored_payment) -> None:
    payment = make_payment("99.90")
    result = app.test_cli_runner().invoke(args=["pix", "confirm", payment["bank_payment_id"], "--url", live_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ")
    assert stored_payment(payment).paid


def test_confirm_command_finds_the_server_where_host_and_port_put_it(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.delenv("PIX_CHECKOUT_URL", raising=False)
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(port))  # a second server, beside one on the default 5000
    app = create_app(app_config)
    payment = app.test_client().post("/payments/pix", json={"value": 10}).get_json()["payment"]
    with serving(app, port):
        result = app.test_cli_runner().invoke(args=["pix", "confirm", payment["bank_payment_id"]])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ")


def test_confirm_command_reports_the_servers_refusal(app: Flask, live_url: str, make_payment: Callable) -> None:
    payment = make_payment("99.90")
    args = ["pix", "confirm", payment["bank_payment_id"], "--value", "1.00", "--url", live_url]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1
    assert "value_mismatch" in result.output


def test_confirm_command_needs_a_value_for_unknown_payments(app: Flask, live_url: str) -> None:
    result = app.test_cli_runner().invoke(args=["pix", "confirm", "not-here", "--url", live_url])
    assert result.exit_code != 0
    assert "--value" in result.output


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        (["refused"], "No bank notices need action: every verified confirmation was applied."),
        (["refunds"], "No refunds yet: send one with `pix refund END_TO_END_ID`."),
        (["webhooks", "list"], "No webhook endpoints yet: add one with `pix webhooks create URL`."),
        (["webhooks", "dead-letters"], "No dead letters: every event was delivered or is still being tried."),
    ],
)
def test_an_empty_list_says_so_plainly(app: Flask, command: list[str], answer: str) -> None:
    result = app.test_cli_runner().invoke(args=["pix", *command])
    assert (result.exit_code, result.output) == (0, answer + "\n")
