"""Redis going away, or hanging, stops no payment and loses no page's event: real processes on PostgreSQL whose
Redis (rate limits and the Socket.IO channel) sits behind a relay the tests cut, freeze and restore."""

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
import socketio
from prometheus_client.parser import text_string_to_metric_families

from routes.redis_channel import QUIET_SECONDS
from tests.cluster import migrate, start_processes, wait_for, watch, watch_as_operator
from tests.cuttable_proxy import CuttableProxy, cuttable_proxy
from tests.live_server import LiveServer
from tests.services import fresh_postgres_database, redis_url

SHOP_KEY = "outage-test-shop-key"
SHOP = {"Content-Type": "application/json", "Authorization": f"Bearer {SHOP_KEY}"}
# A listener that lost Redis tries again 1 s later, then up to 5 s apart, and a process that could not publish
# tells again 5 s after: a page is told within a few of those.
CAUGHT_UP_WITHIN = 20
# Each wait on a silent Redis is one attempt of a second or two: the rate limits' check, then the publish.
ANSWERED_WITHIN = 8


@pytest.fixture(scope="module")
def redis_relay() -> Iterator[CuttableProxy]:
    redis_url()  # skip, or fail under CI, without a Redis
    with cuttable_proxy(("127.0.0.1", 6379)) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory, redis_relay: CuttableProxy) -> Iterator[list[LiveServer]]:
    with fresh_postgres_database() as database_url:
        migrate(database_url)
        servers = start_processes(
            tmp_path_factory.mktemp("outage"),
            2,
            DATABASE_URL=database_url,
            SOCKETIO_MESSAGE_QUEUE=f"redis://127.0.0.1:{redis_relay.port}/0",
            RATELIMIT_ENABLED="true",
            RATELIMIT_KEY_PREFIX=f"pix-test-{uuid.uuid4().hex}",
            SHOP_API_KEY=SHOP_KEY,
            PIX_AUTH_FAILURE_RATE_LIMIT="2 per minute",
        )
        yield servers
        for server in servers:
            server.stop()


# How Redis fails: gone (every connection dropped, new ones refused) or hanging (nothing relayed, nothing dropped).
OUTAGES = ["cut", "freeze"]


@pytest.fixture(params=OUTAGES)
def redis_down(request: pytest.FixtureRequest, redis_relay: CuttableProxy) -> Iterator[str]:
    """Each outage in turn, for the test's length; its name."""
    getattr(redis_relay, request.param)()
    try:
        yield request.param
    finally:
        redis_relay.restore()


def create(server: LiveServer, value: int, headers: dict[str, str] = SHOP) -> tuple[int, dict]:
    return server.request("POST", "/payments/pix", json.dumps({"value": value}).encode(), headers)


def watched_payment(server: LiveServer, value: int) -> tuple[dict, socketio.Client, list[str]]:
    """A new payment, and its page on server with the statuses it hears."""
    status, answer = create(server, value)
    assert status == 201, answer
    return answer["payment"], *watch(server.url, answer["payment"])


def test_payments_are_created_and_confirmed_while_redis_is_down(
    two_processes: list[LiveServer], redis_down: str
) -> None:
    first, second = two_processes
    started = time.monotonic()
    status, answer = create(first, 25)
    assert status == 201, answer
    assert create(second, 10)[0] == 201
    assert second.confirm(answer["payment"])[0] == 200
    assert time.monotonic() - started < ANSWERED_WITHIN


def test_rate_limits_still_hold_while_redis_is_down(two_processes: list[LiveServer], redis_down: str) -> None:
    wrong_key = SHOP | {"Authorization": "Bearer not-the-key"}
    # Each outage on a process of its own: what a process counts in memory outlives the outage that made it.
    server = two_processes[OUTAGES.index(redis_down)]
    statuses = [create(server, 25, wrong_key)[0] for _ in range(3)]
    assert statuses == [401, 401, 429]


@pytest.mark.parametrize("outage", OUTAGES)
def test_a_page_hears_of_a_payment_confirmed_on_another_process_while_redis_was_down(
    two_processes: list[LiveServer], redis_relay: CuttableProxy, outage: str
) -> None:
    first, second = two_processes
    payment, page, statuses = watched_payment(first, 30)
    try:
        getattr(redis_relay, outage)()
        time.sleep(0.5)  # the processes' listeners notice
        assert second.confirm(payment)[0] == 200
        redis_relay.restore()
        wait_for(lambda: "paid" in statuses, timeout=CAUGHT_UP_WITHIN)
        assert statuses[0] == "pending" and set(statuses[1:]) == {"paid"}
    finally:
        redis_relay.restore()
        page.disconnect()


@pytest.mark.parametrize("outage", OUTAGES)
def test_the_operators_hear_what_happened_on_another_process_while_redis_was_down(
    two_processes: list[LiveServer], redis_relay: CuttableProxy, outage: str
) -> None:
    first, second = two_processes
    operator, heard = watch_as_operator(first.url)
    try:
        getattr(redis_relay, outage)()
        time.sleep(0.5)
        status, answer = create(second, 35)
        assert status == 201
        payment_id = answer["payment"]["id"]
        assert second.confirm(answer["payment"])[0] == 200
        redis_relay.restore()
        wait_for(lambda: ("payment.paid", payment_id) in heard, timeout=CAUGHT_UP_WITHIN)
        assert ("payment.created", payment_id) in heard
    finally:
        redis_relay.restore()
        operator.disconnect()


def message_queue_up(server: LiveServer) -> float | None:
    with urllib.request.urlopen(f"{server.url}/metrics") as answer:
        text = answer.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "pix_message_queue_up":
            return family.samples[0].value if family.samples else None
    return None


def test_the_metrics_say_when_a_process_cannot_reach_redis(
    two_processes: list[LiveServer], redis_relay: CuttableProxy
) -> None:
    first = two_processes[0]
    _payment, page, _statuses = watched_payment(first, 20)  # a page: the process listens to Redis
    try:
        wait_for(lambda: message_queue_up(first) == 1)
        redis_relay.cut()
        wait_for(lambda: message_queue_up(first) == 0)
        redis_relay.restore()
        wait_for(lambda: message_queue_up(first) == 1, timeout=CAUGHT_UP_WITHIN)
    finally:
        redis_relay.restore()
        page.disconnect()


def test_nothing_is_told_twice_once_redis_is_back(two_processes: list[LiveServer]) -> None:
    first, second = two_processes
    # What the outages above kept from pages is told again (a page may hear it twice) once the quiet after a
    # failed publish is over: let that pass, then every event is told once.
    time.sleep(QUIET_SECONDS + 2)
    payment, page, statuses = watched_payment(first, 40)
    try:
        assert second.confirm(payment)[0] == 200
        wait_for(lambda: "paid" in statuses, timeout=CAUGHT_UP_WITHIN)
        time.sleep(1.5)  # a relay tick: room for a duplicate to show up
        assert statuses == ["pending", "paid"]
    finally:
        page.disconnect()
