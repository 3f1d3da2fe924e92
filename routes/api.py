"""The JSON API: create a payment, the bank's confirmation webhook, QR images, status and health."""

import hmac
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from db_models.payment import QR_CODE_PREFIX
from extensions import limiter
from pix.qr import render_qr_png
from pix.signatures import InvalidSignatureError, verify_webhook
from repository.payments import (
    TOKEN_LENGTH,
    PaymentExpiredError,
    PaymentNotFoundError,
    ValueMismatchError,
    confirm_payment,
    create_payment,
    database_is_up,
    get_payment_by_token,
)
from routes.errors import ApiError
from routes.json_body import json_object, required_amount, required_string
from routes.presenters import payment_json, payment_status_json
from routes.realtime import publish_payment_status

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)

QR_CACHE_SECONDS = 24 * 60 * 60


def require_shop_key() -> None:
    """Only the shop creates charges in its name: check its bearer key when SHOP_API_KEY is set."""
    expected = current_app.config["SHOP_API_KEY"]
    if not expected:
        return  # development without a key: the demo form creates payments
    sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(401, "invalid_api_key", "send the shop's key as Authorization: Bearer <SHOP_API_KEY>")


@bp.post("/payments/pix")
@limiter.limit(lambda: current_app.config["PIX_CREATE_RATE_LIMIT"])
def create_pix_payment() -> tuple[Response, int]:
    """Create a pending payment and return its BR Code, QR image and page URLs."""
    require_shop_key()
    body = json_object()
    value = required_amount(body, "value", current_app.config["PIX_MAX_VALUE"])
    payment = create_payment(value, current_app.config["PIX_MERCHANT"], current_app.config["PIX_EXPIRES_IN"])
    return jsonify(message="The payment has been created", payment=payment_json(payment)), 201


@bp.post("/payments/pix/confirmation")
# Only refused requests count: junk from a shared address must not use up the bank's budget.
@limiter.limit(
    lambda: current_app.config["PIX_CONFIRM_RATE_LIMIT"], deduct_when=lambda response: response.status_code >= 400
)
def confirm_pix_payment() -> Response:
    """The bank's signed webhook: mark the payment paid once and tell its waiting page."""
    raw = request.get_data()
    try:
        verify_webhook(current_app.config["PIX_WEBHOOK_SECRET"], raw, dict(request.headers))
    except InvalidSignatureError as error:
        log.warning("refused an unverified confirmation from %s: %s", request.remote_addr, error)
        raise ApiError(401, "invalid_signature", "missing, invalid or expired webhook signature") from None
    body = json_object()
    bank_payment_id = required_string(body, "bank_payment_id", 64)
    value = required_amount(body, "value", current_app.config["PIX_MAX_VALUE"])
    try:
        confirmation = confirm_payment(bank_payment_id, value, request.headers["webhook-id"])
    except PaymentNotFoundError:
        raise ApiError(404, "payment_not_found", "no payment has this bank_payment_id", "bank_payment_id") from None
    except ValueMismatchError:
        raise ApiError(400, "value_mismatch", "value does not match the payment's value", "value") from None
    except PaymentExpiredError:
        log.warning("confirmation for expired payment %s refused", bank_payment_id)
        raise ApiError(410, "payment_expired", "the payment expired before it was confirmed") from None
    if confirmation.transitioned:
        log.info("payment %s confirmed", confirmation.payment.id)
        publish_payment_status(confirmation.payment)
        message = "The payment has been confirmed"
    else:
        message = "The payment was already confirmed"
    return jsonify(message=message, payment=payment_status_json(confirmation.payment))


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


@bp.get(f"/payments/pix/<string(length={TOKEN_LENGTH}):token>/status")
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
