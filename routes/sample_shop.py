"""The demo shop of development: it receives this checkout's webhooks, verifies each, and lists them live.

A newcomer running `make run` sees the whole loop: create, pay, the page turns paid, the shop is told. It is
also what a shop's receiver should do: verify the signature over the raw body first, deduplicate on webhook-id.
"""

import json
from collections import deque
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask_socketio import join_room
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from db_models import WebhookEndpoint
from db_models.base import now_utc
from extensions import socketio
from live_status import iso_utc
from pix.return_link import verify_return
from repository.webhook_endpoints import all_endpoints, create_endpoint, delete_endpoint, live_secrets, update_endpoint

bp = Blueprint("sample_shop", __name__, url_prefix="/demo-shop")
NAMESPACE = "/demo-shop"
EVENT = "shop_event"
ROOM = "demo-shop"
PATH = "/demo-shop/webhooks"
KEPT = 100
STATUS_LABELS = {"pending": "aguardando", "paid": "pago", "expired": "expirado"}


def _received() -> deque:
    return current_app.extensions.setdefault("sample_shop_events", deque(maxlen=KEPT))


def _demo_endpoints() -> list[WebhookEndpoint]:
    """The endpoints that send to a demo shop, oldest first (one, unless an older version piled them up)."""
    return [endpoint for endpoint in all_endpoints() if endpoint.url.endswith(PATH)]


def _verified(body: bytes) -> dict[str, Any] | None:
    """The event, when one of the demo endpoint's secrets signed it; else None."""
    for endpoint in _demo_endpoints():
        for secret in live_secrets(endpoint.secrets, now_utc()):
            try:
                return Webhook(secret["secret"]).verify(body.decode("utf-8", "replace"), dict(request.headers))
            except WebhookVerificationError:
                continue
    return None


def _summary(event: dict[str, Any] | None, body: bytes, verified: bool) -> dict[str, Any]:
    if event is None:
        try:
            event = json.loads(body)
        except ValueError:
            event = None
    event = event if isinstance(event, dict) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    payment = data.get("payment") if isinstance(data.get("payment"), dict) else {}
    status = payment.get("status")
    return {
        "received_at": iso_utc(now_utc()),
        "webhook_id": request.headers.get("webhook-id", "")[:64],
        "type": str(event.get("type", "?"))[:40],
        "payment_id": payment.get("id"),
        "order_id": payment.get("order_id"),
        "status": STATUS_LABELS.get(status) if isinstance(status, str) else None,
        "verified": verified,
    }


@bp.post("/webhooks")
def receive() -> tuple[str, int]:
    """Take one event: verify first, list it (verified or not), and answer 204, or 400 when unverified."""
    body = request.get_data()
    event = _verified(body)
    item = _summary(event, body, event is not None)
    seen = {old["webhook_id"] for old in _received() if old["verified"]}
    item["duplicate"] = event is not None and item["webhook_id"] in seen
    _received().appendleft(item)
    socketio.emit(EVENT, item, to=ROOM, namespace=NAMESPACE)
    return "", 204 if event is not None else 400


@bp.get("/")
def events_page() -> str:
    """The events received so far; new ones appear live."""
    return render_template("demo_shop.html", events=list(_received()))


@bp.get("/retorno")
def return_page() -> str:
    """Where the paid page sends the buyer back: the shop checks the link's signature before saying "paid"."""
    valid = verify_return(request.args, current_app.config["RETURN_URL_KEY"], now_utc())
    return render_template("demo_shop_return.html", valid=valid, query=request.args)


def _watch(_auth: Any = None) -> bool:
    join_room(ROOM)
    return True


def register_sample_shop(app: Flask) -> None:
    """Mount the demo shop and its live namespace (development only: production refuses SAMPLE_SHOP_ENABLED)."""
    app.register_blueprint(bp)
    socketio.on_event("connect", _watch, namespace=NAMESPACE)


def ensure_sample_endpoint(app: Flask) -> None:
    """Keep one demo-shop endpoint, at this server's address: a `make run` on another PORT moves it there."""
    url = app.config["LOCAL_BASE_URL"] + PATH
    with app.app_context():
        endpoints = _demo_endpoints()
        if not endpoints:
            create_endpoint(url=url, description="Loja de demonstração (make run)", event_types=["*"])
            return
        kept, *stale = endpoints
        if kept.url != url:
            update_endpoint(kept, url=url)
        for endpoint in stale:  # each earlier PORT once added one, which retried into a closed port for days
            delete_endpoint(endpoint)
