"""The JSON API: create a payment, the bank's confirmation webhook, QR images, status and health."""

import hmac
import logging

from flask import Blueprint, Response, current_app, g, jsonify, request

from db_models import NoticeOutcome
from db_models.payment import QR_CODE_PREFIX
from extensions import limiter
from live_status import payment_status_json, publish_payment_status
from pix.psp_client import PspError
from pix.qr import render_qr_png
from pix.signatures import InvalidSignatureError, verify_webhook
from repository.bank_notices import BankNotice, apply_notice, idempotency_key, keep_unreadable_notice
from repository.payments import create_payment, database_is_up, get_payment_by_token
from routes.errors import ApiError
from routes.json_body import json_object, required_amount, required_string
from routes.presenters import payment_json
from routes.throttled_log import ThrottledLog

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)
# Anyone can send unsigned junk: say so in the log, but not once per request.
unverified = ThrottledLog(log)

QR_CACHE_SECONDS = 24 * 60 * 60
SIGNED_JSON = "signed_json"
# How a notice that was not applied is answered; the bank retries on anything but 2xx.
REFUSALS = {
    NoticeOutcome.PAYMENT_NOT_FOUND: (404, "payment_not_found", "no payment has this id", "bank_payment_id"),
    NoticeOutcome.VALUE_MISMATCH: (400, "value_mismatch", "value does not match the payment's value", "value"),
    NoticeOutcome.PAYMENT_EXPIRED: (410, "payment_expired", "the payment expired before it was confirmed"),
    NoticeOutcome.INVALID: (400, "invalid_notice", "this webhook-id came before with a body that could not be read"),
}


def shop_key_is_valid() -> bool:
    """Whether the request carries SHOP_API_KEY (always, when none is set); checked once per request."""
    if "shop_key_valid" not in g:
        expected = current_app.config["SHOP_API_KEY"]
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        g.shop_key_valid = not expected or hmac.compare_digest(sent.encode(), expected.encode())
    return g.shop_key_valid


def signature_is_valid() -> bool:
    """Whether the body carries the bank's valid signature; verified once per request, before anything else."""
    if "signature_error" not in g:
        try:
            verify_webhook(current_app.config["PIX_WEBHOOK_SECRET"], request.get_data(), dict(request.headers))
            g.signature_error = None
        except InvalidSignatureError as error:
            g.signature_error = str(error)
    return g.signature_error is None


@bp.post("/payments/pix")
# Two budgets per address: the shop's own creations, and failed keys, so junk cannot lock the shop out.
@limiter.limit(lambda: current_app.config["PIX_CREATE_RATE_LIMIT"], exempt_when=lambda: not shop_key_is_valid())
@limiter.limit(
    lambda: current_app.config["PIX_AUTH_FAILURE_RATE_LIMIT"], exempt_when=shop_key_is_valid, scope="auth-failures"
)
def create_pix_payment() -> tuple[Response, int]:
    """Create a pending payment and return its BR Code, QR image and page URLs."""
    if not shop_key_is_valid():
        raise ApiError(401, "invalid_api_key", "send the shop's key as Authorization: Bearer <SHOP_API_KEY>")
    body = json_object()
    value = required_amount(body, "value", current_app.config["PIX_MAX_VALUE"])
    provider, expires_in = current_app.extensions["pix_provider"], current_app.config["PIX_EXPIRES_IN"]
    try:
        charge = provider.issue(value, expires_in, note=None)
    except PspError as error:
        # Nothing was stored: the shop can retry, and no buyer sees a code the PSP does not know.
        log.warning("the PSP could not create a charge: %s", error)
        if error.unavailable:
            raise ApiError(503, "psp_unavailable", f"the PSP is unavailable, try again: {error}") from None
        raise ApiError(502, "psp_error", f"the PSP refused the charge: {error}") from None
    payment = create_payment(value, charge, provider.name, expires_in)
    return jsonify(message="The payment has been created", payment=payment_json(payment)), 201


@bp.post("/payments/pix/confirmation")
# Only what fails verification counts: unsigned junk never throttles the bank's signed messages.
@limiter.limit(lambda: current_app.config["PIX_CONFIRM_RATE_LIMIT"], exempt_when=signature_is_valid)
def confirm_pix_payment() -> Response:
    """The bank's signed webhook: keep the notice once, mark the payment paid once, tell its waiting page."""
    if not signature_is_valid():
        unverified.warning("refused an unverified confirmation from %s: %s", request.remote_addr, g.signature_error)
        raise ApiError(401, "invalid_signature", "missing, invalid or expired webhook signature")
    notice = read_signed_confirmation()
    result = apply_notice(notice, current_app.config["PIX_CLOCK_TOLERANCE"])
    log.info(
        "bank notice %s: %s%s, payment %s",
        notice.idempotency_key,
        result.outcome,
        " (a repeated message)" if result.replayed else "",
        result.payment.id if result.payment else None,
    )
    if result.outcome in REFUSALS:
        raise ApiError(*REFUSALS[result.outcome])
    if result.outcome == NoticeOutcome.APPLIED and not result.replayed:
        publish_payment_status(result.payment)
        message = "The payment has been confirmed"
    else:
        message = "The payment was already confirmed"
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


@bp.get("/payments/pix/qr_code/<name>")
def qr_code(name: str) -> Response:
    """The payment's QR code as a PNG, rendered in memory and cached by the browser."""
    payment = get_payment_by_token(name.removeprefix(QR_CODE_PREFIX)) if name.startswith(QR_CODE_PREFIX) else None
    if payment is None:
        raise ApiError(404, "qr_code_not_found", "no QR code has this name")
    response = Response(render_qr_png(payment.pix_copy_paste), mimetype="image/png")
    # The name is unguessable and its image never changes, so browsers keep it.
    response.cache_control.private = True
    response.cache_control.max_age = QR_CACHE_SECONDS
    response.cache_control.immutable = True
    response.set_etag(payment.txid)
    return response.make_conditional(request)


@bp.get("/payments/pix/<page_token:token>/status")
def payment_status(token: str) -> Response:
    """The payment's status, for pages whose live connection is down."""
    payment = get_payment_by_token(token)
    if payment is None:
        raise ApiError(404, "payment_not_found", "no payment has this token")
    response = jsonify(payment=payment_status_json(payment))
    response.cache_control.no_store = True
    return response


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Liveness plus whether the database answers, for load balancers and operators."""
    up = database_is_up()
    return jsonify(status="ok" if up else "degraded", database="ok" if up else "unavailable"), 200 if up else 503
