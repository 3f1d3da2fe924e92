"""The bank's signed confirmation webhook (the course contract's format): verified first, kept once, applied once."""

import logging
import time

from flask import Blueprint, Response, current_app, g, jsonify, request

import metrics
from db_models import NoticeOutcome
from extensions import limiter
from live_status import payment_status_json, publish_event
from pix.signatures import InvalidSignatureError, verify_webhook
from repository.bank_notices import BankNotice, NoticeResult, apply_notice, idempotency_key, keep_unreadable_notice
from routes.errors import ApiError
from routes.json_body import json_object, required_amount, required_string
from routes.throttled_log import ThrottledLog

bp = Blueprint("bank", __name__)
log = logging.getLogger(__name__)
# Anyone can send unsigned junk: say so in the log, but not once per request.
unverified = ThrottledLog(log)

SIGNED_JSON = "signed_json"
# How a notice that was not applied is answered; the bank retries on anything but 2xx.
REFUSALS = {
    NoticeOutcome.PAYMENT_NOT_FOUND: (404, "payment_not_found", "no payment has this id", "bank_payment_id"),
    NoticeOutcome.VALUE_MISMATCH: (400, "value_mismatch", "value does not match the payment's value", "value"),
    NoticeOutcome.PAYMENT_EXPIRED: (410, "payment_expired", "the payment expired before it was confirmed"),
    NoticeOutcome.INVALID: (400, "invalid_notice", "this webhook-id came before with a body that could not be read"),
}


def signature_is_valid() -> bool:
    """Whether the body carries the bank's valid signature; verified once per request, before anything else."""
    if "signature_error" not in g:
        try:
            verify_webhook(current_app.config["PIX_WEBHOOK_SECRET"], request.get_data(), dict(request.headers))
            g.signature_error = None
        except InvalidSignatureError as error:
            g.signature_error = str(error)
    return g.signature_error is None


def tell_if_newly_paid(result: NoticeResult) -> None:
    """The notice just paid its payment: tell its waiting pages (and the operators) now, and time it."""
    if result.newly_paid:
        publish_event("payment.paid", result.payment)
        metrics.CONFIRMATION_TO_EVENT.observe(time.perf_counter() - g.request_started)


@bp.post("/payments/pix/confirmation")
# Only what fails verification counts: unsigned junk never throttles the bank's signed messages.
@limiter.limit(lambda: current_app.config["PIX_CONFIRM_RATE_LIMIT"], exempt_when=signature_is_valid)
def confirm_pix_payment() -> Response:
    """The bank's signed webhook: keep the notice once, mark the payment paid once, tell its waiting page."""
    if not signature_is_valid():
        unverified.warning("refused an unverified confirmation from %s: %s", request.remote_addr, g.signature_error)
        metrics.SIGNATURE_FAILURES.labels("confirmation").inc()
        raise ApiError(401, "invalid_signature", "missing, invalid or expired webhook signature")
    notice = read_signed_confirmation()
    result = apply_notice(notice, current_app.config["PIX_CLOCK_TOLERANCE"])
    if result.outcome in REFUSALS:
        raise ApiError(*REFUSALS[result.outcome])
    tell_if_newly_paid(result)
    message = "The payment has been confirmed" if result.newly_paid else "The payment was already confirmed"
    return jsonify(message=message, payment=payment_status_json(result.payment))


def read_signed_confirmation() -> BankNotice:
    """Today's signed JSON format as a notice; a body that cannot be read is kept before its 4xx."""
    key = idempotency_key(request.headers["webhook-id"])
    try:
        body = json_object()
        bank_payment_id = required_string(body, "bank_payment_id", 64)
        value = required_amount(body, "value", current_app.config["PIX_MAX_VALUE"])
    except ApiError as error:
        keep_unreadable_notice(SIGNED_JSON, key, request.get_data(), error.message)
        raise
    return BankNotice(SIGNED_JSON, key, value, request.get_data(), bank_payment_id=bank_payment_id)
