"""The demo shop of `make run`: one webhook endpoint, at the address of the server that last started."""

from typing import Any

import pytest
from flask import Flask

from app import create_app
from db_models import db
from repository.webhook_endpoints import all_endpoints, create_endpoint
from routes.sample_shop import ensure_sample_endpoint


def started_on(port: int, app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Flask:
    """An app configured as `make run` with PORT=port configures it, its demo-shop endpoint ensured."""
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("PORT", str(port))
    app = create_app(app_config)
    ensure_sample_endpoint(app)
    return app


def endpoint_urls(app: Flask) -> list[str]:
    with app.app_context():
        urls = [endpoint.url for endpoint in all_endpoints()]
        db.session.remove()
    return urls


def test_a_run_on_another_port_moves_the_demo_endpoint_instead_of_adding_one(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    started_on(5000, app_config, monkeypatch)
    started_on(5000, app_config, monkeypatch)
    again = started_on(5001, app_config, monkeypatch)
    assert endpoint_urls(again) == ["http://127.0.0.1:5001/demo-shop/webhooks"]


def test_demo_endpoints_piled_up_by_earlier_runs_are_folded_into_one(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(app_config)
    with app.app_context():
        for port in (5000, 5001, 5002):
            create_endpoint(url=f"http://127.0.0.1:{port}/demo-shop/webhooks", event_types=["*"])
        create_endpoint(url="https://loja.example.com/pix/webhook", event_types=["*"])
        db.session.remove()
    started = started_on(5003, app_config, monkeypatch)
    assert endpoint_urls(started) == [
        "http://127.0.0.1:5003/demo-shop/webhooks",
        "https://loja.example.com/pix/webhook",
    ]


def test_with_trusted_hosts_in_development_the_demo_endpoint_is_reached_over_plain_http(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python app.py` answers plain HTTP: an https:// link to itself would fail every delivery's TLS handshake.
    started = started_on(5000, app_config | {"TRUSTED_HOSTS": "localhost:5000, pix.example.com"}, monkeypatch)
    assert endpoint_urls(started) == ["http://localhost:5000/demo-shop/webhooks"]


@pytest.mark.parametrize(
    "body",
    [b'{"data": "x"}', b'{"data": [1]}', b'{"data": {"payment": "x"}}', b'{"data": {"payment": {"status": []}}}'],
)
def test_the_demo_shop_lists_any_unverified_event_without_failing(app_config: dict[str, Any], body: bytes) -> None:
    client = create_app(app_config).test_client()
    assert client.post("/demo-shop/webhooks", data=body, content_type="application/json").status_code == 400


def test_a_return_link_with_other_scripts_digits_is_not_valid_and_no_500(app_config: dict[str, Any]) -> None:
    client = create_app(app_config).test_client()
    query = {"payment_id": "1", "order_id": "A1", "status": "paid", "ts": "²", "signature": "x"}
    answer = client.get("/demo-shop/retorno", query_string=query)
    assert answer.status_code == 200 and "card--warning" in answer.get_data(as_text=True)
