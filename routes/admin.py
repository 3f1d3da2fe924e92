"""/admin: the operator's view (pt-BR): the last hour in numbers, payments by reference and each one's story,
money to act on, and the shop's webhook endpoints; live over Socket.IO. Behind ADMIN_TOKEN (a login form sets it
as a cookie); production mounts it only then."""

import hmac
import secrets
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

import metrics
from db_models.base import now_utc
from extensions import limiter
from jobs.refunds import new_refund_id, request_refund
from pix.api_pix import REFUND_ID
from repository import deliveries, webhook_endpoints
from repository.bank_notices import notice_by_id, notices_needing_action
from repository.operations import find_payments, last_hour, payment_history, refunds_by_notice
from repository.refunds import RefundRefusedError, can_refund, refund_by_id
from routes.json_body import is_plain_text
from routes.operator_access import COOKIE, is_operator, operator_ticket, token_matches

bp = Blueprint("admin", __name__, url_prefix="/admin")
CSRF_COOKIE = "pix_admin_form"  # the form token: a page of another site cannot read it to post as the operator
MAX_REFERENCE = 64
REFUND_NOTE = "Devolução de Pix não aplicado, pedida pela operação"
PAYMENT_STATUS = {"pending": "aguardando", "paid": "pago", "expired": "expirado"}
DELIVERY_STATUS = {"pending": "pendente", "held": "retida", "delivered": "entregue", "dead": "morta"}
REFUND_STATUS = {
    "REQUESTED": "pedida, o PSP ainda não respondeu",
    "EM_PROCESSAMENTO": "em processamento no PSP",
    "DEVOLVIDO": "devolvido",
    "NAO_REALIZADO": "não realizada",
    "RECUSADO": "recusada pelo PSP",
}
NOTICE_ACTIONS = {
    "already_paid": "Devolver o segundo Pix",
    "payment_expired": "Devolver: pago após o prazo",
    "value_mismatch": "Devolver ou cobrar a diferença",
    "payment_not_found": "Conciliar: cobrança desconhecida",
    "invalid": "Ver o aviso bruto (flask pix refused)",
}
REFUND_REFUSALS = {
    "cannot_refund": "Este aviso não tem dinheiro a devolver por aqui.",
    "pix_not_found": "O PSP não conhece este Pix.",
    "refund_too_large": "Este Pix já foi devolvido.",
    "refund_window_closed": "Um Pix só pode ser devolvido até 90 dias depois do pagamento.",
}


def _wrong_token_sent(response: Response) -> bool:
    """A refusal of a request that offered a token, the form's or a cookie's: what a guesser's requests are (an
    operator opening the login page offers none)."""
    return response.status_code == 401 and bool(request.form.get("token") or request.cookies.get(COOKIE))


# Wrong tokens count against the address's budget, however they are sent: guessing ADMIN_TOKEN is slowed.
limiter.shared_limit(
    lambda: current_app.config["PIX_AUTH_FAILURE_RATE_LIMIT"], scope="admin-token", deduct_when=_wrong_token_sent
)(bp)


@bp.before_request
def _operators_only() -> Response | None:
    if request.endpoint != "admin.login" and not is_operator():
        return Response(render_template("admin_login.html", failed=False), 401)
    return None


def _operator_page(template: str, **context: Any) -> str:
    """An operator's page: its labels, its ticket into the operators' room and its form token (never the login's)."""
    labels = {
        "payment_status": PAYMENT_STATUS,
        "refund_status": REFUND_STATUS,
        "delivery_status": DELIVERY_STATUS,
        "notice_actions": NOTICE_ACTIONS,
    }
    return render_template(template, **labels, operator_ticket=operator_ticket(), form_token=_form_token(), **context)


@bp.after_request
def _keep_form_token(response: Response) -> Response:
    if response.status_code == 200 and is_operator():
        response.set_cookie(
            CSRF_COOKIE, _form_token(), httponly=True, samesite="Strict", secure=request.is_secure, path="/admin"
        )
    return response


def _form_token() -> str:
    return request.cookies.get(CSRF_COOKIE) or request.environ.setdefault("pix.admin_form", secrets.token_urlsafe(24))


def _check_form_token() -> None:
    sent, kept = request.form.get("form_token", ""), request.cookies.get(CSRF_COOKIE, "")
    if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        abort(403)


def _refunds_possible() -> bool:
    return getattr(current_app.extensions["pix_provider"], "client", None) is not None


def _with_refunds(notices: list[tuple[Any, list[Any]]]) -> list[tuple[Any, list[Any], bool]]:
    """Each notice with its refunds and whether the operator may refund it from here."""
    possible = _refunds_possible()
    return [(notice, refunds, possible and can_refund(notice, refunds)) for notice, refunds in notices]


@bp.post("/entrar")
def login() -> Response:
    """Check the operator's token and keep it in a cookie only this path is sent."""
    sent = request.form.get("token", "")
    if not token_matches(sent):
        return Response(render_template("admin_login.html", failed=True), 401)
    answer = redirect(url_for("admin.dashboard"))
    answer.set_cookie(COOKIE, sent, httponly=True, samesite="Strict", secure=request.is_secure, path="/admin")
    return answer


@bp.get("/")
def dashboard() -> str:
    """The headline numbers, the latest payments (or those of ?q=, an order_id or txid) and what needs action."""
    sent = request.args.get("q", "").strip()
    # What a database cannot store never reaches it: an odd reference finds nothing.
    reference = sent if 0 < len(sent) <= MAX_REFERENCE and is_plain_text(sent) else None
    stats = webhook_endpoints.endpoint_stats
    notices = notices_needing_action(20)
    refunds = refunds_by_notice([notice.id for notice in notices])
    refund_id = request.args.get("devolucao", "")
    return _operator_page(
        "admin.html",
        redelivered=request.args.get("reenviado", type=int),
        dead_letters=deliveries.dead_letters(limit=20),
        numbers=last_hour(now_utc()),
        pages_waiting=int(metrics.current(metrics.PAGES_SUBSCRIBED)),
        reference=sent,
        payments=find_payments(reference) if reference or not sent else [],
        notices=_with_refunds([(notice, refunds[notice.id]) for notice in notices]),
        refund_sent=refund_by_id(refund_id) if REFUND_ID.fullmatch(refund_id) else None,
        refund_refused=REFUND_REFUSALS.get(request.args.get("devolucao_recusada", "")),
        endpoints=[(endpoint, stats(endpoint.id)) for endpoint in webhook_endpoints.all_endpoints()],
    )


@bp.get("/pagamentos/<row_id:payment_id>")
def payment_page(payment_id: int) -> str:
    """One payment: its references and state, each bank notice with its refunds, each event with its deliveries."""
    history = payment_history(payment_id)
    if history is None:
        abort(404)
    notices = _with_refunds(history.notices)
    return _operator_page("admin_payment.html", payment=history.payment, notices=notices, events=history.events)


@bp.post("/entregas/<row_id:delivery_id>/reenviar")
def redeliver(delivery_id: int) -> Response:
    """Send a dead letter again, from a fresh retry schedule, and come back to the page."""
    _check_form_token()
    deliveries.redeliver(delivery_id)
    return redirect(url_for("admin.dashboard", reenviado=delivery_id))


@bp.post("/avisos/<row_id:notice_id>/devolver")
def refund(notice_id: int) -> Response:
    """Send the money of a notice that could not be applied back to its payer, through the PSP."""
    _check_form_token()
    notice = notice_by_id(notice_id)
    if notice is None:
        abort(404)
    if not _refunds_possible() or not can_refund(notice, refunds_by_notice([notice_id])[notice_id]):
        return redirect(url_for("admin.dashboard", devolucao_recusada="cannot_refund"))
    client = current_app.extensions["pix_provider"].client
    try:
        refund = request_refund(client, notice.idempotency_key, None, REFUND_NOTE, new_refund_id())
    except RefundRefusedError as error:
        return redirect(url_for("admin.dashboard", devolucao_recusada=error.code))
    return redirect(url_for("admin.dashboard", devolucao=refund.refund_id))
