"""How payments, refunds, notices and webhook deliveries look to the shop: in API answers and in the events sent.

Rendered inside a request, or inside links_context() where there is none (a worker, a CLI); links are built on
PUBLIC_BASE_URL when it is set.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, has_request_context, request, url_for

from db_models import BankNotification, OutboxEvent, Payment, Refund, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from live_status import iso_utc, payment_status_json
from pix.money import from_cents, json_number

_SLOT = "PIXSLOT"  # stands for a payment's token in a cached link; url_for leaves it as it is


def absolute_url(endpoint: str, **values: Any) -> str:
    """A link for the shop: on PUBLIC_BASE_URL when set (workers have no request to take a host from)."""
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    return base + url_for(endpoint, **values)


def _payment_link(endpoint: str, name: str, token: str) -> str:
    """absolute_url(endpoint, name=token) for a URL-safe token, its path built once per script root: every
    creation answers with three of these."""
    paths = current_app.extensions.setdefault("pix_link_paths", {})
    key = (endpoint, request.script_root)
    if key not in paths:
        paths[key] = url_for(endpoint, **{name: _SLOT})
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    return base + paths[key].replace(_SLOT, token)


@contextmanager
def links_context() -> Iterator[None]:
    """A request context to build links in, when there is no request (PUBLIC_BASE_URL, or this server's address)."""
    if has_request_context():
        yield
        return
    base = current_app.config["PUBLIC_BASE_URL"] or current_app.config["LOCAL_BASE_URL"]
    with current_app.test_request_context(base_url=base):
        yield


def payment_json(payment: Payment) -> dict[str, Any]:
    """The full payment for the shop that created it (the course contract plus extensions)."""
    return payment_status_json(payment) | {
        "bank_payment_id": payment.bank_payment_id,
        "txid": payment.txid,
        "order_id": payment.order_id,
        "description": payment.description,
        "metadata": payment.shop_metadata or {},
        "return_url": payment.return_url,
        "qr_code": payment.qr_code,
        "pix_copy_paste": payment.pix_copy_paste,
        "qr_code_url": _payment_link("api.qr_code", "name", payment.qr_code),
        "page_url": _payment_link("pages.payment_page", "token", payment.token),
        "status_url": _payment_link("api.payment_status", "token", payment.token),
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    """A refund as the shop sees it."""
    return {
        "refund_id": refund.refund_id,
        "end_to_end_id": refund.end_to_end_id,
        "payment_id": refund.payment_id,
        "value": json_number(from_cents(refund.value_cents)),
        "status": refund.status,
        "description": refund.description,
        "detail": refund.detail,
        "created_at": iso_utc(refund.created_at),
        "updated_at": iso_utc(refund.updated_at),
    }


def notice_json(notice: BankNotification) -> dict[str, Any]:
    """What the bank said, for the shop: which payment it named, how much, when, and what became of it."""
    return {
        "source": notice.source,
        "message_id": notice.idempotency_key,
        "payment_key": notice.payment_key,
        "value": None if notice.value_cents is None else json_number(from_cents(notice.value_cents)),
        "transferred_at": iso_utc(notice.transferred_at),
        "received_at": iso_utc(notice.received_at),
        "outcome": notice.outcome,
    }


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the shop set it; its secrets and the password or token towards it are never shown here."""
    auth = endpoint.auth and {name: value for name, value in endpoint.auth.items() if name in ("type", "username")}
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "headers": endpoint.headers,
        "auth": None
        if auth is None
        else {"type": auth["type"]} | ({"username": auth["username"]} if "username" in auth else {}),
        "retry_schedule": endpoint.retry_schedule,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso_utc(endpoint.created_at),
        "updated_at": iso_utc(endpoint.updated_at),
    }


def attempt_json(attempt: WebhookAttempt) -> dict[str, Any]:
    """One try: when, the answer's status (None when there was none), how long, the error, the answer's first bytes."""
    return {
        "started_at": iso_utc(attempt.started_at),
        "worker": attempt.worker,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
    }


def delivery_json(
    delivery: WebhookDelivery, event: OutboxEvent | None = None, attempts: list[WebhookAttempt] | None = None
) -> dict[str, Any]:
    """A delivery, with its event's payload and its attempts when given."""
    answer: dict[str, Any] = {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "endpoint_id": delivery.endpoint_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": iso_utc(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "last_error": delivery.last_error,
        "delivered_at": iso_utc(delivery.delivered_at),
        "created_at": iso_utc(delivery.created_at),
    }
    if event is not None:
        answer["event"] = event.payload
    if attempts is not None:
        answer["attempt_log"] = [attempt_json(attempt) for attempt in attempts]
    return answer
