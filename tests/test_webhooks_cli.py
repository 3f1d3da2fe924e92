"""`flask --app app pix webhooks ...`: endpoints and dead letters from the command line, saying what they did."""

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskCliRunner

from db_models import DeliveryStatus
from tests.receiver import Receiver, Reply
from tests.webhook_worker import deliver_due, deliveries


def run(app: Flask, *args: str, input: str | None = None) -> str:
    result: FlaskCliRunner = app.test_cli_runner().invoke(args=["pix", "webhooks", *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_create_list_disable_enable_rotate_and_delete(app: Flask) -> None:
    assert "No webhook endpoints yet" in run(app, "list")
    created = run(app, "create", "https://loja.example/webhooks", "--events", "payment.paid,payment.expired")
    assert created.startswith("endpoint 1: https://loja.example/webhooks (payment.paid, payment.expired)")
    assert "signing secret: whsec_" in created

    listed = run(app, "list").splitlines()
    assert listed[0].split() == ["ID", "STATE", "PENDING", "HELD", "DEAD", "SUCCESS", "URL", "/", "EVENTS"]
    assert listed[1].split()[:3] == ["1", "enabled", "0"]
    assert "disabled: its events are held" in run(app, "disable", "1")
    assert run(app, "list").splitlines()[1].split()[1] == "disabled"
    assert "enabled" in run(app, "enable", "1")
    rotated = run(app, "rotate-secret", "1", "--old-secret-hours", "2")
    assert "new signing secret: whsec_" in rotated and "keep signing for 2 h" in rotated
    assert "deleted" in run(app, "delete", "1", "--yes")
    assert "No webhook endpoints yet" in run(app, "list")


def test_bad_input_is_refused_with_the_reason(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["pix", "webhooks", "create", "ftp://x", "--events", "*"])
    assert result.exit_code == 2 and "url must be an absolute" in result.output
    result = runner.invoke(args=["pix", "webhooks", "create", "https://x.example", "--events", "payment.payed"])
    assert result.exit_code == 2 and "event_types" in result.output
    result = runner.invoke(args=["pix", "webhooks", "enable", "99"])
    assert result.exit_code == 1 and "no webhook endpoint has id 99" in result.output
    result = runner.invoke(args=["pix", "webhooks", "redeliver"])
    assert result.exit_code == 2 and "give a DELIVERY_ID or --since" in result.output
    for since in ("yesterday", "2026-12-01T00:00:00", "0001-01-01T00:00:00+01:00"):
        result = runner.invoke(args=["pix", "webhooks", "redeliver", "--since", since])
        assert result.exit_code == 2 and "ISO 8601 time with its offset" in result.output


def test_dead_letters_are_listed_shown_and_redelivered(app: Flask, make_payment: Callable) -> None:
    assert "No dead letters" in run(app, "dead-letters")
    with Receiver(answer=lambda _n, _r: Reply(500)) as receiver:
        run(app, "create", receiver.url, "--retry", "")
        app.test_client().post("/webhooks/endpoints", json={"url": receiver.url, "retry_schedule": []})
        make_payment()
        deliver_due(app)
        letters = run(app, "dead-letters").splitlines()
        assert letters[0].split()[:3] == ["DELIVERY", "ENDPOINT", "EVENT"]
        assert len(letters) == 3 and all("payment.created" in line and "HTTP 500" in line for line in letters[1:])
        assert '"attempt_log"' in run(app, "dead-letters", "--show", letters[1].split()[0])

        receiver.answer = lambda _n, _r: Reply(200)
        assert "will be sent again" in run(app, "redeliver", letters[1].split()[0])
        assert "1 dead letter since" in run(app, "redeliver", "--since", "2020-01-01T00:00:00+00:00")
        deliver_due(app)
    assert [delivery.status for delivery in deliveries(app)] == [DeliveryStatus.DELIVERED] * 2
