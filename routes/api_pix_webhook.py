"""The API Pix webhook: the receiving PSP POSTs {"pix": [...]} to <PIX_WEBHOOK_PATH>/pix when charges are paid.

The standard authenticates it with mutual TLS, terminated by the proxy in front (deploy/nginx.conf), which tells
the app whether the PSP's certificate verified; the app believes that only from PIX_MTLS_PROXIES. Platforms
without mTLS use the skip-mTLS mode PSPs document: a secret token in the registered URL (`?hmac=...`), and
optionally a source-address allowlist. Nothing unauthenticated changes state.
"""

import hmac
import logging
from ipaddress import ip_address
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

import metrics
from db_models import NoticeOutcome
from extensions import limiter
from pix.api_pix import InvalidPixItemError, ReceivedPix, item_json, pix_items, read_received_pix
from repository.bank_notices import BankNotice, apply_notice, digest_key, keep_unreadable_notice
from repository.refunds import record_refund_state
from routes.bank_webhooks import tell_if_newly_paid
from routes.errors import ApiError
from routes.json_body import json_object
from routes.throttled_log import ThrottledLog

bp = Blueprint("api_pix", __name__)
log = logging.getLogger(__name__)
unauthenticated = ThrottledLog(log)

API_PIX = "api_pix"
# nginx's $ssl_client_verify, forwarded by deploy/nginx.conf (and overwritten there on every request).
CLIENT_VERIFY_HEADER = "X-SSL-Client-Verify"


def peer_address() -> str:
    """The address of whoever opened the connection: the proxy itself, when there is one."""
    original = request.environ.get("werkzeug.proxy_fix.orig", {})
    return original.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR", "")


def _allowed_source() -> bool:
    allowed = current_app.config["PIX_WEBHOOK_ALLOWED_NETWORKS"]
    if not allowed:
        return True
    try:
        address = ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in allowed)


def psp_is_authenticated() -> bool:
    """Whether the PSP proved who it is, by a verified client certificate or the URL's secret token."""
    if "psp_authenticated" not in g:
        if current_app.config["PIX_WEBHOOK_AUTH"] == "mtls":
            from_proxy = peer_address() in current_app.config["PIX_MTLS_PROXIES"]
            proven = from_proxy and request.headers.get(CLIENT_VERIFY_HEADER) == "SUCCESS"
        else:
            token = current_app.config["PIX_WEBHOOK_TOKEN"] or ""
            proven = bool(token) and hmac.compare_digest(request.args.get("hmac", "").encode(), token.encode())
        g.psp_authenticated = proven and _allowed_source()
    return g.psp_authenticated


# Efí and others append /pix to the registered URL; registering it with `?ignorar=` makes them call it bare.
@bp.post("/pix")
@bp.post("")
@limiter.limit(lambda: current_app.config["PIX_CONFIRM_RATE_LIMIT"], exempt_when=psp_is_authenticated)
def receive_pix() -> Response:
    """Record every Pix of the batch once, apply each to its charge, and answer 200 only when all are kept."""
    if not psp_is_authenticated():
        unauthenticated.warning("refused an unauthenticated API Pix webhook from %s", request.remote_addr)
        metrics.SIGNATURE_FAILURES.labels("api-pix").inc()
        raise ApiError(401, "psp_not_authenticated", "this webhook needs the PSP's client certificate or token")
    try:
        items = pix_items(json_object())
    except (ApiError, InvalidPixItemError) as error:
        keep_unreadable_notice(API_PIX, digest_key(request.get_data()), request.get_data(), str(error))
        raise ApiError(400, "invalid_notice", str(error)) from None
    results = [_take(item) for item in items]
    return jsonify(message=f"{len(results)} Pix received", results=results)


def _take(item: Any) -> dict[str, Any]:
    # One bad item never blocks the others: it is kept as unreadable, and the rest go on.
    raw = item_json(item)
    try:
        pix = read_received_pix(item)
    except InvalidPixItemError as error:
        keep_unreadable_notice(API_PIX, digest_key(raw), raw, str(error))
        return {"outcome": NoticeOutcome.INVALID.value, "error": str(error)}
    result = apply_notice(_notice(pix, raw), current_app.config["PIX_CLOCK_TOLERANCE"])
    tell_if_newly_paid(result)
    for refund in pix.refunds:  # the PSP sends the Pix again when one of its refunds settles
        record_refund_state(refund.refund_id, refund.status, None, value=refund.value, of_pix=pix.end_to_end_id)
    return {"endToEndId": pix.end_to_end_id, "outcome": result.outcome.value}


def _notice(pix: ReceivedPix, raw: bytes) -> BankNotice:
    # A Pix without a txid (static key payments, or a payer PSP that dropped it) names no charge: it is kept
    # as payment_not_found, for the shop to match or refund.
    return BankNotice(API_PIX, pix.end_to_end_id, pix.value, raw, txid=pix.txid, transferred_at=pix.paid_at)
