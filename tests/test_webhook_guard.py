"""Nothing a shop's endpoint does, and nothing its URL resolves to, can turn the worker against us: the SSRF
guard, and property-based hostile answers from a real receiving server."""

import socket
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_network
from typing import Any
from unittest.mock import Mock

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from db_models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, db
from jobs import safe_http
from jobs.safe_http import EXCERPT_BYTES, BlockedAddressError, Policy, checked_address
from tests.receiver import Receiver, Reply
from tests.webhook_worker import deliver_due, deliveries, retries_due_now

NOT_PUBLIC = ["127.0.0.1", "10.1.2.3", "192.168.0.10", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1"]  # noqa: S104
# IPv6 carrying a private IPv4 address (NAT64 on IPv6-only clouds reaches it), and deprecated ranges.
CARRYING_PRIVATE = ["64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "2002:7f00:1::1", "::ffff:10.0.0.1", "::127.0.0.1"]


@pytest.mark.parametrize("host", [*NOT_PUBLIC, "localhost", *CARRYING_PRIVATE, "::ffff:0:7f00:1", "fec0::1"])
def test_addresses_that_are_not_public_are_refused(host: str) -> None:
    with pytest.raises(BlockedAddressError):
        checked_address(host, 443, allow_private=False, allowed=[])


def test_listed_networks_and_development_may_be_called() -> None:
    assert checked_address("10.1.2.3", 443, allow_private=False, allowed=[ip_network("10.0.0.0/8")]) == "10.1.2.3"
    assert checked_address("127.0.0.1", 443, allow_private=True, allowed=[]) == "127.0.0.1"
    assert checked_address("8.8.8.8", 443, allow_private=False, allowed=[]) == "8.8.8.8"
    assert checked_address("64:ff9b::808:808", 443, allow_private=False, allowed=[]) == "64:ff9b::808:808"  # 8.8.8.8
    assert checked_address("2606:4700::1111", 443, allow_private=False, allowed=[]) == "2606:4700::1111"


def test_a_host_name_idna_refuses_is_a_refused_address_not_a_crash() -> None:
    with pytest.raises(BlockedAddressError, match="does not resolve"):
        checked_address("a" * 64 + ".example.com", 443, allow_private=False, allowed=[])


@pytest.fixture
def guarded_config(app_config: dict) -> dict:
    return app_config | {"WEBHOOK_ALLOW_PRIVATE": "false"}


def test_with_the_guard_on_an_endpoint_on_a_private_address_is_refused(guarded_config: dict) -> None:
    client = create_app(guarded_config).test_client()
    for url in ("http://127.0.0.1:8080/hook", "https://10.0.0.5/hook", "https://[::1]/hook", "http://localhost/x"):
        response = client.post("/webhooks/endpoints", json={"url": url})
        assert response.status_code == 400, url
        assert response.get_json()["error"]["code"] == "endpoint_address_refused"


def test_the_guard_is_checked_again_at_each_attempt(app_config: dict, guarded_config: dict) -> None:
    # An endpoint accepted while its name pointed elsewhere (DNS rebinding) is refused when it is called.
    with Receiver() as receiver:
        allowed = create_app(guarded_config | {"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"})
        allowed.test_client().post("/webhooks/endpoints", json={"url": receiver.url, "retry_schedule": []})
        guarded = create_app(guarded_config)
        guarded.test_client().post("/payments/pix", json={"value": 5})
        deliver_due(guarded)
        assert receiver.received == []
    [delivery] = deliveries(guarded)
    assert delivery.status == DeliveryStatus.DEAD and "BlockedAddressError" in delivery.last_error


statuses = st.integers(200, 599)
header_names = st.sampled_from(["Retry-After", "Location", "Content-Type", "X-Junk", "Content-Encoding"])
# Any text a header line can carry, digits of other scripts among it ("²" is a digit to str.isdigit, not to float).
header_values = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=40) | st.sampled_from(["²", "١٠"])
replies = st.builds(
    Reply,
    status=statuses,
    headers=st.dictionaries(header_names, header_values, max_size=3),
    body=st.binary(max_size=5000) | st.just(b"\xff" * 100_000),
) | st.builds(
    Reply,
    raw=st.binary(max_size=200)
    | st.sampled_from([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", b"HTTP/1.1 999 ?\r\n\r\n", b"\x00" * 64]),
)


@pytest.fixture(scope="module")
def hostile_receiver() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def worker_app(tmp_path_factory: pytest.TempPathFactory, hostile_receiver: Receiver) -> Iterator[Flask]:
    """One app whose endpoint is the hostile receiver; every example adds a payment and delivers it."""
    with pytest.MonkeyPatch.context() as environment:
        environment.delenv("DATABASE_URL", raising=False)
        database = tmp_path_factory.mktemp("guard") / "g.db"
        app = create_app({"TESTING": True, "SOCKETIO_ASYNC_MODE": "threading", "DATABASE_URL": f"sqlite:///{database}"})
        app.test_client().post("/webhooks/endpoints", json={"url": hostile_receiver.url, "retry_schedule": [1, 1]})
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def newest_delivery(app: Flask) -> tuple[WebhookDelivery, Any]:
    with app.app_context():
        delivery = db.session.execute(db.select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).scalars().first()
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        db.session.expunge_all()
        return delivery, endpoint


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(reply=replies)
def test_any_answer_is_recorded_and_never_breaks_the_worker(
    worker_app: Flask, hostile_receiver: Receiver, reply: Reply
) -> None:
    hostile_receiver.answer = lambda _n, _r: reply
    client: FlaskClient = worker_app.test_client()
    client.patch("/webhooks/endpoints/1", json={"enabled": True})
    client.post("/payments/pix", json={"value": 5})
    retries_due_now(worker_app)
    deliver_due(worker_app)
    delivery, endpoint = newest_delivery(worker_app)
    answered_2xx = reply.raw is None and 200 <= reply.status < 300
    assert (delivery.status == DeliveryStatus.DELIVERED) == answered_2xx, (delivery.status, delivery.last_error)
    if reply.raw is None and reply.status == 410:
        assert delivery.status == DeliveryStatus.HELD and not endpoint.enabled
    log = client.get("/webhooks/endpoints/1/deliveries?limit=1").get_json()["deliveries"][0]["attempt_log"]
    assert log and all(len(attempt["response_excerpt"] or "") <= EXCERPT_BYTES for attempt in log)
    assert client.get("/health").status_code == 200


def test_a_name_server_that_never_answers_costs_an_attempt_its_deadline_and_one_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer, lookups, real_lookup = threading.Event(), [], socket.getaddrinfo

    def never_answering(host: str, *args: Any, **kwargs: Any) -> list:
        if host != "slow-dns.example":
            return real_lookup(host, *args, **kwargs)
        lookups.append(host)
        answer.wait(30)
        return real_lookup("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", never_answering)
    guard = Policy(allow_private=True, allowed=[], total_seconds=0.5)
    with safe_http.client() as client:
        started = time.monotonic()
        for _ in range(3):  # the worker's next attempts at the same name wait on the first lookup
            with pytest.raises(BlockedAddressError, match="did not resolve within"):
                safe_http.post(client, "http://slow-dns.example/hook", b"{}", {}, guard)
        assert time.monotonic() - started < 3 * 0.5 + 1
        assert lookups == ["slow-dns.example"]
        answer.set()
        with Receiver() as receiver:
            url = f"http://slow-dns.example:{receiver.port}/hook"
            deadline = time.monotonic() + 5
            while safe_http._lookups and time.monotonic() < deadline:  # the first lookup finishing frees the name
                time.sleep(0.01)
            assert safe_http.post(client, url, b"{}", {}, guard).status_code == 200


def test_a_lookup_that_could_not_start_its_thread_leaves_the_name_to_resolve_next_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guard = Policy(allow_private=True, allowed=[], total_seconds=0.5)
    with safe_http.client() as client, Receiver() as receiver:
        url = f"http://localhost:{receiver.port}/hook"
        with monkeypatch.context() as starved:
            starved.setattr(threading.Thread, "start", Mock(side_effect=RuntimeError("can't start new thread")))
            with pytest.raises(BlockedAddressError, match="does not resolve: no thread"):
                safe_http.post(client, url, b"{}", {}, guard)
        # Before, the name kept a lookup nobody ran: every later attempt at it waited its deadline out, and failed.
        assert safe_http.post(client, url, b"{}", {}, guard).status_code == 200


def test_a_refused_endpoint_is_not_told_which_private_address_its_name_has(guarded_config: dict) -> None:
    client = create_app(guarded_config).test_client()
    message = client.post("/webhooks/endpoints", json={"url": "http://localhost/x"}).get_json()["error"]["message"]
    assert "not public" in message
    assert "127.0.0.1" not in message and "::1" not in message
