"""Security headers on every kind of response, and the Host rules, port included, for HTTP and Socket.IO."""

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app

HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


@pytest.fixture
def shop_client(app_config: dict[str, Any]) -> FlaskClient:
    """A client of an app that answers only to loja.example.com (default ports) and pix.example.com:8443."""
    return create_app(app_config | {"TRUSTED_HOSTS": "loja.example.com, pix.example.com:8443"}).test_client()


def test_every_response_carries_the_security_headers(client: FlaskClient, make_payment: Callable) -> None:
    payment = make_payment()
    for path in (
        payment["page_url"],
        payment["qr_code_url"],
        payment["status_url"],
        "/static/css/checkout.css",
        "/nada",
    ):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self';" in policy
        assert "'unsafe-inline'" not in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS means nothing here


def test_pages_use_no_inline_script(client: FlaskClient, make_payment: Callable) -> None:
    for path in (make_payment()["page_url"], "/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html
        assert " on" + "click=" not in html


def test_hsts_is_sent_over_tls(client: FlaskClient) -> None:
    assert (
        client.get("/health", base_url="https://localhost").headers["Strict-Transport-Security"].startswith("max-age")
    )


def test_docs_can_be_switched_off(app_config: dict[str, Any]) -> None:
    client = create_app(app_config | {"API_DOCS_ENABLED": "false"}).test_client()
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404


@pytest.mark.parametrize(
    ("base_url", "host", "status"),
    [
        ("http://localhost", "loja.example.com", 200),
        ("http://localhost", "loja.example.com:80", 200),
        ("https://localhost", "loja.example.com:443", 200),
        ("http://localhost", "loja.example.com:8080", 400),
        ("https://localhost", "loja.example.com:80", 400),
        ("https://localhost", "pix.example.com:8443", 200),
        ("https://localhost", "pix.example.com", 400),
        ("http://localhost", "evil.example", 400),
        ("http://localhost", "loja.example.com.evil.example", 400),
        ("http://localhost", "loja.example.com:99999", 400),
        ("http://localhost", "", 400),
    ],
)
def test_hosts_are_trusted_with_their_ports(shop_client: FlaskClient, base_url: str, host: str, status: int) -> None:
    response = shop_client.get("/health", base_url=base_url, headers={"Host": host})
    assert response.status_code == status
    if status == 400:
        assert response.get_json()["error"]["code"] == "invalid_host"
        # Answered before Flask runs, and still with the headers every answer carries.
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_what_engineio_answers_itself_carries_the_security_headers(client: FlaskClient) -> None:
    # Polling packets carry what clients sent: no browser may sniff one as a page, nor frame it.
    answers = [
        client.get(HANDSHAKE),  # a handshake
        client.get(HANDSHAKE + "&sid=no-such-session"),  # Engine.IO's own refusal
        client.get(HANDSHAKE, headers={"Origin": "https://evil.example"}),  # a foreign origin's refusal
    ]
    assert [answer.status_code for answer in answers] == [200, 400, 400]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_the_socketio_handshake_obeys_the_host_rules(shop_client: FlaskClient) -> None:
    refused = shop_client.get(HANDSHAKE, headers={"Host": "loja.example.com:8080"})
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (400, "invalid_host")
    assert shop_client.get(HANDSHAKE, headers={"Host": "loja.example.com"}).status_code == 200


@pytest.mark.parametrize(
    ("origin", "status"),
    [("http://loja.example.com", 200), ("https://pix.example.com:8443", 200), ("https://evil.example", 400)],
)
def test_browsers_open_sockets_only_from_trusted_origins(shop_client: FlaskClient, origin: str, status: int) -> None:
    headers = {"Host": "loja.example.com", "Origin": origin}
    assert shop_client.get(HANDSHAKE, headers=headers).status_code == status


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(host=st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=80))
def test_any_host_header_gets_an_answer_never_a_5xx(app_config: dict[str, Any], host: str) -> None:
    client = create_app(app_config | {"TRUSTED_HOSTS": "loja.example.com:8443"}).test_client()
    for path in ("/health", HANDSHAKE, "/payments/pix/" + "a" * 32):
        response = client.get(path, headers={"Host": host})
        assert response.status_code in {200, 400, 404}
