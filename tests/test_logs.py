"""Logs an operator can search: JSON lines with the request's id, one per bank notice and per webhook attempt,
and never a secret, a token or a page URL."""

import json
import re
import urllib.request
from pathlib import Path

from flask.testing import FlaskClient

from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, sign_webhook
from tests.cluster import wait_for
from tests.live_server import LiveServer
from tests.receiver import Receiver

SHOP_KEY = "shop-key-3q9Zr7LmV2xKp8NwT4bYc6"
ENDPOINT_TOKEN = "endpoint-token-Hs83kPq1Zm"


def test_a_request_id_is_taken_when_sane_made_otherwise_and_echoed(client: FlaskClient) -> None:
    assert client.get("/health", headers={"X-Request-ID": "lb-7f3a.1:2"}).headers["X-Request-ID"] == "lb-7f3a.1:2"
    for odd in ("two words", "x" * 129, "ação", ""):
        made = client.get("/health", headers={"X-Request-ID": odd}).headers["X-Request-ID"]
        assert re.fullmatch("[0-9a-f]{32}", made)
    assert client.get("/health").headers["X-Request-ID"] != client.get("/health").headers["X-Request-ID"]


def test_a_live_flow_logs_json_lines_with_ids_one_per_notice_and_attempt_and_no_secret(tmp_path: Path) -> None:
    settings = {"LOG_FORMAT": "json", "PIX_WORKER_IN_SERVER": "true", "SHOP_API_KEY": SHOP_KEY}
    settings |= {"SAMPLE_SHOP_ENABLED": "false"}  # only our receiver is told
    server = LiveServer(tmp_path, **settings)
    shop = {"Authorization": f"Bearer {SHOP_KEY}", "Content-Type": "application/json"}
    with Receiver() as receiver:
        server.start()
        try:
            endpoint = {"url": receiver.url, "auth": {"type": "bearer", "token": ENDPOINT_TOKEN}}
            status, created = server.request("POST", "/webhooks/endpoints", json.dumps(endpoint).encode(), shop)
            assert status == 201
            body = json.dumps({"value": 12, "order_id": "pedido-77"}).encode()
            status, answer = server.request("POST", "/payments/pix", body, shop | {"X-Request-ID": "req-create"})
            payment = answer["payment"]
            urllib.request.urlopen(payment["page_url"], timeout=10).close()
            signed = {}
            for request_id, value in (("req-wrong", 1), ("req-confirm", 12), ("req-again", None)):
                if value is not None:  # "req-again" sends the bank's last message again, as a bank retry does
                    notice = json.dumps({"bank_payment_id": payment["bank_payment_id"], "value": value}).encode()
                    signed = sign_webhook(DEVELOPMENT_WEBHOOK_SECRET, notice) | {"Content-Type": "application/json"}
                server.request("POST", "/payments/pix/confirmation", notice, signed | {"X-Request-ID": request_id})
            # payment.created and payment.paid, each recorded (and logged) by the worker after its answer
            wait_for(lambda: server.log_path.read_text().count('"status_code": 200') == 2, timeout=15)
        finally:
            server.stop()
    text = server.log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]

    notices = [line for line in lines if line["logger"] == "repository.bank_notices"]
    assert [(n["request_id"], n["outcome"], n["repeated"]) for n in notices] == [
        ("req-wrong", "value_mismatch", False),
        ("req-confirm", "applied", False),
        ("req-again", "applied", True),
    ]
    applied = notices[1]
    assert applied["payment_id"] == payment["id"] and applied["txid"] == payment["txid"]
    assert applied["order_id"] == "pedido-77" and applied["message_id"] and applied["level"] == "INFO"
    attempts = [line for line in lines if line["logger"] == "jobs.deliveries" and "attempt" in line]
    assert (
        sorted((a["payment_id"], a["status_code"], a["outcome"]) for a in attempts)
        == [(payment["id"], 200, "delivered")] * 2
    )
    created_line = [line for line in lines if line["logger"] == "pix.http" and line["request_id"] == "req-create"]
    assert [(c["route"], c["status"]) for c in created_line] == [("/payments/pix", 201)]

    token = payment["page_url"].rsplit("/", 1)[1]
    for secret in (token, SHOP_KEY, ENDPOINT_TOKEN, created["secret"], DEVELOPMENT_WEBHOOK_SECRET, "hmac="):
        assert secret not in text
