"""How payments look in JSON for the shop (the buyer's status view lives in live_status)."""

from typing import Any

from flask import current_app, request, url_for

from db_models import Payment
from live_status import payment_status_json


def absolute_url(endpoint: str, **values: Any) -> str:
    """A link for the shop: on PUBLIC_BASE_URL when set (workers have no request to take a host from)."""
    base = current_app.config["PUBLIC_BASE_URL"] or request.host_url.rstrip("/")
    return base + url_for(endpoint, **values)


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
        "qr_code_url": absolute_url("api.qr_code", name=payment.qr_code),
        "page_url": absolute_url("pages.payment_page", token=payment.token),
        "status_url": absolute_url("api.payment_status", token=payment.token),
    }
