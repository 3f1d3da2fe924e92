"""Outbound webhooks against a real receiving HTTP server: signed, in order, retried, dead-lettered, never lost."""

import json
import subprocess
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from db_models import DeliveryStatus
from db_models.base import now_utc
from tests.external_tools import require_executable, require_path
from tests.live_server import REPO_ROOT, free_port
from tests.receiver import Received, Receiver, Reply
from tests.webhook_worker import deliver_due, deliveries, retries_due_now


@pytest.fixture
def app_config(app_config: dict) -> dict:
    return app_config | {"PUBLIC_BASE_URL": "https://pagamentos.example.com", "WEBHOOK_TIMEOUT_SECONDS": 2}


@pytest.fixture
def receiver() -> Any:
    with Receiver() as server:
        yield server


def add_endpoint(client: FlaskClient, url: str, **fields: Any) -> dict[str, Any]:
    """An endpoint created through the API: its JSON and "secret"."""
    response = client.post("/webhooks/endpoints", json={"url": url, "retry_schedule": [5, 60, 300]} | fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["endpoint"] | {"secret": response.get_json()["secret"]}


def verified(request: Received, secret: str) -> dict[str, Any]:
    """The event, after the standardwebhooks library verified its signature (raises if it does not)."""
    return Webhook(secret).verify(request.body.decode(), request.headers)


def failing(times: int, status: int = 500, **reply: Any) -> Callable[[int, Received], Reply]:
    """Answer status to the first times requests, then 200."""
    return lambda number, _request: Reply(status, **reply) if number <= times else Reply()


def test_a_paid_payment_reaches_the_shop_signed_with_everything_in_it(
    app: Flask, client: FlaskClient, receiver: Receiver, confirm: Callable
) -> None:
    endpoint = add_endpoint(client, receiver.url, headers={"X-Loja": "1"}, auth={"type": "bearer", "token": "tok-123"})
    created = client.post("/payments/pix", json={"value": "25.90", "order_id": "pedido-42", "metadata": {"a": "b"}})
    payment = created.get_json()["payment"]
    assert confirm(payment).status_code == 200
    assert deliver_due(app) == 2

    first, second = receiver.received
    events = [verified(first, endpoint["secret"]), verified(second, endpoint["secret"])]
    assert [event["type"] for event in events] == ["payment.created", "payment.paid"]
    assert [event["sequence"] for event in events] == [1, 2]
    paid = events[1]["data"]["payment"]
    assert paid["status"] == "paid" and paid["order_id"] == "pedido-42" and paid["metadata"] == {"a": "b"}
    assert paid["value"] == 25.9 and paid["id"] == payment["id"]
    assert paid["page_url"] == f"https://pagamentos.example.com/payments/pix/{payment['page_url'].rsplit('/', 1)[1]}"
    assert paid["status_url"].startswith("https://pagamentos.example.com/")
    assert second.headers["webhook-id"] == events[1]["id"]
    assert second.headers["x-loja"] == "1" and second.headers["authorization"] == "Bearer tok-123"
    assert second.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(second.body.decode(), second.headers)
    assert {delivery.status for delivery in deliveries(app)} == {DeliveryStatus.DELIVERED}


def test_an_endpoint_that_fails_is_retried_with_growing_waits_until_it_answers(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    receiver.answer = failing(3, 503, body=b"maintenance")
    add_endpoint(client, receiver.url, retry_schedule=[10, 100, 1000, 1000])
    make_payment()
    waits = []
    for _ in range(3):
        before = now_utc()
        deliver_due(app)
        [delivery] = deliveries(app)
        assert delivery.status == DeliveryStatus.PENDING
        waits.append((delivery.next_attempt_at - before).total_seconds())
        retries_due_now(app)
    deliver_due(app)

    # 10, 100, 1000 s, each within the +-20% jitter.
    for wait, planned in zip(waits, [10, 100, 1000], strict=True):
        assert planned * 0.8 - 1 <= wait <= planned * 1.2 + 1
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 4
    ids = {request.headers["webhook-id"] for request in receiver.received}
    assert len(receiver.received) == 4 and len(ids) == 1  # the same webhook-id on every retry
    log = client.get(f"/webhooks/endpoints/{delivery.endpoint_id}/deliveries").get_json()["deliveries"]
    attempts = log[0]["attempt_log"]
    assert [attempt["status_code"] for attempt in attempts] == [503, 503, 503, 200]
    assert attempts[0]["response_excerpt"] == "maintenance" and attempts[0]["duration_ms"] >= 0
    stats = client.get(f"/webhooks/endpoints/{delivery.endpoint_id}").get_json()["stats"]
    assert stats["success_rate"] == 0.25 and stats["deliveries"]["delivered"] == 1


def test_spent_retries_make_a_dead_letter_that_can_be_inspected_and_redelivered(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    receiver.answer = lambda _n, _r: Reply(500)
    endpoint = add_endpoint(client, receiver.url, retry_schedule=[1, 1])
    payment = make_payment()
    for _ in range(3):
        deliver_due(app)
        retries_due_now(app)
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.DEAD and delivery.attempts == 3

    [letter] = client.get("/webhooks/dead-letters").get_json()["dead_letters"]
    assert letter["event"]["data"]["payment"]["id"] == payment["id"] and letter["last_error"] == "HTTP 500"
    shown = client.get(f"/webhooks/deliveries/{letter['id']}").get_json()["delivery"]
    assert len(shown["attempt_log"]) == 3

    receiver.answer = lambda _n, _r: Reply(200)
    response = client.post(f"/webhooks/deliveries/{letter['id']}/redeliver")
    assert response.status_code == 202
    deliver_due(app)
    assert deliveries(app)[0].status == DeliveryStatus.DELIVERED
    assert client.get(f"/webhooks/dead-letters?endpoint_id={endpoint['id']}").get_json()["dead_letters"] == []


def test_dead_letters_since_a_time_are_sent_again_together(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    receiver.answer = lambda _n, _r: Reply(500)
    add_endpoint(client, receiver.url, retry_schedule=[])
    since = (now_utc() - timedelta(minutes=1)).isoformat()
    for _ in range(3):
        make_payment()
    deliver_due(app)
    assert [d.status for d in deliveries(app)] == [DeliveryStatus.DEAD] * 3

    receiver.answer = lambda _n, _r: Reply(204)
    later = client.post(
        "/webhooks/dead-letters/redeliver", json={"since": (now_utc() + timedelta(minutes=1)).isoformat()}
    )
    assert later.get_json() == {"redelivered": 0}
    response = client.post("/webhooks/dead-letters/redeliver", json={"since": since})
    assert response.status_code == 202 and response.get_json() == {"redelivered": 3}
    deliver_due(app)
    assert [(d.status, d.last_error) for d in deliveries(app)] == [(DeliveryStatus.DELIVERED, None)] * 3


def test_a_slow_endpoint_times_out_and_is_retried(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    receiver.answer = failing(1, 200, delay=4)
    add_endpoint(client, receiver.url)
    make_payment()
    deliver_due(app)
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.PENDING and "Timeout" in delivery.last_error


def test_an_endpoint_that_trickles_its_answer_is_cut_off_at_the_total_timeout(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    # Each byte comes well within the per-read timeout; the whole answer would take about 30 s.
    receiver.answer = lambda _n, _r: Reply(200, headers={"X-Pad": "x" * 200}, trickle=0.1)
    endpoint = add_endpoint(client, receiver.url)
    make_payment()
    deliver_due(app)
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.PENDING and "Timeout" in delivery.last_error
    log = client.get(f"/webhooks/endpoints/{endpoint['id']}/deliveries").get_json()["deliveries"]
    assert log[0]["attempt_log"][0]["duration_ms"] < 3000  # WEBHOOK_TIMEOUT_SECONDS=2, and some slack


def test_410_gone_disables_the_endpoint_and_keeps_every_event_for_later(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable, confirm: Callable
) -> None:
    receiver.answer = failing(1, 410)
    endpoint = add_endpoint(client, receiver.url)
    payment = make_payment()
    deliver_due(app)
    shown = client.get(f"/webhooks/endpoints/{endpoint['id']}").get_json()["endpoint"]
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]

    confirm(payment)  # recorded while the endpoint is off
    make_payment()
    deliver_due(app)
    assert len(receiver.received) == 1
    assert [d.status for d in deliveries(app)] == [DeliveryStatus.HELD] * 3

    assert client.patch(f"/webhooks/endpoints/{endpoint['id']}", json={"enabled": True}).status_code == 200
    deliver_due(app)
    events = receiver.events()[1:]
    assert [(e["type"], e["data"]["payment"]["id"]) for e in events if e["data"]["payment"]["id"] == payment["id"]] == [
        ("payment.created", payment["id"]),
        ("payment.paid", payment["id"]),
    ]
    assert [d.status for d in deliveries(app)] == [DeliveryStatus.DELIVERED] * 3


@pytest.mark.parametrize(("headers", "least"), [({"Retry-After": "600"}, 600), ({}, 60)])
def test_429_backs_off_hard_and_honours_retry_after(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable, headers: dict, least: int
) -> None:
    receiver.answer = failing(1, 429, headers=headers)
    add_endpoint(client, receiver.url, retry_schedule=[1, 1])
    make_payment()
    before = now_utc()
    deliver_due(app)
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.PENDING
    assert (delivery.next_attempt_at - before).total_seconds() >= least - 1


def test_redirects_are_not_followed(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    with Receiver() as elsewhere:
        receiver.answer = lambda _n, _r: Reply(307, headers={"Location": elsewhere.url})
        add_endpoint(client, receiver.url, retry_schedule=[])
        make_payment()
        deliver_due(app)
        assert elsewhere.received == []
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.DEAD and delivery.last_error == "HTTP 307"


def test_an_endpoint_that_is_down_gets_every_event_in_order_when_it_comes_back(
    app: Flask, client: FlaskClient, make_payment: Callable, confirm: Callable
) -> None:
    port = free_port()
    add_endpoint(client, f"http://127.0.0.1:{port}/hook")
    payment = make_payment()
    confirm(payment)
    deliver_due(app)
    assert deliver_due(app) == 0  # the paid event waits behind the created one
    first, second = deliveries(app)
    assert first.status == DeliveryStatus.PENDING and "Connect" in first.last_error and second.attempts == 0

    with Receiver(port=port) as receiver:
        retries_due_now(app)
        deliver_due(app)
        assert [event["type"] for event in receiver.events()] == ["payment.created", "payment.paid"]


def test_during_a_rotation_every_unexpired_secret_signs(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    endpoint = add_endpoint(client, receiver.url)
    rotated = client.post(f"/webhooks/endpoints/{endpoint['id']}/rotate-secret", json={"old_secret_hours": 2})
    new_secret = rotated.get_json()["secret"]
    make_payment()
    deliver_due(app)
    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert verified(request, endpoint["secret"]) == verified(request, new_secret)

    secrets = client.get(f"/webhooks/endpoints/{endpoint['id']}/secret").get_json()["secrets"]
    assert [s["secret"] for s in secrets] == [endpoint["secret"], new_secret]
    assert secrets[0]["expires_at"] is not None and secrets[1]["expires_at"] is None
    client.post(f"/webhooks/endpoints/{endpoint['id']}/rotate-secret", json={"old_secret_hours": 0})
    make_payment()
    deliver_due(app)
    assert len(receiver.received[1].headers["webhook-signature"].split(" ")) == 1


def test_event_filters_choose_what_each_endpoint_gets(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable, confirm: Callable
) -> None:
    with Receiver() as everything:
        add_endpoint(client, receiver.url, event_types=["payment.paid", "payment.expired"])
        add_endpoint(client, everything.url, event_types=["payment.*"])
        confirm(make_payment())
        deliver_due(app)
        assert [event["type"] for event in receiver.events()] == ["payment.paid"]
        assert [event["type"] for event in everything.events()] == ["payment.created", "payment.paid"]


def test_payment_expired_is_sent_once_with_the_expired_payment(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable, expire: Callable
) -> None:
    from jobs.deliveries import sweep

    add_endpoint(client, receiver.url, event_types=["payment.expired"])
    payment = make_payment()
    expire(payment)
    assert sweep(app) == 1
    assert sweep(app) == 0
    deliver_due(app)
    [event] = receiver.events()
    assert event["type"] == "payment.expired" and event["data"]["payment"]["status"] == "expired"


def test_the_body_sent_is_the_body_signed_byte_for_byte(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    endpoint = add_endpoint(client, receiver.url)
    client.post("/payments/pix", json={"value": 10, "description": "Café com pão ☕", "order_id": "ção-1"})
    deliver_due(app)
    [request] = receiver.received
    event = verified(request, endpoint["secret"])
    assert event["data"]["payment"]["description"] == "Café com pão ☕"
    assert json.loads(request.body) == event


# The README's Node receiver, reading {"body", "headers", "secret"} from stdin: the event's type, or "refused".
NODE_VERIFY = """
const { Webhook } = require("standardwebhooks");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
try {
  console.log(new Webhook(input.secret).verify(input.body, input.headers).type);
} catch {
  console.log("refused");
}
"""


def test_a_shop_on_node_verifies_deliveries_with_either_secret_during_a_rotation(
    app: Flask, client: FlaskClient, receiver: Receiver, make_payment: Callable
) -> None:
    node = require_executable("node", "check that a shop on Node verifies our webhooks as the README shows")
    require_path(REPO_ROOT / "node_modules" / "standardwebhooks", "verify in Node (`make test` runs npm ci)")
    endpoint = add_endpoint(client, receiver.url)
    rotated = client.post(f"/webhooks/endpoints/{endpoint['id']}/rotate-secret", json={"old_secret_hours": 2})
    make_payment()
    assert deliver_due(app) == 1
    [request] = receiver.received

    def node_says(secret: str) -> str:
        given = {"body": request.body.decode(), "headers": dict(request.headers), "secret": secret}
        run = subprocess.run(
            [node, "-e", NODE_VERIFY],
            input=json.dumps(given),
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=30,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert node_says(endpoint["secret"]) == node_says(rotated.get_json()["secret"]) == "payment.created"
    assert node_says("whsec_" + "A" * 32) == "refused"


@pytest.mark.parametrize(
    "fields",
    [{"headers": {"X-Loja": "Café"}}, {"auth": {"type": "bearer", "token": "sénha"}}],
)
def test_header_values_that_http_cannot_carry_are_refused_when_the_endpoint_is_made(
    client: FlaskClient, receiver: Receiver, fields: dict
) -> None:
    # Before, they were accepted, and each attempt failed before sending, leaving no trace but a lease run out.
    response = client.post("/webhooks/endpoints", json={"url": receiver.url} | fields)
    assert (response.status_code, response.get_json()["error"]["field"]) == (400, next(iter(fields)))
    assert "ASCII" in response.get_json()["error"]["message"]
