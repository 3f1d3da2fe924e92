"""Issue 11's yardstick: a minimal python-socketio server on uvicorn (httptools) doing a creation's writes and emit
and nothing else, so that bench/request_cost.py can set the checkout beside it on the same machine, in the same run.

    .venv/bin/python bench/reference_server.py PORT DATABASE

A creation here is what one costs the checkout in the database and on Socket.IO: read the shop's endpoints, insert
the payment, its payment.created event and one delivery, commit durably (SQLite in WAL, synchronous=FULL) and tell
the operators' room. There is no validation, BR Code, rate limit, idempotency, metric, log or security header.
"""

import json
import secrets
import sqlite3
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio
import uvicorn

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY, token TEXT UNIQUE, bank_payment_id TEXT UNIQUE, value_cents INTEGER, status TEXT,
    created_at TEXT, expiration_date TEXT);
CREATE TABLE IF NOT EXISTS outbox_events (
    id TEXT PRIMARY KEY, type TEXT, payment_id INTEGER, payload TEXT, created_at TEXT, live_sent_at TEXT);
CREATE TABLE IF NOT EXISTS webhook_endpoints (id INTEGER PRIMARY KEY, enabled INTEGER, event_types TEXT);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY, event_id TEXT, endpoint_id INTEGER, status TEXT, next_attempt_at TEXT);
INSERT OR IGNORE INTO webhook_endpoints VALUES (1, 1, '["*"]');
"""


def serve(port: int, path: str) -> None:
    """Answer POST /payments/pix (and Socket.IO) on 127.0.0.1:port, storing in the SQLite file at path."""
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("PRAGMA synchronous=FULL")
    database.executescript(SCHEMA)
    sio = socketio.AsyncServer(async_mode="asgi")

    def create(value: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        token, bank_payment_id, event_id = secrets.token_urlsafe(24), str(uuid.uuid4()), f"msg_{uuid.uuid4().hex}"
        database.execute("BEGIN IMMEDIATE")
        endpoints = database.execute("SELECT id, enabled, event_types FROM webhook_endpoints").fetchall()
        payment_id = database.execute(
            "INSERT INTO payments (token, bank_payment_id, value_cents, status, created_at, expiration_date)"
            " VALUES (?, ?, ?, 'pending', ?, ?) RETURNING id",
            (token, bank_payment_id, round(value * 100), now.isoformat(), (now + timedelta(minutes=30)).isoformat()),
        ).fetchone()[0]
        payment = {
            "id": payment_id,
            "value": value,
            "bank_payment_id": bank_payment_id,
            "page_url": f"http://127.0.0.1:{port}/payments/pix/{token}",
        }
        payload = json.dumps({"id": event_id, "type": "payment.created", "data": {"payment": payment}})
        database.execute(
            "INSERT INTO outbox_events VALUES (?, 'payment.created', ?, ?, ?, ?)",
            (event_id, payment_id, payload, now.isoformat(), now.isoformat()),
        )
        database.executemany(
            "INSERT INTO webhook_deliveries (event_id, endpoint_id, status, next_attempt_at) VALUES (?, ?, ?, ?)",
            [
                (event_id, endpoint, "pending" if enabled else "held", now.isoformat())
                for endpoint, enabled, _ in endpoints
            ],
        )
        database.execute("COMMIT")
        return payment

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        if scope["method"] == "POST" and scope["path"] == "/payments/pix":
            payment = create(json.loads(body)["value"])
            await sio.emit("operacao", {"type": "payment.created", "payment": payment}, to="operadores")
            status, answer = 201, json.dumps({"payment": payment}).encode()
        else:
            status, answer = 404, b'{"error": "not found"}'
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": answer})

    asgi = socketio.ASGIApp(sio, other_asgi_app=app)
    uvicorn.run(asgi, host="127.0.0.1", port=port, http="httptools", log_level="warning", access_log=False)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
