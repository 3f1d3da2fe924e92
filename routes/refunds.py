"""The shop's refunds API: send money back to a payer, through the PSP, for a Pix the checkout received."""

from flask import Blueprint, Response, current_app, jsonify

from db_models import RefundStatus
from extensions import limiter
from jobs.refunds import new_refund_id, request_refund
from payloads import refund_json
from pix.api_pix import END_TO_END_ID, REFUND_ID
from repository.refunds import RefundRefusedError, refund_by_id
from routes.api import shop_key_is_valid
from routes.errors import ApiError
from routes.json_body import json_object, optional_string, required_amount, required_string

bp = Blueprint("refunds", __name__)


def _shop_only() -> None:
    if not shop_key_is_valid():
        raise ApiError(401, "invalid_api_key", "send the shop's key as Authorization: Bearer <SHOP_API_KEY>")


@bp.post("/payments/pix/refunds")
@limiter.limit(
    lambda: current_app.config["PIX_AUTH_FAILURE_RATE_LIMIT"], exempt_when=shop_key_is_valid, scope="auth-failures"
)
def create_refund() -> tuple[Response, int]:
    """Refund (part of) a received Pix; the same refund_id again answers with the same refund."""
    _shop_only()
    client = getattr(current_app.extensions["pix_provider"], "client", None)
    if client is None:
        raise ApiError(409, "refunds_unavailable", "refunds go through the PSP: set PIX_PROVIDER=api-pix")
    body = json_object()
    end_to_end_id = required_string(body, "end_to_end_id", 32)
    if not END_TO_END_ID.fullmatch(end_to_end_id):
        raise ApiError(400, "invalid_field", "end_to_end_id must be 32 letters and digits", "end_to_end_id")
    refund_id = optional_string(body, "refund_id", 35) or new_refund_id()
    if not REFUND_ID.fullmatch(refund_id):
        raise ApiError(400, "invalid_field", "refund_id must be 1 to 35 letters and digits", "refund_id")
    amount = required_amount(body, "value", current_app.config["PIX_MAX_VALUE"]) if "value" in body else None
    description = optional_string(body, "description", 140)
    try:
        refund = request_refund(client, end_to_end_id, amount, description, refund_id)
    except RefundRefusedError as error:
        raise ApiError(404 if error.code == "pix_not_found" else 422, error.code, str(error)) from None
    # 202 while the PSP has not taken it yet: it is kept, and reconciliation sends it again.
    return jsonify(refund=refund_json(refund)), 202 if refund.status == RefundStatus.REQUESTED else 201


@bp.get("/payments/pix/refunds/<refund_id>")
def refund_status(refund_id: str) -> Response:
    """A refund's current state."""
    _shop_only()
    refund = refund_by_id(refund_id) if REFUND_ID.fullmatch(refund_id) else None
    if refund is None:
        raise ApiError(404, "refund_not_found", "no refund has this refund_id")
    return jsonify(refund=refund_json(refund))
