"""`flask --app app pix confirm`: a signed confirmation sent over real HTTP to a running server."""

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_confirm_command_pays_the_payment(app: Flask, live_url: str, make_payment: Callable, stored_payment) -> None:
    payment = make_payment("99.90")
    result = app.test_cli_runner().invoke(args=["pix", "confirm", payment["bank_payment_id"], "--url", live_url])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("200 ")
    assert stored_payment(payment).paid


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
