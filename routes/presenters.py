"""How payments look in JSON for the shop's API (the buyer's status view lives in live_status)."""

from typing import Any

from flask import url_for

from db_models import Payment
from live_status import payment_status_json


def payment_json(payment: Payment) -> dict[str, Any]:
    """The full payment for the shop that created it (the course contract plus extensions)."""
    return payment_status_json(payment) | {
        "bank_payment_id": payment.bank_payment_id,
        "txid": payment.txid,
        "qr_code": payment.qr_code,
        "pix_copy_paste": payment.pix_copy_paste,
        "qr_code_url": url_for("api.qr_code", name=payment.qr_code, _external=True),
        "page_url": url_for("pages.payment_page", token=payment.token, _external=True),
        "status_url": url_for("api.payment_status", token=payment.token, _external=True),
    }
