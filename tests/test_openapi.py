"""/openapi.json describes exactly the app's routes, and the live server keeps every promise it makes."""

import itertools
import re
import uuid

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from app import create_app
from tests.live_server import LiveServer

# Routes that are not part of the API contract: the static files, the demo form and the docs themselves.
UNDOCUMENTED = {
    "static",
    "pages.index",
    "docs.openapi",
    "docs.swagger_ui",
    # The demo shop of `make run` is a sample receiver, not part of the checkout's API.
    "sample_shop.events_page",
    "sample_shop.return_page",
    "sample_shop.receive",
    # Prometheus's scrape, in its own text format, and the operator's pages (README, "Operating it").
    "metrics.scrape",
    "admin.dashboard",
    "admin.login",
    "admin.payment_page",
    "admin.redeliver",
    "admin.refund",
    # Engine.IO answers /socket.io/ (README, "Live updates"); its rule only gives handlers a route to match.
    "socketio",
}


def app_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED:
            continue
        path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
        operations |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return operations


def test_document_and_routes_cannot_drift(app: Flask, client: FlaskClient) -> None:
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == app_operations(app)


def test_docs_page_renders_from_local_files(client: FlaskClient) -> None:
    html = client.get("/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "https://" not in html
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


@pytest.mark.timeout(300)
def test_live_server_conforms_to_its_document(live_server: LiveServer) -> None:
    """Valid and invalid generated input: never a 5xx; status, content type and body always as documented."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in schema.raw_schema["paths"].values())

    for operation, mode in itertools.product(operations, GenerationMode):
        raw = schema.raw_schema["paths"][operation.path][operation.method.lower()]
        if mode is GenerationMode.NEGATIVE and not (raw.get("parameters") or raw.get("requestBody")):
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def responses_conform(case: schemathesis.Case) -> None:
            # It runs within this iteration (right below), so it sees this iteration's mode.
            if mode is GenerationMode.POSITIVE and "Idempotency-Key" in (case.headers or {}):  # noqa: B023
                # A client's key names one request; one reused with another body is a documented 422.
                case.headers["Idempotency-Key"] = uuid.uuid4().hex
            case.call_and_validate()

        responses_conform()


def test_the_api_pix_webhook_is_documented_where_it_is_mounted(app_config: dict) -> None:
    settings = {"PIX_WEBHOOK_AUTH": "token", "PIX_WEBHOOK_TOKEN": "t" * 24, "PIX_WEBHOOK_PATH": "/psp/efi"}
    app = create_app(app_config | settings)
    document = app.test_client().get("/openapi.json").get_json()
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == app_operations(app)
    assert {("post", "/psp/efi/pix"), ("post", "/psp/efi")} <= documented
