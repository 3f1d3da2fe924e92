"""The shop's JSON API: create payments (idempotently) and find them by order; QR images, status and health."""

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, Response, current_app, g, jsonify, request

import metrics
from db_models.base import now_utc
from db_models.payment import QR_CODE_PREFIX
from extensions import limiter
from live_status import payment_status_json, publish_to_operators
from payloads import payment_json
from pix.psp_client import PspError
from pix.qr import render_qr_png, render_qr_svg
from repository.idempotency import KeyConflictError, claim_key, release_key, remember_answer
from repository.outbox import record_event
from repository.payments import add_payment, database_is_up, get_payment_by_token, payments_of_order
from repository.transactions import transaction
from routes.errors import ApiError
from routes.json_body import is_plain_text, json_object, required_amount
from routes.payment_request import shop_fields

bp = Blueprint("api", __name__)
log = logging.getLogger(__name__)

QR_CACHE_SECONDS = 24 * 60 * 60
MAX_IDEMPOTENCY_KEY = 255


def shop_key_is_valid() -> bool:
    """Whether the request carries SHOP_API_KEY (always, when none is set); checked once per request."""
    if "shop_key_valid" not in g:
        expected = current_app.config["SHOP_API_KEY"]
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ")
        g.shop_key_valid = not expected or hmac.compare_digest(sent.encode(), expected.encode())
    return g.shop_key_valid


@bp.post("/payments/pix")
# Two budgets per address: the shop's own creations, and failed keys, so junk cannot lock the shop out.
@limiter.limit(lambda: current_app.config["PIX_CREATE_RATE_LIMIT"], exempt_when=lambda: not shop_key_is_valid())
@limiter.limit(
    lambda: current_app.config["PIX_AUTH_FAILURE_RATE_LIMIT"], exempt_when=shop_key_is_valid, scope="auth-failures"
)
def create_pix_payment() -> Response:
    """Create a pending payment and return its BR Code, QR image and page URLs; retried safely with Idempotency-Key."""
    if not shop_key_is_valid():
        raise ApiError(401, "invalid_api_key", "send the shop's key as Authorization: Bearer <SHOP_API_KEY>")
    key = _idempotency_key()
    if key is not None:
        try:
            remembered = claim_key(key, hashlib.sha256(request.get_data()).hexdigest(), _keys_kept_for())
        except KeyConflictError as error:
            if error.in_progress:
                raise ApiError(409, "idempotency_key_in_use", "a request with this key is still running") from None
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with another body") from None
        if remembered is not None:
            replay = Response(remembered.body, remembered.status_code, mimetype="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
    try:
        return _create(key)
    except Exception:
        if key is not None:
            release_key(key)  # nothing was created: a retry with the same key may try again
        raise


def _create(key: str | None) -> Response:
    body = json_object()
    value = required_amount(body, "value", current_app.config["PIX_MAX_VALUE"])
    shop = shop_fields(body)
    provider, expires_in = current_app.extensions["pix_provider"], current_app.config["PIX_EXPIRES_IN"]
    # The PSP's deadline runs from when it made the charge: ours runs from before we asked, so it never trails it.
    asked_at = now_utc()
    try:
        charge = provider.issue(value, expires_in, note=shop.description)
    except PspError as error:
        # Nothing was stored: the shop can retry, and no buyer sees a code the PSP does not know.
        log.warning("the PSP could not create a charge: %s", error)
        if error.unavailable:
            raise ApiError(503, "psp_unavailable", f"the PSP is unavailable, try again: {error}") from None
        raise ApiError(502, "psp_error", f"the PSP refused the charge: {error}") from None
    with transaction():  # the payment and the answer remembered for its key commit together
        payment = add_payment(
            value,
            charge,
            provider.name,
            expires_in,
            created_at=asked_at,
            order_id=shop.order_id,
            description=shop.description,
            shop_metadata=shop.metadata,
            return_url=shop.return_url,
        )
        body = payment_json(payment)
        record_event("payment.created", payment, {"payment": body}, told_live=True, sequence=payment.event_sequence)
        metrics.PAYMENTS_CREATED.labels(provider.name).inc()
        answer = jsonify(message="The payment has been created", payment=body)
        answer.status_code = 201
        if key is not None:
            remember_answer(key, 201, answer.get_data(), payment.id)
    publish_to_operators("payment.created", payment)
    return answer


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()):
        message = f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"
        raise ApiError(400, "invalid_idempotency_key", message)
    return key


def _keys_kept_for() -> timedelta:
    return timedelta(hours=current_app.config["PIX_IDEMPOTENCY_HOURS"])


@bp.get("/payments/pix")
def payments_by_order() -> Response:
    """The shop's payments for one of its orders (?order_id=), newest first."""
    if not shop_key_is_valid():
        raise ApiError(401, "invalid_api_key", "send the shop's key as Authorization: Bearer <SHOP_API_KEY>")
    order_id = request.args.get("order_id", "")
    if not 0 < len(order_id) <= 64 or not is_plain_text(order_id):
        raise ApiError(400, "invalid_field", "order_id must be 1 to 64 characters, none of them control", "order_id")
    return jsonify(payments=[payment_json(payment) for payment in payments_of_order(order_id)])


@bp.get("/payments/pix/qr_code/<name>")
def qr_code(name: str) -> Response:
    """The payment's QR code as a PNG, rendered in memory and cached by the browser."""
    return _qr_image(name, render_qr_png, "image/png")


@bp.get("/payments/pix/qr_code/<name>.svg")
def qr_code_svg(name: str) -> Response:
    """The payment's QR code as an SVG of whole modules, which the page scales without making any uneven."""
    return _qr_image(name, render_qr_svg, "image/svg+xml")


def _qr_image(name: str, render: Callable[[str], bytes], mimetype: str) -> Response:
    payment = get_payment_by_token(name.removeprefix(QR_CODE_PREFIX)) if name.startswith(QR_CODE_PREFIX) else None
    if payment is None:
        raise ApiError(404, "qr_code_not_found", "no QR code has this name")
    response = Response(render(payment.pix_copy_paste), mimetype=mimetype)
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
