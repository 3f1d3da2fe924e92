"""Several real server processes on PostgreSQL and Redis behave as one checkout."""

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import socketio
from sqlalchemy import create_engine, text

from tests.cluster import migrate, start_processes, wait_for, watch, watch_as_operator
from tests.live_server import LiveServer
from tests.services import fresh_postgres_database, redis_url

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        migrate(url)
        yield url


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[list[LiveServer]]:
    servers = start_processes(tmp_path_factory.mktemp("cluster"), 2, DATABASE_URL=database_url)
    yield servers
    for server in servers:
        server.stop()


def test_confirmation_on_one_process_reaches_a_page_on_another(two_processes: list[LiveServer]) -> None:
    first, second = two_processes
    payment = first.create_payment(25)
    bystander_payment = first.create_payment(30)
    page, statuses = watch(first.url, payment)
    bystander, bystander_statuses = watch(second.url, bystander_payment)
    try:
        assert second.confirm(payment)[0] == 200
        wait_for(lambda: "paid" in statuses)
        time.sleep(0.5)  # room for a duplicate to show up
        assert statuses == ["pending", "paid"]
        assert bystander_statuses == ["pending"]
    finally:
        page.disconnect()
        bystander.disconnect()


def test_the_operators_room_hears_every_process_once(two_processes: list[LiveServer]) -> None:
    first, second = two_processes
    operator, heard = watch_as_operator(first.url)
    try:
        payment = second.create_payment(35)
        assert second.confirm(payment)[0] == 200
        assert first.confirm(payment)[0] == 200  # a second transfer, on another process: money to refund
        wait_for(lambda: ("payment.refused", payment["id"]) in heard)  # told by some process's relay
        time.sleep(1.5)  # a relay tick: room for a duplicate to show up
        assert [event for event in heard if event[1] == payment["id"]] == [
            ("payment.created", payment["id"]),
            ("payment.paid", payment["id"]),
            ("payment.refused", payment["id"]),
        ]
    finally:
        operator.disconnect()


def test_duplicate_confirmations_across_processes_give_one_event(two_processes: list[LiveServer]) -> None:
    first = two_processes[0]
    payment = first.create_payment(40)
    page, statuses = watch(first.url, payment)
    answers: list[str] = []

    def confirm(server: LiveServer) -> None:
        answers.append(server.confirm(payment)[1]["message"])

    threads = [threading.Thread(target=confirm, args=(server,)) for server in two_processes * 5]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: "paid" in statuses)
        time.sleep(0.5)
        assert answers.count("The payment has been confirmed") == 1
        assert statuses == ["pending", "paid"]
    finally:
        page.disconnect()


def test_expiry_is_the_same_on_every_process(two_processes: list[LiveServer], database_url: str) -> None:
    first, second = two_processes
    payment = first.create_payment()
    engine = create_engine(database_url.replace("postgresql://", "postgresql+pg8000://"))
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE payments SET expiration_date = now() - interval '1 hour' WHERE id = :id"),
            {"id": payment["id"]},
        )
    engine.dispose()
    token = payment["page_url"].rsplit("/", 1)[1]
    for server in two_processes:
        assert server.request("GET", f"/payments/pix/{token}/status")[1]["payment"]["status"] == "expired"
    assert second.confirm(payment)[0] == 410


def test_processes_share_rate_limits_through_redis(tmp_path: Path, database_url: str) -> None:
    servers = start_processes(
        tmp_path,
        2,
        DATABASE_URL=database_url,
        RATELIMIT_ENABLED="true",
        PIX_CREATE_RATE_LIMIT="2 per minute",
        RATELIMIT_KEY_PREFIX=f"pix-test-{uuid.uuid4().hex}",
    )
    body, headers = b'{"value": 10}', {"Content-Type": "application/json"}
    try:
        statuses = [server.request("POST", "/payments/pix", body, headers)[0] for server in servers + servers]
        assert statuses == [201, 201, 429, 429]
    finally:
        for server in servers:
            server.stop()


def test_slow_query_does_not_stall_other_clients(two_processes: list[LiveServer], database_url: str) -> None:
    """pg8000 waits cooperatively under eventlet: a request stuck on a lock leaves the others answering."""
    server = two_processes[0]
    engine = create_engine(database_url.replace("postgresql://", "postgresql+pg8000://"))
    created: list[int] = []
    with engine.connect() as blocker:
        blocker.execute(text("LOCK TABLE payments IN ACCESS EXCLUSIVE MODE"))
        stuck = threading.Thread(
            target=lambda: created.append(server.request("POST", "/payments/pix", b'{"value": 5}', JSON)[0])
        )
        stuck.start()
        time.sleep(0.3)  # the creation is now waiting for the lock inside the server
        started = time.monotonic()
        # Health reads the locked table too, so ask for something that needs no database.
        status, document = server.request("GET", "/openapi.json")
        answered_in = time.monotonic() - started
        assert (status, document["openapi"], created) == (200, "3.1.0", [])
        assert answered_in < 0.5, f"another client waited {answered_in:.2f} s behind the stuck query"
        blocker.rollback()
    stuck.join(timeout=10)
    engine.dispose()
    assert created == [201]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_lone_surrogate_over_the_wire_poisons_nothing(two_processes: list[LiveServer], transport: str) -> None:
    """The message that once broke a process's pool: an invalid_token ack, then every request still right."""
    server = two_processes[0]
    client = socketio.Client(reconnection=False)
    client.connect(server.url, transports=[transport], wait_timeout=10)
    try:
        ack = client.call("subscribe", {"token": "\ud800" + "a" * 31}, timeout=10)
    finally:
        client.disconnect()
    assert ack["error"]["code"] == "invalid_token"
    for _ in range(20):  # more requests than the pool has connections
        payment = server.create_payment(3)
        assert server.confirm(payment)[0] == 200
        status, answer = server.request("GET", payment["status_url"].removeprefix(server.url))
        assert (status, answer["payment"]["id"], answer["payment"]["status"]) == (200, payment["id"], "paid")
    assert server.request("GET", "/health")[0] == 200


def test_a_pages_own_status_on_subscribe_stays_in_its_process(two_processes: list[LiveServer]) -> None:
    first = two_processes[0]
    payment = first.create_payment(12)
    listener = redis.Redis.from_url(redis_url()).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(first.env["SOCKETIO_CHANNEL"])
    page, statuses = watch(first.url, payment)
    try:
        wait_for(lambda: statuses == ["pending"])
        # Before, the reply to this one connection went out through Redis: every process decoded it, and dropped it.
        published, until = [], time.monotonic() + 0.5
        while time.monotonic() < until:
            if (message := listener.get_message(timeout=0.1)) is not None:
                published.append(message)
        assert published == []
    finally:
        page.disconnect()
        listener.close()
