"""GET /metrics: what an operator's Prometheus sees after payments are created, paid, refused and delivered."""

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from log_setup import HTTP_METHODS
from serving import watch_loop_lag
from tests.cluster import wait_for, watch
from tests.live_server import LiveServer
from tests.receiver import Receiver
from tests.test_config import PRODUCTION
from tests.webhook_worker import deliver_due

METRICS_TOKEN = "c2VjcmV0LW1ldHJpY3MtdG9rZW4tZm9yLXRlc3Rz-9f3k"


def scrape(client: FlaskClient, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, keyed by name and sorted labels."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_payments_notices_and_requests_are_counted(
    client: FlaskClient, make_payment: Callable, confirm: Callable
) -> None:
    before = scrape(client)
    paid, wrong = make_payment(), make_payment()
    assert confirm(paid).status_code == 200
    assert confirm(wrong, value=1).status_code == 400  # money that cannot be applied
    assert client.post("/payments/pix/confirmation", json={}).status_code == 401
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("pix_payments_created_total", provider="static") == 2
    assert grew("pix_payments_paid_total", provider="static") == 1
    assert grew("pix_bank_notices_total", source="signed_json", outcome="applied") == 1
    assert grew("pix_bank_notices_total", source="signed_json", outcome="value_mismatch") == 1
    assert grew("pix_webhook_signature_failures_total", webhook="confirmation") == 1
    assert grew("pix_confirmation_to_event_seconds_count") == 1
    created = {"method": "POST", "route": "/payments/pix", "status": "201"}
    assert grew("pix_http_request_duration_seconds_count", **created) == 2
    # Pages are labelled by their route's pattern: no buyer's token ever becomes a label.
    client.get(paid["page_url"])
    labels = {dict(key[1]).get("route") for key in scrape(client)}
    assert "/payments/pix/<page_token:token>" in labels
    assert not any(paid["page_url"].rsplit("/", 1)[1] in (route or "") for route in labels)


def test_methods_of_a_clients_own_are_one_series_and_reach_the_log_as_other(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="pix.http"):
        for n in range(50):  # any token is a method to HTTP, and nginx passes them too
            client.open("/health", method=f"JUNK{n}")
        client.open("/health", method="GET\x1b[2J\x1b[31mPAGO")
    methods = {dict(labels).get("method") for name, labels in scrape(client) if name.startswith("pix_http_request")}
    # Before, a series per junk method, kept until a restart (the registry is the process's: other tests' stay).
    assert methods <= HTTP_METHODS | {"other"}
    assert "other" in methods
    lines = [record.getMessage() for record in caplog.records if record.name == "pix.http"]
    assert len(lines) == 51 and all(line.startswith("other unmatched 405") for line in lines)  # before, ESC bytes


def test_the_webhook_queue_and_its_deliveries_are_visible(
    app: Flask, client: FlaskClient, make_payment: Callable
) -> None:
    with Receiver() as receiver:
        client.post("/webhooks/endpoints", json={"url": receiver.url})
        make_payment()
        waiting = scrape(client)
        assert value(waiting, "pix_webhook_queue_depth", status="pending") == 1
        assert value(waiting, "pix_webhook_oldest_undelivered_seconds") > 0
        before = value(waiting, "pix_webhook_deliveries_total", outcome="delivered")
        assert deliver_due(app) == 1
    done = scrape(client)
    assert value(done, "pix_webhook_queue_depth", status="pending") == 0
    assert value(done, "pix_webhook_oldest_undelivered_seconds") == 0
    assert value(done, "pix_webhook_deliveries_total", outcome="delivered") == before + 1


@pytest.mark.parametrize("sent", [None, "Bearer wrong", f"Basic {METRICS_TOKEN}"])
def test_a_metrics_token_keeps_strangers_out(app_config: dict[str, Any], sent: str | None) -> None:
    client = create_app(app_config | {"METRICS_TOKEN": METRICS_TOKEN}).test_client()
    answer = client.get("/metrics", headers={"Authorization": sent} if sent else {})
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "invalid_metrics_token"
    assert "pix_" in client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)


def test_production_serves_metrics_only_behind_a_random_token(app_config: dict[str, Any]) -> None:
    production = app_config | PRODUCTION | {"SOCKETIO_ASYNC_MODE": "eventlet"}
    assert create_app(production).test_client().get("/metrics").status_code == 404
    guarded = create_app(production | {"METRICS_TOKEN": METRICS_TOKEN}).test_client()
    assert guarded.get("/metrics").status_code == 401
    with pytest.raises(Exception, match="METRICS_TOKEN"):
        create_app(production | {"METRICS_TOKEN": "metrics"})


def test_several_processes_answer_for_all_of_them_in_multiprocess_mode(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    servers = [LiveServer(tmp_path / name, PROMETHEUS_MULTIPROC_DIR=str(shared)) for name in ("one", "two")]
    try:
        for server in servers:
            server.start()
            server.create_payment()
        with urllib.request.urlopen(f"{servers[0].url}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        for server in servers:
            server.stop()
    created = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "pix_payments_created_total"
    }
    assert created == {"pix_payments_created_total": 2}


def test_open_connections_and_waiting_pages_are_gauged_on_the_live_server(tmp_path: Path) -> None:
    server = LiveServer(tmp_path)  # its own: no other test's page comes or goes meanwhile

    def gauges() -> tuple[float, float]:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
            families = {family.name: family for family in text_string_to_metric_families(response.read().decode())}
        return tuple(families[name].samples[0].value for name in ("pix_socketio_connections", "pix_pages_subscribed"))

    server.start()
    try:
        assert gauges() == (0, 0)
        first, second = server.create_payment(), server.create_payment()
        page, _ = watch(server.url, first)
        page.call("subscribe", {"token": second["page_url"].rsplit("/", 1)[1]}, timeout=10)
        page.call("subscribe", {"token": first["page_url"].rsplit("/", 1)[1]}, timeout=10)  # again: still one page
        refused = page.call("subscribe", {"token": "A" * 32}, timeout=10)  # no such payment: it waits on nothing
        assert refused["error"]["code"] == "payment_not_found"
        assert gauges() == (1, 2)
        page.disconnect()
        wait_for(lambda: gauges() == (0, 0))
    finally:
        server.stop()


def test_a_late_wake_up_is_recorded_as_the_loops_lag(client: FlaskClient) -> None:
    before = scrape(client)
    watch_loop_lag(lambda seconds: time.sleep(seconds + 0.03), rounds=range(3))  # each wake-up 30 ms late
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("pix_event_loop_lag_seconds_count") == 3
    assert 0.09 <= grew("pix_event_loop_lag_seconds_sum") < 0.75
    assert grew("pix_event_loop_lag_seconds_bucket", le="0.025") == 0
    assert grew("pix_event_loop_lag_seconds_bucket", le="0.25") == 3


def test_the_live_servers_loop_lag_is_measured_all_the_time(tmp_path: Path) -> None:
    server = LiveServer(tmp_path)

    def lag_probes() -> float:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:
            families = {family.name: family for family in text_string_to_metric_families(response.read().decode())}
        samples = families["pix_event_loop_lag_seconds"].samples
        return next(sample.value for sample in samples if sample.name.endswith("_count"))

    server.start()
    try:
        first = lag_probes()
        wait_for(lambda: lag_probes() >= first + 5)  # one every 0.1 s while the server is idle
    finally:
        server.stop()
