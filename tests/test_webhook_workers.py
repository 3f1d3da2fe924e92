"""Delivery workers at work, on PostgreSQL: payments in parallel and each payment's events in order, several
workers without sending one attempt twice, a killed worker's claims taken over, expiry announced once."""

import json
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from sqlalchemy import func
from sqlalchemy.exc import OperationalError

from db_models import DeliveryStatus, OutboxEvent, Payment, WebhookAttempt, WebhookDelivery, db
from jobs.deliveries import attempt_safely, exchange, policy, run_worker, sweep
from jobs.live_relay import publish_new_events
from repository.outbox import payment_event
from tests.cluster import wait_for
from tests.live_server import stop_process
from tests.receiver import Received, Receiver, Reply
from tests.webhook_worker import deliver_due, deliveries, start_worker


@pytest.fixture
def app(postgres_app: Flask) -> Flask:
    """Every test here on PostgreSQL, where several processes share the work."""
    return postgres_app


def add_endpoint(client: FlaskClient, url: str) -> None:
    assert client.post("/webhooks/endpoints", json={"url": url, "retry_schedule": [1, 1, 1]}).status_code == 201


def count(app: Flask, model: Any, *conditions: Any) -> int:
    with app.app_context():
        return db.session.execute(db.select(func.count()).select_from(model).where(*conditions)).scalar_one()


def test_each_payments_events_arrive_in_order_while_payments_go_in_parallel(
    app: Flask, client: FlaskClient, confirm: Callable, make_payment: Callable
) -> None:
    slow: list[int] = []

    def answer(_number: int, request: Received) -> Reply:
        # The first payment's created event takes 1.5 s to be taken: its paid event must wait, the others not.
        event = json.loads(request.body)
        return Reply(delay=1.5 if [event["data"]["payment"]["id"], event["type"]] == [*slow, "payment.created"] else 0)

    with Receiver(answer=answer) as receiver:
        add_endpoint(client, receiver.url)
        payments = [make_payment() for _ in range(6)]
        slow.append(payments[0]["id"])
        for payment in payments:
            confirm(payment)
        stop = threading.Event()
        worker = threading.Thread(target=run_worker, args=(app, time.sleep, 8), kwargs={"stopping": stop.is_set})
        worker.start()
        try:
            wait_for(lambda: len(receiver.received) == 12, timeout=20)
        finally:
            stop.set()
            worker.join(timeout=10)
        arrivals = [(event["data"]["payment"]["id"], event["type"]) for event in receiver.events()]

    for payment in payments:  # created before paid, for every payment
        assert arrivals.index((payment["id"], "payment.created")) < arrivals.index((payment["id"], "payment.paid"))
    assert arrivals[-1] == (slow[0], "payment.paid")  # everything else went by while the slow one was taken
    assert not worker.is_alive()
    assert count(app, WebhookDelivery, WebhookDelivery.status == DeliveryStatus.DELIVERED) == 12


def test_two_worker_processes_share_postgresql_and_never_send_an_attempt_twice(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    with Receiver(answer=lambda _n, _r: Reply(delay=0.01)) as receiver:
        add_endpoint(client, receiver.url)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: client.post("/payments/pix", json={"value": 5}).status_code, range(200)))
        url = app.config["DATABASE_URL"]
        workers = [start_worker(url, tmp_path / f"worker-{n}.log") for n in range(2)]
        try:
            wait_for(lambda: len(receiver.received) >= 200, timeout=60)
            time.sleep(1)  # anything sent twice would arrive meanwhile
        finally:
            for worker in workers:
                stop_process(worker)
        ids = [request.headers["webhook-id"] for request in receiver.received]

    assert len(ids) == 200 and len(set(ids)) == 200
    with app.app_context():
        by_worker = dict(
            db.session.execute(db.select(WebhookAttempt.worker, func.count()).group_by(WebhookAttempt.worker)).all()
        )
    assert len(by_worker) == 2 and sum(by_worker.values()) == 200, by_worker  # both took part
    assert count(app, WebhookDelivery, WebhookDelivery.status == DeliveryStatus.DELIVERED) == 200


def test_a_killed_workers_delivery_is_taken_over_and_delivered(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    first_taken = threading.Event()

    def answer(number: int, _request: Received) -> Reply:
        if number == 1:
            first_taken.set()
            return Reply(delay=1.5)  # the worker dies while waiting for this answer
        return Reply()

    with Receiver(answer=answer) as receiver:
        add_endpoint(client, receiver.url)
        client.post("/payments/pix", json={"value": 5})
        url = app.config["DATABASE_URL"]
        doomed = start_worker(url, tmp_path / "doomed.log")
        try:
            assert first_taken.wait(timeout=30)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
        finally:
            stop_process(doomed)
        survivor = start_worker(url, tmp_path / "survivor.log")
        try:
            # The lease (3 x WEBHOOK_TIMEOUT_SECONDS + 10 = 16 s) runs out, then the survivor delivers.
            wait_for(lambda: len(receiver.received) == 2, timeout=30)
        finally:
            stop_process(survivor)
        ids = [request.headers["webhook-id"] for request in receiver.received]

    assert ids[0] == ids[1]  # the same event, so the shop deduplicates the second
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1


def test_a_stopped_worker_finishes_the_attempt_under_way(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    with Receiver(answer=lambda _n, _r: Reply(delay=1.0)) as receiver:
        add_endpoint(client, receiver.url)
        client.post("/payments/pix", json={"value": 5})
        worker = start_worker(app.config["DATABASE_URL"], tmp_path / "worker.log")
        try:
            wait_for(lambda: len(receiver.received) == 1, timeout=30)
            worker.terminate()
            assert worker.wait(timeout=10) == 0
        finally:
            stop_process(worker)
    [delivery] = deliveries(app)
    assert delivery.status == DeliveryStatus.DELIVERED
    assert "every attempt under way was finished" in (tmp_path / "worker.log").read_text()


def test_concurrent_sweeps_announce_each_expiry_exactly_once(
    app: Flask, expire: Callable, make_payment: Callable
) -> None:
    payments = [make_payment() for _ in range(30)]
    for payment in payments:
        expire(payment)
    with ThreadPoolExecutor(6) as pool:
        announced = sum(pool.map(lambda _: sweep(app), range(12)))
    assert announced == 30
    with app.app_context():
        per_payment = defaultdict(int)
        for event in db.session.execute(db.select(OutboxEvent).where(OutboxEvent.type == "payment.expired")).scalars():
            per_payment[event.payment_id] += 1
    assert per_payment == {payment["id"]: 1 for payment in payments}


def test_a_waiting_page_hears_of_its_expiry_once_from_the_outbox(
    app: Flask, socket_client: SocketIOTestClient, make_payment: Callable, expire: Callable, token_of: Callable
) -> None:
    payment = make_payment()
    assert socket_client.emit("subscribe", {"token": token_of(payment)}, callback=True)["ok"]
    socket_client.get_received()
    expire(payment)
    sweep(app)
    with app.app_context():
        assert publish_new_events() == 1
        assert publish_new_events() == 0
    statuses = [packet["args"][0]["status"] for packet in socket_client.get_received()]
    assert statuses == ["expired"]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, body=b"\x00 erro interno \x00"),  # PostgreSQL refuses NUL in text: the batch failed each round
        Reply(503, headers={"Retry-After": "\u00b2"}),  # a digit to str.isdigit, not to float()
    ],
)
def test_an_answer_the_database_or_the_parser_chokes_on_is_one_failed_attempt(
    app: Flask, client: FlaskClient, make_payment: Callable, reply: Reply
) -> None:
    with Receiver(answer=lambda _number, _request: reply) as receiver:
        add_endpoint(client, receiver.url)
        make_payment()
        assert deliver_due(app) == 1
        make_payment()  # the next round records the first attempt and claims the second payment's event
        assert deliver_due(app) == 1
    assert [(d.status, d.attempts) for d in deliveries(app)] == [(DeliveryStatus.PENDING, 1)] * 2
    assert count(app, WebhookAttempt) == 2


def test_an_endpoint_deleted_while_its_delivery_is_in_flight_stops_no_worker(
    app: Flask, client: FlaskClient, make_payment: Callable
) -> None:
    with Receiver() as gone, Receiver() as kept:
        add_endpoint(client, gone.url)
        make_payment()
        jobs = exchange(app, "test-worker", [], 10)
        outcomes = [attempt_safely(job, policy(app)) for job in jobs]
        endpoint_id = client.get("/webhooks/endpoints").get_json()["endpoints"][0]["id"]
        assert client.delete(f"/webhooks/endpoints/{endpoint_id}").status_code == 204
        add_endpoint(client, kept.url)
        make_payment()
        exchange(app, "test-worker", outcomes, 0)  # before, its attempt broke the foreign key, every round
        assert deliver_due(app) == 1
        assert len(kept.received) == 1
    assert count(app, WebhookAttempt) == 1


def test_an_endpoint_enabled_while_an_event_is_being_recorded_gets_that_event(
    app: Flask, client: FlaskClient, make_payment: Callable
) -> None:
    with Receiver() as receiver:
        answer = client.post("/webhooks/endpoints", json={"url": receiver.url, "enabled": False}).get_json()
        payment, recorded = make_payment(), threading.Event()

        def event_in_flight() -> None:  # a confirmation's transaction: it read the endpoints, commits a moment later
            with app.app_context():
                payment_event("payment.refused", db.session.get(Payment, payment["id"]), notice={"outcome": "x"})
                recorded.set()
                time.sleep(0.5)
                db.session.commit()
                db.session.remove()

        thread = threading.Thread(target=event_in_flight)
        thread.start()
        recorded.wait(10)
        assert (
            client.patch(f"/webhooks/endpoints/{answer['endpoint']['id']}", json={"enabled": True}).status_code == 200
        )
        thread.join()
        deliver_due(app)
        # Before, the event in flight kept the endpoint's "held" and never went: nor did the payment's later ones.
        assert [event["type"] for event in receiver.events()] == ["payment.created", "payment.refused"]


def test_an_attempt_that_cannot_be_recorded_holds_up_no_other(
    app: Flask, client: FlaskClient, make_payment: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Some answer no one foresaw breaks its row (here: the NUL byte, with the cleaning that handles it undone).
    monkeypatch.setattr("jobs.deliveries.storable", lambda text: text)
    poisoned = Reply(500, body=b"\x00 erro \x00")
    with Receiver(answer=lambda _n, _r: poisoned) as broken, Receiver() as healthy:
        add_endpoint(client, broken.url)
        add_endpoint(client, healthy.url)
        make_payment()
        jobs = exchange(app, "test-worker", [], 10)
        outcomes = [attempt_safely(job, policy(app)) for job in jobs]
        make_payment()
        with monkeypatch.context() as database:
            database.setattr("jobs.deliveries.claim_jobs", Mock(side_effect=OperationalError("claim", {}, None)))
            # The attempts recorded one by one stand: before, a claim failing after them raised, and the worker
            # recorded every one again in its next round.
            assert exchange(app, "test-worker", outcomes, 10) == []
        # Before, the whole batch failed in every round: nothing recorded, nothing more claimed, for every shop.
        assert len(exchange(app, "test-worker", [], 10)) == 2
    with app.app_context():
        assert sorted(db.session.execute(db.select(WebhookAttempt.delivery_id)).scalars()) == sorted(
            outcome.job.delivery_id for outcome in outcomes
        )  # one row an attempt
    first_payment = min(d.payment_id for d in deliveries(app))
    # The broken endpoint was added first: its id is the lower.
    kept, delivered = sorted((d for d in deliveries(app) if d.payment_id == first_payment), key=lambda d: d.endpoint_id)
    assert (delivered.status, delivered.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert (kept.status, kept.attempts, kept.locked_by) == (DeliveryStatus.PENDING, 1, None)  # on its schedule
    assert kept.last_error == "the endpoint's answer could not be stored"
