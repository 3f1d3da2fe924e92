"""How payments look in JSON, for the API and for realtime events."""

from datetime import UTC, datetime
from typing import Any

from flask import url_for

from db_models import Payment
from pix.money import json_number


def iso_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, e.g. 2026-11-22T07:48:03Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def payment_status_json(payment: Payment) -> dict[str, Any]:
    """What a buyer's page may know: the status, sent on subscribe, on change and to pollers."""
    return {
        "id": payment.id,
        "status": payment.current_status().value,
        "paid": payment.paid,
        "value": json_number(payment.value),
        "expiration_date": iso_utc(payment.expiration_date),
        "paid_at": iso_utc(payment.paid_at),
    }


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
