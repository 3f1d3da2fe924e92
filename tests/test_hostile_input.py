"""Arbitrary Unicode through every input that reaches the database, on SQLite and PostgreSQL.

Each example is followed by a full round (create, confirm, read back) on the same app and pool, so an input
that leaves a connection or the process broken fails the example that caused it. No answer may be a 5xx.
"""

import json
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from config import DEFAULTS
from db_models import db
from extensions import socketio
from live_status import OPERATORS_NAMESPACE
from pix.providers import ApiPixProvider
from pix.psp_client import ApiPixClient, PspSettings
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook
from routes.operator_access import operator_ticket
from tests.conftest import CONFIRMATION_URL
from tests.fake_psp import FakePsp
from tests.services import fresh_postgres_database

PSP_TOKEN = "hostile-input-psp-token-0123456789"
EXAMPLES = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
# Any code point, lone surrogates and NUL drawn often, in text of the lengths each field accepts.
any_character = st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "\x00", "\n", "'", "%"])


def hostile_strings(min_size: int = 0, max_size: int = 80) -> st.SearchStrategy[str]:
    """Text of any code points; ASCII letters keep the right length plausible for ids and tokens."""
    return st.lists(any_character | st.sampled_from("aZ9_-"), min_size=min_size, max_size=max_size).map("".join)


hostile_text = hostile_strings() | st.sampled_from(["\ud800" + "a" * 31, "\x00" * 32, "a" * 5000, "' OR 1=1 --"])
tokens = hostile_strings(32, 32) | hostile_text
amounts = st.decimals(min_value="0.01", max_value="100000", places=2).map(str)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3),
    max_leaves=6,
)
# Row ids past any integer column, and times at the edges of what a datetime holds once moved to UTC.
row_ids = st.integers(min_value=-1, max_value=10**40).map(str) | st.sampled_from(["2147483648", "٣", "0" * 12])
offsets = st.sampled_from([timezone(timedelta(hours=hours)) for hours in (-23, -1, 0, 1, 14)])
edge_times = st.datetimes(timezones=offsets).map(datetime.isoformat) | st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
# What WSGI can deliver in a header: latin-1 text without line breaks.
header_text = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), min_size=1, max_size=300)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app and one connection pool for every example, so damage carries over and is seen."""
    with pytest.MonkeyPatch.context() as environment:
        for name in DEFAULTS:
            environment.delenv(name, raising=False)
        config = {"TESTING": True, "SOCKETIO_ASYNC_MODE": "threading", "RATELIMIT_ENABLED": False}
        config |= {"PIX_WEBHOOK_AUTH": "token", "PIX_WEBHOOK_TOKEN": PSP_TOKEN}
        if request.param == "sqlite":
            yield from _app(config | {"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'h.db'}"})
        else:
            with fresh_postgres_database() as url:
                yield from _app(config | {"DATABASE_URL": url, "AUTO_MIGRATE": True})


def _app(config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def assert_not_5xx(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)


def signed_post(client: FlaskClient, raw: bytes, message_id: str | None = None) -> Any:
    headers = sign_webhook(DEVELOPMENT_WEBHOOK_SECRET, raw, message_id=message_id)
    return client.post(CONFIRMATION_URL, data=raw, headers=headers | {"Content-Type": "application/json"})


def assert_still_works(app: Flask) -> None:
    """The process still creates, confirms and reads back the right payment."""
    client = app.test_client()
    created = client.post("/payments/pix", json={"value": "12.34"})
    assert created.status_code == 201, created.get_data(as_text=True)
    payment = created.get_json()["payment"]
    raw = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": 12.34}).encode()
    confirmed = signed_post(client, raw)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    status = client.get(payment["status_url"]).get_json()["payment"]
    assert (status["id"], status["status"], status["value"]) == (payment["id"], "paid", 12.34)
    assert client.get("/health").status_code == 200


def path_segment(text: str) -> str:
    """text percent-encoded as a client would send it, lone surrogates included."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@EXAMPLES
@given(segment=tokens, query=hostile_text)
def test_any_path_and_query(hostile_app: Flask, segment: str, query: str) -> None:
    client = hostile_app.test_client()
    encoded, query_string = path_segment(segment), f"token={path_segment(query)}"
    paths = (
        f"/payments/pix/{encoded}",
        f"/payments/pix/{encoded}/status",
        f"/payments/pix/qr_code/{encoded}",
        f"/payments/pix/qr_code/{encoded}.svg",
    )
    for path in paths:
        assert_not_5xx(client.get(path, query_string=query_string))
        assert_not_5xx(client.get(path, query_string=query_string, headers={"Accept": "text/html"}))
        assert_not_5xx(client.get(path, query_string=query_string, headers={"Accept": "application/json"}))
    assert_still_works(hostile_app)


@EXAMPLES
@given(value=amounts | json_values, extra_key=hostile_text, extra=json_values)
def test_any_creation_body(hostile_app: Flask, value: Any, extra_key: str, extra: Any) -> None:
    client = hostile_app.test_client()
    for body in ({"value": value}, {"value": value, extra_key: extra}, value):
        raw = json.dumps(body).encode()
        assert_not_5xx(client.post("/payments/pix", data=raw, content_type="application/json"))
    assert_still_works(hostile_app)


@EXAMPLES
@given(payment_key=hostile_strings(1, 64) | json_values, value=amounts | json_values, message_id=header_text)
def test_any_signed_confirmation(hostile_app: Flask, payment_key: Any, value: Any, message_id: str) -> None:
    client = hostile_app.test_client()
    raw = json.dumps({"bank_payment_id": payment_key, "value": value}).encode()
    first = signed_post(client, raw, message_id)
    retry = signed_post(client, raw, message_id)
    assert_not_5xx(first)
    assert (retry.status_code, retry.get_json()) == (first.status_code, first.get_json())
    assert_still_works(hostile_app)


@EXAMPLES
@given(raw=st.binary(max_size=300), message_id=header_text)
def test_any_signed_bytes(hostile_app: Flask, raw: bytes, message_id: str) -> None:
    client = hostile_app.test_client()
    assert_not_5xx(client.post(CONFIRMATION_URL, data=raw, content_type="application/json"))
    if raw.decode("utf-8", "ignore").encode() == raw:  # only UTF-8 bodies can be signed
        assert_not_5xx(signed_post(client, raw, message_id))
    assert_still_works(hostile_app)


subscriptions = st.lists(json_values, max_size=3) | st.tuples(st.fixed_dictionaries({"token": tokens})).map(list)
# Any name a client can put first in an event: the handler tables' own ("*", "connect", ...) and non-strings too.
event_names = hostile_text | st.sampled_from(["*", "connect", "disconnect", "subscribe"]) | json_values


@EXAMPLES
@given(args=subscriptions, event=event_names)
def test_any_socket_event(hostile_app: Flask, args: list[Any], event: Any) -> None:
    page = socketio.test_client(hostile_app, flask_test_client=hostile_app.test_client())
    try:
        for name in ("subscribe", event or "x"):
            ack = page.emit(name, *args, callback=True)
            assert ack["ok"] is False
            assert ack["error"]["code"] in {"invalid_token", "payment_not_found", "unknown_event"}
    finally:
        page.disconnect()
    assert_still_works(hostile_app)


@pytest.mark.parametrize("name", ["*", "connect", "disconnect", ["subscribe"], 7, None])
@pytest.mark.parametrize("namespace", ["/", OPERATORS_NAMESPACE])
def test_an_event_named_like_the_servers_own_handlers_is_refused_as_unknown(
    hostile_app: Flask, namespace: str, name: Any
) -> None:
    """python-socketio looks a name up among its handlers before the catch-all: "*" once ran the catch-all
    without its event name (a traceback), "connect" would run the connect handler again."""
    with hostile_app.test_request_context():
        auth = {"ticket": operator_ticket()} if namespace == OPERATORS_NAMESPACE else None
    client = socketio.test_client(hostile_app, namespace=namespace, auth=auth)
    try:
        ack = client.emit(name, ["someone-else"], {"token": "A" * 32}, callback=True, namespace=namespace)
        assert ack["ok"] is False and ack["error"]["code"] == "unknown_event"
        assert client.is_connected(namespace)
    finally:
        client.disconnect(namespace)
    assert_still_works(hostile_app)


# A bare number right after the namespace reads as an ack id in Socket.IO's encoding; over the wire such a packet is
# dropped as malformed by the connection budget (test_socket_abuse), which this test client goes around.
connect_auth = json_values.filter(lambda value: isinstance(value, bool) or not isinstance(value, int | float))


@EXAMPLES
@given(
    auth=connect_auth | st.fixed_dictionaries({"ticket": json_values | tokens}),
    event=event_names,
    args=subscriptions,
)
def test_any_operator_socket(hostile_app: Flask, auth: Any, event: Any, args: list[Any]) -> None:
    """Whatever a client offers as its ticket, the operators' room stays shut; an operator's talk is refused."""
    intruder = socketio.test_client(hostile_app, namespace=OPERATORS_NAMESPACE, auth=auth)
    assert not intruder.is_connected(OPERATORS_NAMESPACE)
    with hostile_app.test_request_context():
        ticket = operator_ticket()
    operator = socketio.test_client(hostile_app, namespace=OPERATORS_NAMESPACE, auth={"ticket": ticket})
    try:
        ack = operator.emit(event or "x", *args, callback=True, namespace=OPERATORS_NAMESPACE)
        assert ack["ok"] is False and ack["error"]["code"] == "unknown_event"
    finally:
        operator.disconnect(OPERATORS_NAMESPACE)
    assert_still_works(hostile_app)


def pix_ids(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Ids as the API Pix writes them: ASCII letters and digits."""
    return st.text(string.ascii_letters + string.digits, min_size=min_size, max_size=max_size)


# Any moment, the ends of what datetime holds (where deadline arithmetic overflowed) more often than by chance.
timestamps = st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat()) | st.sampled_from(
    ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-14:00"]
)
pix_items = json_values | st.fixed_dictionaries(
    {
        "endToEndId": hostile_strings(32, 32) | hostile_text,
        "txid": hostile_strings(1, 35) | json_values,
        "valor": amounts | json_values,
        "horario": timestamps | hostile_text,
    },
    optional={"devolucoes": json_values | st.lists(json_values, max_size=2), "infoPagador": hostile_text},
)
# Well-formed but for their moment, so that the checkout reads them all the way to the deadline arithmetic.
pix_items |= st.fixed_dictionaries(
    {"endToEndId": pix_ids(32, 32), "txid": pix_ids(26, 35), "valor": amounts, "horario": timestamps}
)


@EXAMPLES
@given(items=st.lists(pix_items, max_size=4), extra=json_values)
def test_any_api_pix_batch(hostile_app: Flask, items: list[Any], extra: Any) -> None:
    client = hostile_app.test_client()
    for body in ({"pix": items}, {"pix": items, "x": extra}, extra):
        raw = json.dumps(body).encode()
        first = client.post(
            "/webhooks/api-pix/pix", query_string={"hmac": PSP_TOKEN}, data=raw, content_type="application/json"
        )
        assert_not_5xx(first)
        retry = client.post(
            "/webhooks/api-pix/pix", query_string={"hmac": PSP_TOKEN}, data=raw, content_type="application/json"
        )
        assert (retry.status_code, retry.get_json()) == (first.status_code, first.get_json())
    assert_still_works(hostile_app)


refund_bodies = json_values | st.fixed_dictionaries(
    {"end_to_end_id": hostile_strings(32, 32) | json_values},
    optional={
        "value": amounts | json_values,
        "refund_id": hostile_strings(1, 35) | json_values,
        "description": json_values,
    },
)


@EXAMPLES
@given(body=refund_bodies, refund_id=hostile_text)
def test_any_refund_request(hostile_app: Flask, body: Any, refund_id: str) -> None:
    client = hostile_app.test_client()
    static = hostile_app.extensions["pix_provider"]
    settings = PspSettings("https://psp.test", "https://psp.test/oauth/token", "id", "s")
    psp = ApiPixClient(settings, transport=httpx.MockTransport(FakePsp().handle))  # a PSP that takes any refund
    hostile_app.extensions["pix_provider"] = ApiPixProvider(psp, "k")
    try:
        assert_not_5xx(client.post("/payments/pix/refunds", data=json.dumps(body), content_type="application/json"))
        assert_not_5xx(client.get(f"/payments/pix/refunds/{path_segment(refund_id)}"))
    finally:
        hostile_app.extensions["pix_provider"] = static
    assert_still_works(hostile_app)


endpoint_bodies = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(["https://loja.example/hook", "http://127.0.0.1:9/x"]) | hostile_text | json_values,
        "event_types": st.lists(st.sampled_from(["*", "payment.*", "payment.paid"]) | hostile_text, max_size=3)
        | json_values,
        "headers": st.dictionaries(hostile_strings(1, 20) | st.sampled_from(["X-Loja", "Host"]), hostile_text)
        | json_values,
        "auth": st.fixed_dictionaries({"type": st.sampled_from(["bearer", "basic"]), "token": hostile_text})
        | json_values,
        "retry_schedule": st.lists(st.integers(-10, 10**6) | st.floats() | st.booleans(), max_size=4) | json_values,
        "enabled": json_values,
        "description": json_values,
    },
)


valid_endpoints = st.fixed_dictionaries(
    {"url": st.sampled_from(["https://loja.example/hook", "http://127.0.0.1:9/x?a=1"])},
    optional={
        "event_types": st.just(["payment.*"]),
        "headers": st.just({"X-Loja": "1"}),
        "retry_schedule": st.just([1]),
    },
)


def post_json(client: FlaskClient, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


@EXAMPLES
@given(
    body=endpoint_bodies,
    valid=valid_endpoints,
    extra_key=hostile_text,
    since=json_values | hostile_text | edge_times,
    path=tokens | row_ids,
)
def test_any_webhook_endpoint_request(
    hostile_app: Flask, body: Any, valid: dict, extra_key: str, since: Any, path: str
) -> None:
    client = hostile_app.test_client()
    before = len(client.get("/webhooks/endpoints").get_json()["endpoints"])
    created = post_json(client, "/webhooks/endpoints", body)
    assert created.status_code in (201, 400), created.get_data(as_text=True)
    if created.status_code == 400:
        assert set(created.get_json()["error"]) <= {"status", "code", "message", "field"}
    after = len(client.get("/webhooks/endpoints").get_json()["endpoints"])
    assert after == before + (created.status_code == 201)  # an endpoint is created whole, or not at all
    endpoint = f"/webhooks/endpoints/{post_json(client, '/webhooks/endpoints', valid).get_json()['endpoint']['id']}"
    unchanged = client.get(endpoint).get_json()["endpoint"]
    changed = client.patch(endpoint, data=json.dumps(body | {extra_key: since}), content_type="application/json")
    assert changed.status_code in (200, 400), changed.get_data(as_text=True)
    if changed.status_code == 400:  # a refused change changes nothing
        assert client.get(endpoint).get_json()["endpoint"] == unchanged
    assert_not_5xx(post_json(client, f"{endpoint}/rotate-secret", body))
    assert client.delete(endpoint).status_code == 204
    encoded = path_segment(path)
    query = f"status={encoded}&limit={encoded}&endpoint_id={encoded}"
    for url in ("/webhooks/endpoints/{}", "/webhooks/deliveries/{}", "/webhooks/endpoints/{}/deliveries"):
        assert_not_5xx(client.get(url.format(encoded), query_string=query))
    assert_not_5xx(client.get("/webhooks/dead-letters", query_string=query))
    assert_not_5xx(post_json(client, "/webhooks/dead-letters/redeliver", {"since": since, "endpoint_id": since}))
    assert_still_works(hostile_app)


@EXAMPLES
@given(reference=hostile_text, form=hostile_text, request_id=header_text, path=tokens | row_ids)
def test_any_operator_request_metrics_scrape_and_request_id(
    hostile_app: Flask, reference: str, form: str, request_id: str, path: str
) -> None:
    client = hostile_app.test_client()
    encoded = path_segment(reference)
    page = client.get(f"/admin/?q={encoded}&reenviado={encoded}", headers={"X-Request-ID": request_id})
    assert page.status_code == 200, page.get_data(as_text=True)
    assert request_id == page.headers["X-Request-ID"] or len(page.headers["X-Request-ID"]) == 32
    posted = {"content_type": "application/x-www-form-urlencoded"}  # percent-encoded, lone surrogates and all
    assert_not_5xx(client.post("/admin/entrar", data=f"token={path_segment(form)}", **posted))
    for action in (f"/admin/entregas/{path_segment(path)}/reenviar", f"/admin/avisos/{path_segment(path)}/devolver"):
        assert_not_5xx(client.post(action, data=f"form_token={path_segment(form)}", **posted))
    assert_not_5xx(client.get(f"/admin/pagamentos/{path_segment(path)}"))
    assert_not_5xx(client.get(f"/admin/?devolucao={encoded}&devolucao_recusada={encoded}"))
    assert_not_5xx(client.get("/metrics", headers={"Authorization": request_id}))
    assert_still_works(hostile_app)
