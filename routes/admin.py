"""/admin: the operator's view (pt-BR): the last hour in numbers, payments by reference, money to act on, and the
shop's webhook endpoints. Behind ADMIN_TOKEN (a login form sets it as a cookie); production mounts it only then."""

import hmac
import secrets

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

import metrics
from db_models.base import now_utc
from repository import deliveries, webhook_endpoints
from repository.bank_notices import notices_needing_action
from repository.operations import find_payments, last_hour
from routes.json_body import is_plain_text

bp = Blueprint("admin", __name__, url_prefix="/admin")
COOKIE = "pix_admin"
CSRF_COOKIE = "pix_admin_form"  # the form token: a page of another site cannot read it to post as the operator
MAX_REFERENCE = 64


def _is_operator() -> bool:
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        return True  # development without a token: the operator is whoever runs make run
    sent = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(sent.encode(), token.encode())


@bp.before_request
def _operators_only() -> Response | None:
    if request.endpoint != "admin.login" and not _is_operator():
        return Response(render_template("admin_login.html", failed=False), 401)
    return None


@bp.post("/entrar")
def login() -> Response:
    """Check the operator's token and keep it in a cookie only this path is sent."""
    token = current_app.config["ADMIN_TOKEN"] or ""
    sent = request.form.get("token", "")
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        return Response(render_template("admin_login.html", failed=True), 401)
    answer = redirect(url_for("admin.dashboard"))
    answer.set_cookie(COOKIE, sent, httponly=True, samesite="Strict", secure=request.is_secure, path="/admin")
    return answer


@bp.get("/")
def dashboard() -> Response:
    """The headline numbers, the latest payments (or those of ?q=, an order_id or txid) and what needs action."""
    sent = request.args.get("q", "").strip()
    # What a database cannot store never reaches it: an odd reference finds nothing.
    reference = sent if 0 < len(sent) <= MAX_REFERENCE and is_plain_text(sent) else None
    stats = webhook_endpoints.endpoint_stats
    form_token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    page = render_template(
        "admin.html",
        form_token=form_token,
        redelivered=request.args.get("reenviado", type=int),
        dead_letters=deliveries.dead_letters(limit=20),
        numbers=last_hour(now_utc()),
        pages_waiting=int(metrics.current(metrics.PAGES_SUBSCRIBED)),
        reference=sent,
        payments=find_payments(reference) if reference or not sent else [],
        notices=notices_needing_action(20),
        endpoints=[(endpoint, stats(endpoint.id)) for endpoint in webhook_endpoints.all_endpoints()],
    )
    answer = Response(page)
    answer.set_cookie(
        CSRF_COOKIE, form_token, httponly=True, samesite="Strict", secure=request.is_secure, path="/admin"
    )
    return answer


@bp.post("/entregas/<row_id:delivery_id>/reenviar")
def redeliver(delivery_id: int) -> Response:
    """Send a dead letter again, from a fresh retry schedule, and come back to the page."""
    sent, kept = request.form.get("form_token", ""), request.cookies.get(CSRF_COOKIE, "")
    if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        abort(403)
    deliveries.redeliver(delivery_id)
    return redirect(url_for("admin.dashboard", reenviado=delivery_id))
